"""Start and end logits of an answer span over the tokens (extractive QA)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class SpanHead(keras.layers.Layer):
    """One dense layer from each token's vector to its start and end logits.

    BERT's SQuAD head: a `[hidden, 2]` kernel (Hugging Face's `qa_outputs`,
    Google's `cls/squad/output_weights`), no dropout; logits are float32
    whatever the compute dtype, so the softmax over the sequence is exact.

    Example:

    >>> logits = SpanHead()(ops.ones((2, 7, 16)))
    >>> logits["start_logits"].shape, logits["end_logits"].shape
    ((2, 7), (2, 7))
    """

    def __init__(self, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            2,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )

    def build(self, sequence_shape):
        self.dense.build(sequence_shape)
        self.built = True

    def call(self, sequence_output):
        logits = ops.cast(self.dense(sequence_output), "float32")
        return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}

    def compute_output_spec(self, sequence_output):
        # Two distinct tensors: a functional graph tells outputs apart by identity.
        shape = tuple(sequence_output.shape[:-1])
        return {name: keras.KerasTensor(shape, "float32") for name in ("start_logits", "end_logits")}

    def get_config(self):
        config = super().get_config()
        config.update(initializer_range=self.initializer_range)
        return config
