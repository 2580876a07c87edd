"""keras-hub BERT <-> this package, with random weights, both ways."""

import warnings

import keras_hub
import numpy as np
import pytest
from support.parity import (
    assert_same_weights,
    bert_batch,
    encoder_inputs,
    max_error,
    max_errors,
)

import keras_bert_impl as kbi
from keras_bert_impl.convert.keras_hub import (
    from_keras_hub,
    load_keras_hub_preset,
    save_keras_hub_preset,
    to_keras_hub,
)

SIZES = dict(vocabulary_size=53, num_layers=2, num_heads=4, hidden_dim=32,
             intermediate_dim=48, max_sequence_length=24, num_segments=2, dropout=0.0)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(48)]


def _randomise(model, seed):
    # Initial biases and LayerNorms are 0/1; make every variable distinct so
    # that a swapped mapping would show.
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(
            np.asarray(variable.numpy()) + rng.normal(0, 0.05, variable.shape).astype("float32")
        )
    return model


def _hub_masked_lm(seed=0):
    return _randomise(keras_hub.models.BertMaskedLM(keras_hub.models.BertBackbone(**SIZES)), seed)


def test_backbone_from_keras_hub_and_back():
    hub_backbone = _randomise(keras_hub.models.BertBackbone(**SIZES), seed=0)
    backbone = from_keras_hub(hub_backbone)
    assert backbone.config.hidden_act == "gelu_approximate"
    assert backbone.config.layer_norm_eps == 1e-12
    inputs = encoder_inputs(bert_batch(SIZES["vocabulary_size"], seq_len=10))
    expected = hub_backbone.predict_on_batch(inputs)
    ours = backbone.predict_on_batch(inputs)
    errors = max_errors(ours, expected)
    print("keras-hub backbone -> keras:", errors)
    assert max(errors.values()) < 1e-5, errors

    hub_again = to_keras_hub(backbone)
    assert_same_weights(hub_backbone.weights, hub_again.weights)
    # Same weights in the same keras-hub graph: the round trip is exact.
    assert max_errors(hub_again.predict_on_batch(inputs), expected) == dict.fromkeys(expected, 0.0)


def test_masked_lm_from_keras_hub_and_back():
    hub_masked_lm = _hub_masked_lm()
    pretrainer = from_keras_hub(hub_masked_lm)
    assert isinstance(pretrainer, kbi.BertPretrainer) and not pretrainer.nsp
    batch = bert_batch(SIZES["vocabulary_size"], seq_len=10)
    expected = hub_masked_lm.predict_on_batch(batch)
    mlm = pretrainer.predict_on_batch(batch)["mlm"]
    error = max_error(mlm, expected)
    # keras-hub's MLM head uses the exact GELU and LayerNorm epsilon 1e-5,
    # unlike its backbone; the converted head is built with the same choices.
    assert pretrainer.mlm_head.hidden_act == "gelu"
    assert pretrainer.mlm_head.layer_norm_eps == 1e-5
    print("keras-hub masked LM -> keras, MLM logits max |diff|:", error,
          "of logit scale", float(np.abs(expected).max()))
    assert error < 1e-5
    assert (mlm.argmax(-1) == expected.argmax(-1)).all()

    with warnings.catch_warnings():
        # Nothing changes on the way back: no "Converting to keras-hub changes" warning.
        warnings.filterwarnings("error", message="Converting to keras-hub")
        hub_again = to_keras_hub(pretrainer)
    assert_same_weights(hub_masked_lm.weights, hub_again.weights)
    assert max_error(hub_again.predict_on_batch(batch), expected) == 0.0


def test_erf_gelu_model_to_keras_hub_warns_and_differs_slightly():
    config = kbi.BertConfig(vocab_size=53, hidden_size=32, num_layers=2, num_heads=4,
                            intermediate_size=48, max_position_embeddings=24,
                            hidden_dropout=0.0, attention_dropout=0.0)
    pretrainer = kbi.BertPretrainer(kbi.bert_backbone(config), nsp=True)
    _randomise(pretrainer, seed=3)
    with pytest.warns(UserWarning, match="approximate GELU.*NSP head"):
        hub_masked_lm = to_keras_hub(pretrainer)
    batch = bert_batch(SIZES["vocabulary_size"], seq_len=10)
    ours = pretrainer.backbone.predict_on_batch(encoder_inputs(batch))
    theirs = hub_masked_lm.backbone.predict_on_batch(encoder_inputs(batch))
    error = max_error(ours["sequence_output"], theirs["sequence_output"])
    print("erf-GELU keras -> keras-hub, sequence_output max |diff|:", error)
    assert 0 < error < 1e-2


def test_preset_folder_round_trip(tmp_path):
    pretrainer = from_keras_hub(_hub_masked_lm(seed=5))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    save_keras_hub_preset(pretrainer, str(tmp_path / "preset"), str(vocab), lowercase=False)
    loaded, vocab_file, lowercase = load_keras_hub_preset(str(tmp_path / "preset"))
    assert isinstance(loaded, kbi.BertPretrainer)
    assert open(vocab_file).read().split() == VOCAB
    assert lowercase is False
    assert_same_weights(pretrainer.weights, loaded.weights, compare_paths=False)
    with pytest.raises(FileExistsError):
        save_keras_hub_preset(pretrainer, str(tmp_path / "preset"))


def test_backbone_preset_saved_by_keras_hub(tmp_path):
    hub_backbone = _randomise(keras_hub.models.BertBackbone(**SIZES), seed=6)
    hub_backbone.save_to_preset(str(tmp_path / "preset"))
    backbone, vocab_file, lowercase = load_keras_hub_preset(str(tmp_path / "preset"))
    assert isinstance(backbone, kbi.BertBackbone)
    assert vocab_file is None and lowercase is None
    inputs = encoder_inputs(bert_batch(SIZES["vocabulary_size"], seq_len=10))
    expected = hub_backbone.predict_on_batch(inputs)["sequence_output"]
    assert max_error(backbone.predict_on_batch(inputs)["sequence_output"], expected) < 1e-5
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_keras_hub_preset(str(tmp_path))
