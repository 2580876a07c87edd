"""Parity with transformers' BERT: the proof that this package computes BERT."""

import numpy as np
import pytest
from support.deps import require
from support.hf import hf_outputs, random_hf_pretraining_model, transformers
from support.parity import bert_batch, encoder_inputs, max_errors

import keras_bert_impl as kbi

safetensors_numpy = require("safetensors.numpy")

CONFIGS = {
    "two_layers_gelu": dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64, type_vocab_size=2,
        hidden_act="gelu",
    ),
    "three_layers_wide_heads": dict(
        vocab_size=211, hidden_size=48, num_hidden_layers=3, num_attention_heads=3,
        intermediate_size=96, max_position_embeddings=40, type_vocab_size=3,
        hidden_act="gelu", layer_norm_eps=1e-6,
    ),
}


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("safe_serialization", [True, False], ids=["safetensors", "bin"])
def test_pretrainer_matches_transformers(tmp_path, config_name, safe_serialization):
    hf_config = CONFIGS[config_name]
    hf_model = random_hf_pretraining_model(hf_config)
    hf_model.save_pretrained(tmp_path, safe_serialization=safe_serialization)
    batch = bert_batch(hf_config["vocab_size"], num_segments=hf_config["type_vocab_size"])
    reference = hf_outputs(hf_model, batch)

    pretrainer = kbi.load_huggingface_pretrainer(str(tmp_path))
    assert pretrainer.nsp
    outputs = pretrainer.predict_on_batch(batch)
    encoded = pretrainer.backbone.predict_on_batch(encoder_inputs(batch))
    errors = max_errors({**encoded, **outputs}, reference)
    print(config_name, errors)
    assert max(errors.values()) < 1e-5, errors


def test_backbone_load_warns_about_heads_and_matches(tmp_path):
    hf_model = random_hf_pretraining_model(CONFIGS["two_layers_gelu"])
    hf_model.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match="cls.seq_relationship.weight"):
        backbone = kbi.load_huggingface(str(tmp_path))
    batch = bert_batch(99)
    reference = hf_outputs(hf_model, batch)
    encoded = backbone.predict_on_batch(encoder_inputs(batch))
    assert np.abs(encoded["sequence_output"] - reference["sequence_output"]).max() < 1e-5


def test_save_huggingface_round_trips_through_transformers(tmp_path):
    hf_model = random_hf_pretraining_model(CONFIGS["three_layers_wide_heads"], seed=3)
    hf_model.save_pretrained(tmp_path / "source")
    pretrainer = kbi.load_huggingface_pretrainer(str(tmp_path / "source"))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n")
    kbi.save_huggingface(pretrainer, str(tmp_path / "exported"), vocab_file=str(vocab))
    assert (tmp_path / "exported" / "vocab.txt").read_text() == "[PAD]\n[UNK]\n"

    reloaded = transformers.BertForPreTraining.from_pretrained(tmp_path / "exported").eval()
    batch = bert_batch(211, num_segments=3)
    errors = max_errors(hf_outputs(reloaded, batch), hf_outputs(hf_model, batch))
    assert max(errors.values()) < 1e-6, errors
    with pytest.raises(FileExistsError):
        kbi.save_huggingface(pretrainer, str(tmp_path / "exported"))


def test_missing_tensor_is_named(tmp_path):
    hf_model = random_hf_pretraining_model(CONFIGS["two_layers_gelu"])
    hf_model.save_pretrained(tmp_path)
    tensors = safetensors_numpy.load_file(tmp_path / "model.safetensors")
    del tensors["bert.encoder.layer.1.output.dense.bias"]
    safetensors_numpy.save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"bert\.encoder\.layer\.1\.output\.dense\.bias"):
        kbi.load_huggingface(str(tmp_path))


def test_misshaped_tensor_is_named(tmp_path):
    hf_model = random_hf_pretraining_model(CONFIGS["two_layers_gelu"])
    hf_model.save_pretrained(tmp_path)
    tensors = safetensors_numpy.load_file(tmp_path / "model.safetensors")
    tensors["bert.pooler.dense.bias"] = np.zeros(31, dtype="float32")
    safetensors_numpy.save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"bert\.pooler\.dense\.bias"):
        kbi.load_huggingface(str(tmp_path))


def test_missing_weights_file_is_named(tmp_path):
    transformers.BertConfig(**CONFIGS["two_layers_gelu"]).save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        kbi.load_huggingface(str(tmp_path))
