import functools

import keras
import numpy as np
import pytest

from keras_bert_impl import BertClassifier, BertConfig, bert_backbone
from keras_bert_impl.training.optimization import (
    NO_DECAY_NAMES,
    WarmupLinearDecay,
    create_optimizer,
)


def test_schedule_warms_up_linearly_then_decays_linearly_to_zero():
    schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    values = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 150)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)
    clone = WarmupLinearDecay.from_config(schedule.get_config())
    assert float(clone(55)) == pytest.approx(5e-4)


def test_schedule_rejects_impossible_lengths():
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupLinearDecay(1e-3, total_steps=10, warmup_steps=20)


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_weight_decay_skips_layer_norms_and_biases(name):
    model = BertClassifier(
        bert_backbone(BertConfig.preset("bert_tiny", vocab_size=50, hidden_size=32, num_heads=2,
                                        intermediate_size=64)),
        num_classes=2,
    )
    optimizer = create_optimizer(1e-4, total_steps=10, optimizer=name)
    optimizer.build(model.trainable_variables)
    decayed = {v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)}
    not_decayed = {v.path for v in model.trainable_variables} - decayed
    assert all(p.endswith(("gamma", "beta", "bias")) for p in not_decayed), not_decayed
    assert any(p.endswith("qkv_bias") for p in not_decayed)
    assert all(p.endswith(("kernel", "embeddings")) for p in decayed), decayed
    assert optimizer.global_clipnorm == 1.0


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_beta_2_reaches_the_optimizer_and_its_config(name):
    optimizer = create_optimizer(1e-4, total_steps=10, optimizer=name, beta_2=0.98)
    assert optimizer.beta_2 == 0.98
    assert type(optimizer).from_config(optimizer.get_config()).beta_2 == 0.98
    assert create_optimizer(1e-4, total_steps=10, optimizer=name).beta_2 == 0.999


def test_unknown_optimizer_and_bad_rate():
    with pytest.raises(ValueError, match="sgd"):
        create_optimizer(1e-4, 10, optimizer="sgd")
    with pytest.raises(ValueError, match="learning_rate"):
        create_optimizer(0.0, 10)
    with pytest.raises(ValueError, match="beta_2"):
        create_optimizer(1e-4, 10, beta_2=1.0)


def _tiny_classifier():
    keras.utils.set_random_seed(1)
    config = BertConfig.preset(
        "bert_tiny", vocab_size=50, hidden_size=32, num_heads=2, intermediate_size=64,
        hidden_dropout=0.0, attention_dropout=0.0,
    )
    return BertClassifier(bert_backbone(config), num_classes=2)


def _losses(strategy, optimizer_name, make_optimizer=create_optimizer):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(5, 50, (8, 12)).astype("int32"),
        "segment_ids": np.zeros((8, 12), "int32"),
        "padding_mask": np.ones((8, 12), "int32"),
    }
    y = rng.integers(0, 2, 8).astype("int32")
    dataset = tf.data.Dataset.from_tensors((x, y)).repeat(5)
    with strategy.scope():
        model = _tiny_classifier()
        # A tiny clip norm makes every step clip, so per-replica clipping shows.
        model.compile(optimizer=make_optimizer(1e-2, 5, 0.0, optimizer_name))
        model.optimizer.global_clipnorm = 1e-3
    return model.fit(dataset, epochs=1, verbose=0, shuffle=False).history["loss"], model


@functools.cache
def _single_device_run(optimizer_name):
    """The reference run, shared: one replica never reaches the overridden hooks."""
    import tensorflow as tf

    return _losses(tf.distribute.get_strategy(), optimizer_name)


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_mirrored_run_clips_like_one_device(name):
    import tensorflow as tf

    from keras_bert_impl.training.strategy import get_strategy

    single, single_model = _single_device_run(name)
    mirrored, mirrored_model = _losses(get_strategy("mirrored"), name)
    assert get_strategy("mirrored").num_replicas_in_sync == 2
    np.testing.assert_allclose(mirrored, single, atol=1e-6)
    assert len(single_model.weights) == len(mirrored_model.weights)
    for a, b in zip(single_model.weights, mirrored_model.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, err_msg=a.path)


def _keras_adamw(*args):
    """Keras' own AdamW with the same settings as `create_optimizer`'s."""
    keras_optimizer = keras.optimizers.AdamW.from_config(create_optimizer(*args).get_config())
    keras_optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return keras_optimizer


def test_keras_own_clipping_still_differs_under_mirrored():
    """Guards the override: when Keras clips the summed gradient itself, this
    test fails and `ClipSummedGradients` should go."""
    from keras_bert_impl.training.strategy import get_strategy

    single, _ = _single_device_run("adamw")
    mirrored, _ = _losses(get_strategy("mirrored"), "adamw", _keras_adamw)
    assert np.abs(np.subtract(mirrored, single)).max() > 1e-4, (single, mirrored)


def test_multi_replica_run_on_unverified_keras_is_refused(monkeypatch):
    from keras_bert_impl.training.strategy import get_strategy

    monkeypatch.setattr(keras, "__version__", "3.99.0")
    create_optimizer(1e-4, 10)  # one replica: Keras' own hooks do the work
    with get_strategy("mirrored").scope():
        with pytest.raises(RuntimeError, match=r"verified on keras>=3.15,<3.16; this is Keras 3.99.0"):
            create_optimizer(1e-4, 10)
