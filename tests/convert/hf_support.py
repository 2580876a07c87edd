"""A random transformers BERT the converter tests check against (torch on CPU)."""

import torch
import transformers


def random_hf_pretraining_model(hf_config, seed=0):
    """A `BertForPreTraining` in eval mode with every tensor perturbed.

    Random init leaves biases and LayerNorms at 0/1; perturbing every tensor
    makes a wrong or swapped mapping of any of them show in the outputs.
    """
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **hf_config
    )
    model = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return model
