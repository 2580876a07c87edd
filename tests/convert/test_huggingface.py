"""Parity with transformers' BERT: the proof that this package computes BERT."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import keras_bert_impl as kbi  # noqa: E402
from hf_support import random_hf_pretraining_model  # noqa: E402

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


def _batch(vocab_size, type_vocab_size, seed=1):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(0, vocab_size, size=(3, 12)).astype("int32")
    # Two segments, and padding of different lengths in each row.
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, 6:] = type_vocab_size - 1
    padding_mask = np.ones_like(token_ids)
    padding_mask[1, 9:] = 0
    padding_mask[2, 4:] = 0
    mask_positions = np.array([[1, 5, 7], [0, 2, 8], [3, 1, 2]], dtype="int32")
    return {
        "token_ids": token_ids,
        "segment_ids": segment_ids,
        "padding_mask": padding_mask,
        "mask_positions": mask_positions,
    }


def _hf_outputs(model, batch):
    with torch.no_grad():
        out = model.bert(
            input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
        )
        sequence = out.last_hidden_state
        mlm, nsp = model.cls(sequence, out.pooler_output)
    positions = batch["mask_positions"]
    mlm = mlm.numpy()[np.arange(len(positions))[:, None], positions]
    return {
        "sequence_output": sequence.numpy(),
        "pooled_output": out.pooler_output.numpy(),
        "mlm": mlm,
        "nsp": nsp.numpy(),
    }


def _max_errors(ours, reference):
    return {name: float(np.abs(np.asarray(ours[name]) - reference[name]).max()) for name in ours}


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("safe_serialization", [True, False], ids=["safetensors", "bin"])
def test_pretrainer_matches_transformers(tmp_path, config_name, safe_serialization):
    hf_config = CONFIGS[config_name]
    hf_model = random_hf_pretraining_model(hf_config)
    hf_model.save_pretrained(tmp_path, safe_serialization=safe_serialization)
    batch = _batch(hf_config["vocab_size"], hf_config["type_vocab_size"])
    reference = _hf_outputs(hf_model, batch)

    pretrainer = kbi.load_huggingface_pretrainer(str(tmp_path))
    assert pretrainer.nsp
    outputs = pretrainer.predict_on_batch(batch)
    encoded = pretrainer.backbone.predict_on_batch(
        {k: batch[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    )
    errors = _max_errors({**encoded, **outputs}, reference)
    print(config_name, errors)
    assert max(errors.values()) < 1e-5, errors


def test_backbone_load_warns_about_heads_and_matches(tmp_path):
    hf_model = random_hf_pretraining_model(CONFIGS["two_layers_gelu"])
    hf_model.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match="cls.seq_relationship.weight"):
        backbone = kbi.load_huggingface(str(tmp_path))
    batch = _batch(99, 2)
    reference = _hf_outputs(hf_model, batch)
    encoded = backbone.predict_on_batch(
        {k: batch[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    )
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
    batch = _batch(211, 3)
    errors = _max_errors(_hf_outputs(reloaded, batch), _hf_outputs(hf_model, batch))
    assert max(errors.values()) < 1e-6, errors
    with pytest.raises(FileExistsError):
        kbi.save_huggingface(pretrainer, str(tmp_path / "exported"))


def test_missing_tensor_is_named(tmp_path):
    from safetensors.numpy import load_file, save_file

    hf_model = random_hf_pretraining_model(CONFIGS["two_layers_gelu"])
    hf_model.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    del tensors["bert.encoder.layer.1.output.dense.bias"]
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"bert\.encoder\.layer\.1\.output\.dense\.bias"):
        kbi.load_huggingface(str(tmp_path))


def test_misshaped_tensor_is_named(tmp_path):
    from safetensors.numpy import load_file, save_file

    hf_model = random_hf_pretraining_model(CONFIGS["two_layers_gelu"])
    hf_model.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    tensors["bert.pooler.dense.bias"] = np.zeros(31, dtype="float32")
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"bert\.pooler\.dense\.bias"):
        kbi.load_huggingface(str(tmp_path))


def test_missing_weights_file_is_named(tmp_path):
    transformers.BertConfig(**CONFIGS["two_layers_gelu"]).save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        kbi.load_huggingface(str(tmp_path))
