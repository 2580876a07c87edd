"""The activations a BERT config may name."""

import keras


def get_activation(name):
    """Returns the activation function for a `BertConfig.hidden_act` value.

    `"gelu"` is the exact erf form of original BERT and Hugging Face;
    `"gelu_approximate"` is the tanh form keras-hub uses.
    """
    if name == "gelu":
        return lambda x: keras.activations.gelu(x, approximate=False)
    if name == "gelu_approximate":
        return lambda x: keras.activations.gelu(x, approximate=True)
    if name == "relu":
        return keras.activations.relu
    raise ValueError(f"Unknown activation {name!r}.")
