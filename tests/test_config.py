import json

import pytest

from keras_bert_impl import PRESETS, BertConfig


@pytest.mark.parametrize(
    "name, layers, hidden",
    [
        ("bert_tiny", 2, 128),
        ("bert_mini", 4, 256),
        ("bert_small", 4, 512),
        ("bert_medium", 8, 512),
        ("bert_base", 12, 768),
        ("bert_large", 24, 1024),
    ],
)
def test_presets_follow_the_bert_family_rules(name, layers, hidden):
    config = BertConfig.preset(name)
    assert (config.num_layers, config.hidden_size) == (layers, hidden)
    assert config.num_heads == hidden // 64
    assert config.intermediate_size == 4 * hidden
    assert config.hidden_act == "gelu"
    assert name in PRESETS


def test_preset_overrides_and_unknown_preset():
    assert BertConfig.preset("bert_tiny", vocab_size=50).vocab_size == 50
    with pytest.raises(ValueError, match="bert_huge"):
        BertConfig.preset("bert_huge")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("hidden_size", 129, "hidden_size=129 must be divisible by num_heads=2"),
        ("num_layers", 0, "num_layers"),
        ("vocab_size", -5, "vocab_size"),
        ("intermediate_size", 1.5, "intermediate_size"),
        ("hidden_act", "swish", "hidden_act"),
        ("hidden_dropout", 1.0, "hidden_dropout"),
        ("layer_norm_eps", 0, "layer_norm_eps"),
    ],
)
def test_invalid_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        BertConfig.preset("bert_tiny", **{field: value})


def test_config_is_frozen():
    config = BertConfig.preset("bert_tiny")
    with pytest.raises(Exception):
        config.hidden_size = 64


def test_huggingface_json_round_trip(tmp_path):
    config = BertConfig.preset("bert_mini", vocab_size=1234, hidden_act="gelu_approximate")
    path = tmp_path / "config.json"
    config.save_json_file(path)
    written = json.loads(path.read_text())
    assert written["num_hidden_layers"] == 4
    assert written["attention_probs_dropout_prob"] == 0.1
    assert written["hidden_act"] == "gelu_pytorch_tanh"
    assert BertConfig.from_json_file(path) == config


def test_reads_google_bert_config_without_layer_norm_eps(tmp_path):
    google = {
        "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
        "intermediate_size": 3072, "max_position_embeddings": 512,
        "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2,
        "vocab_size": 30522,
    }
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(google))
    config = BertConfig.from_json_file(path)
    assert config == BertConfig.preset("bert_base")


def test_bad_json_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        BertConfig.from_json_file(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        BertConfig.from_json_file(broken)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"vocab_size": 10}))
    with pytest.raises(ValueError, match="hidden_size"):
        BertConfig.from_json_file(partial)
