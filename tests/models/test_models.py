import keras
import numpy as np
import pytest

from keras_bert_impl import BertClassifier, BertConfig, BertPretrainer, bert_backbone
from keras_bert_impl.models import rebuild_backbone

# One layer: each test traces a train function, and its cost grows with the depth.
CONFIG = BertConfig.preset(
    "bert_tiny", vocab_size=60, num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64,
    max_position_embeddings=24,
)


def _inputs(batch=4, seq=10, seed=0):
    rng = np.random.default_rng(seed)
    padding_mask = np.ones((batch, seq), "int32")
    padding_mask[0, 7:] = 0
    return {
        "token_ids": rng.integers(5, 60, (batch, seq)).astype("int32"),
        "segment_ids": (np.arange(seq) >= seq // 2).astype("int32")[None].repeat(batch, 0),
        "padding_mask": padding_mask,
    }


def test_backbone_has_named_dict_inputs_and_outputs_and_any_length():
    backbone = bert_backbone(CONFIG)
    required = [tensor.name for tensor in backbone.inputs if not tensor._keras_history[0].optional]
    assert sorted(required) == ["padding_mask", "segment_ids", "token_ids"]
    for seq in (3, 24):
        out = backbone(_inputs(seq=seq))
        assert out["sequence_output"].shape == (4, seq, 32)
        assert out["pooled_output"].shape == (4, 32)


def test_bert_backbone_accepts_a_preset_name():
    assert bert_backbone("bert_tiny").config == BertConfig.preset("bert_tiny")


def test_rebuild_backbone_keeps_the_weights_and_changes_only_dropout_or_precision():
    backbone = bert_backbone(CONFIG.replace(hidden_dropout=0.0, attention_dropout=0.0))
    in_bfloat16 = rebuild_backbone(backbone, dtype="mixed_bfloat16")
    assert (in_bfloat16.config, in_bfloat16.dtype_policy.name) == (backbone.config, "mixed_bfloat16")
    assert in_bfloat16.get_layer("encoder_layer_0").compute_dtype == "bfloat16"
    for rebuilt_weight, weight in zip(in_bfloat16.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(rebuilt_weight, weight)
    rebuilt = rebuild_backbone(backbone, dropout=0.5)
    assert rebuilt.config == CONFIG.replace(hidden_dropout=0.5, attention_dropout=0.5)
    assert rebuilt.dtype_policy.name == "float32"
    inputs = _inputs()
    # Inference runs no dropout: the same weights give the same outputs.
    np.testing.assert_array_equal(
        backbone(inputs)["sequence_output"].numpy(), rebuilt(inputs)["sequence_output"].numpy()
    )
    # In training the new rate zeroes about half of what it drops from.
    dropped = rebuilt.embeddings(inputs["token_ids"], inputs["segment_ids"], training=True)
    assert 0.4 < float(np.mean(dropped.numpy() == 0)) < 0.6


def _mlm_data(nsp, seed=0):
    x = _inputs(batch=8, seed=seed)
    x["mask_positions"] = np.tile(np.array([[1, 3, 0]], "int32"), (8, 1))
    y = {"mlm": np.tile(np.array([[7, 9, 0]], "int32"), (8, 1))}
    weights = {"mlm": np.tile(np.array([[1, 1, 0]], "float32"), (8, 1))}
    if nsp:
        y["nsp"] = np.arange(8) % 2
        weights["nsp"] = np.ones(8, "float32")
    return x, y, weights


@pytest.mark.parametrize("nsp", [False, True])
def test_pretrainer_learns_and_round_trips_as_keras_file(tmp_path, nsp):
    pretrainer = BertPretrainer(bert_backbone(CONFIG), nsp=nsp)
    pretrainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, y, weights = _mlm_data(nsp)
    history = pretrainer.fit(x, y, sample_weight=weights, epochs=30, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["mlm_accuracy"][-1] == 1.0
    path = tmp_path / "pretrainer.keras"
    pretrainer.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, BertPretrainer) and loaded.nsp == nsp
    for name, value in pretrainer.predict_on_batch(x).items():
        np.testing.assert_allclose(loaded.predict_on_batch(x)[name], value, atol=1e-6)
    # The optimizer state comes back too, so training continues where it was.
    assert loaded.optimizer.iterations.numpy() == pretrainer.optimizer.iterations.numpy()
    loaded.fit(x, y, sample_weight=weights, epochs=1, verbose=0)


def test_padded_mask_positions_neither_add_nor_dilute_the_loss():
    pretrainer = BertPretrainer(bert_backbone(CONFIG))
    pretrainer.compile()
    x, y, weights = _mlm_data(nsp=False)
    full = pretrainer.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    # Change the label at the padded slot and add more padded slots: no effect.
    y_changed = {"mlm": y["mlm"].copy()}
    y_changed["mlm"][:, 2] = 42
    changed = pretrainer.evaluate(x, y_changed, sample_weight=weights, verbose=0, return_dict=True)
    assert abs(full["loss"] - changed["loss"]) < 1e-6
    logits = pretrainer.predict_on_batch(x)["mlm"][:, :2]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_probs, y["mlm"][:, :2, None], -1).mean()
    assert abs(full["loss"] - expected) < 1e-4


@pytest.mark.parametrize("pooling", ["pooled", "mean"])
def test_classifier_learns_and_round_trips(tmp_path, pooling):
    # Seeded: unseeded, the initial weights depended on what earlier tests drew.
    keras.utils.set_random_seed(0)
    classifier = BertClassifier(bert_backbone(CONFIG), num_classes=3, dropout=0.0, pooling=pooling)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = _inputs(batch=6)
    y = np.array([0, 1, 2, 0, 1, 2])
    history = classifier.fit(x, y, epochs=20, verbose=0).history
    assert history["accuracy"][-1] == 1.0
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(tmp_path / "classifier.keras")
    assert (loaded.num_classes, loaded.pooling) == (3, pooling)
    np.testing.assert_allclose(loaded.predict_on_batch(x), classifier.predict_on_batch(x), atol=1e-6)


def test_a_classifier_saved_before_pooling_existed_reads_the_pooled_output():
    config = BertClassifier(bert_backbone(CONFIG), num_classes=2).get_config()
    del config["pooling"]
    assert BertClassifier.from_config(config).pooling == "pooled"


def test_classifier_rejects_bad_num_classes():
    with pytest.raises(ValueError, match="num_classes"):
        BertClassifier(bert_backbone(CONFIG), num_classes=1)
    with pytest.raises(ValueError, match="pooling='max'"):
        BertClassifier(bert_backbone(CONFIG), num_classes=2, pooling="max")


@pytest.mark.parametrize("pooling", ["pooled", "mean"])
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_models_train_under_mixed_precision(policy, pooling):
    keras.mixed_precision.set_global_policy(policy)
    try:
        classifier = BertClassifier(bert_backbone(CONFIG), num_classes=2, pooling=pooling)
        classifier.compile(optimizer=keras.optimizers.Adam(1e-3))
        x = _inputs(batch=4)
        history = classifier.fit(x, np.array([0, 1, 0, 1]), epochs=3, verbose=0).history
        assert np.isfinite(history["loss"]).all()
        assert classifier.predict_on_batch(x).dtype == np.float32
        if policy == "mixed_float16":
            assert isinstance(classifier.optimizer, keras.optimizers.LossScaleOptimizer)
    finally:
        keras.mixed_precision.set_global_policy("float32")
