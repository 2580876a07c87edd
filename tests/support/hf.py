"""A random transformers BERT and its outputs, the reference the converters match.

Importing this module requires torch and transformers (see `deps.require`).
"""

import numpy as np

from support.deps import require

torch = require("torch")
transformers = require("transformers")


def random_hf_pretraining_model(hf_config, seed=0):
    """A `BertForPreTraining` in eval mode with every tensor perturbed.

    Random init leaves biases and LayerNorms at 0/1; perturbing every tensor
    makes a wrong or swapped mapping of any of them show in the outputs.

    Args:
        hf_config: keyword arguments of `transformers.BertConfig`.
        seed: the torch seed of the initial and perturbed weights.
    """
    return random_hf_model(transformers.BertForPreTraining, hf_config, seed)


def random_hf_model(model_class, hf_config, seed=0):
    """Any transformers BERT model class, built and perturbed as above."""
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **hf_config
    )
    model = model_class(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return model


def hf_outputs(model, batch):
    """A `BertForPreTraining`'s outputs on a `parity.bert_batch`, named as ours.

    Returns:
        A dict of numpy arrays: sequence_output, pooled_output, mlm (logits at
        the batch's mask_positions) and nsp.
    """
    with torch.no_grad():
        encoded = model.bert(
            input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
        )
        mlm, nsp = model.cls(encoded.last_hidden_state, encoded.pooler_output)
    positions = batch["mask_positions"]
    rows = np.arange(len(positions))[:, None]
    return {
        "sequence_output": encoded.last_hidden_state.numpy(),
        "pooled_output": encoded.pooler_output.numpy(),
        "mlm": mlm.numpy()[rows, positions],
        "nsp": nsp.numpy(),
    }
