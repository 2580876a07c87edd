"""Tests for keras_bert_impl.training.strategy (one process, two logical CPUs)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_impl.training import multi_worker_compat
from keras_bert_impl.training import strategy as strategy_lib

# tests/training is on sys.path (pytest rootdir-relative import, no __init__).
import multi_worker_fit_worker as tiny_fit  # noqa: E402

NUM_BERT_STEPS = 3
BERT_BATCH_SIZE = 4
BERT_SEQUENCE_LENGTH = 8


@pytest.fixture(autouse=True)
def _no_leaked_keras_patch():
    """Takes out the multi-worker patch any test here applied (directly or
    through get_strategy("multi_worker")), so later tests run stock Keras."""
    yield
    multi_worker_compat.remove_multi_worker_fixes()
    assert not multi_worker_compat.multi_worker_fixes_applied()


@pytest.fixture
def tf_config(monkeypatch):
    """Sets TF_CONFIG to the JSON of a value, or to a raw string."""

    def set_config(value):
        raw = value if isinstance(value, str) else json.dumps(value)
        monkeypatch.setenv("TF_CONFIG", raw)

    monkeypatch.delenv("TF_CONFIG", raising=False)
    return set_config


def _two_workers(task_type="worker", index=0, **cluster_extra):
    return {
        "cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"], **cluster_extra},
        "task": {"type": task_type, "index": index},
    }


def test_mirrored_uses_both_logical_cpus():
    strategy = strategy_lib.get_strategy("mirrored")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 2


def test_cpu_is_one_device():
    strategy = strategy_lib.get_strategy("cpu")
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
    assert strategy.num_replicas_in_sync == 1


def test_auto_without_accelerators_is_default_strategy(tf_config):
    strategy = strategy_lib.get_strategy("auto")
    assert strategy is tf.distribute.get_strategy()
    assert strategy_lib.is_chief(strategy)


def test_gpu_strategy_needs_a_gpu():
    if tf.config.list_logical_devices("GPU"):
        assert isinstance(strategy_lib.get_strategy("gpu"), tf.distribute.OneDeviceStrategy)
        return
    with pytest.raises(ValueError, match="'gpu' needs a GPU"):
        strategy_lib.get_strategy("gpu")


@pytest.mark.parametrize("name", ["mirrorred", "", "horovod"])
def test_unknown_name_lists_the_known_ones(name):
    with pytest.raises(ValueError, match="expected one of auto, cpu, gpu"):
        strategy_lib.get_strategy(name)


@pytest.mark.parametrize("name", ["parameter_server", "ps", "Parameter-Server"])
def test_parameter_server_name_is_unsupported(name):
    with pytest.raises(ValueError, match="does not support ParameterServerStrategy"):
        strategy_lib.get_strategy(name)


@pytest.mark.parametrize(
    "config",
    [
        _two_workers(ps=["127.0.0.1:3"]),
        {"cluster": {"worker": ["127.0.0.1:1"], "ps": ["127.0.0.1:2"]},
         "task": {"type": "ps", "index": 0}},
    ],
)
def test_parameter_server_tf_config_is_unsupported(tf_config, config):
    tf_config(config)
    for name in ("auto", "multi_worker"):
        with pytest.raises(ValueError, match="parameter-server jobs"):
            strategy_lib.get_strategy(name)


@pytest.mark.parametrize(
    "config, message",
    [
        ("{not json", "TF_CONFIG is not valid JSON"),
        ("[1, 2]", "must be a JSON object, got list"),
        ({"task": {"type": "worker", "index": 0}}, "field 'cluster' is None"),
        ({"cluster": {"worker": ["127.0.0.1:1"]}}, "field 'task' is None"),
        (
            {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker"}},
            "field 'task' is",
        ),
        (_two_workers(index=2), r"'task.index' is 2; expected an integer in \[0, 2\)"),
        (_two_workers(index="0"), "'task.index' is '0'"),
        (_two_workers(task_type="chief"), "'task.type' is 'chief', which is not"),
        (
            {"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}},
            "'cluster.worker' is \\[\\]",
        ),
    ],
)
def test_malformed_tf_config_names_the_problem(tf_config, config, message):
    tf_config(config)
    with pytest.raises(ValueError, match=message):
        strategy_lib.get_strategy("multi_worker")


def test_valid_tf_config_is_returned(tf_config):
    tf_config(_two_workers(index=1))
    assert strategy_lib.read_tf_config()["task"] == {"type": "worker", "index": 1}


def test_global_batch_size_must_split_over_replicas():
    strategy = strategy_lib.get_strategy("mirrored")
    assert strategy_lib.check_global_batch_size(8, strategy) == 4
    with pytest.raises(ValueError, match="7 is not divisible by the 2 replicas"):
        strategy_lib.check_global_batch_size(7, strategy)
    with pytest.raises(ValueError, match="positive integer"):
        strategy_lib.check_global_batch_size(0, strategy)


def test_single_process_writes_where_asked(tmp_path):
    strategy = strategy_lib.get_strategy("mirrored")
    assert strategy_lib.is_chief(strategy)
    target = str(tmp_path / "model.keras")
    assert strategy_lib.output_path_for_worker(target, strategy) == target
    assert strategy_lib.per_worker_dir(str(tmp_path), strategy) == str(tmp_path)


def _keras_trainer_functions():
    trainer = multi_worker_compat.keras_trainer_module()
    return trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica


def test_multi_worker_fixes_are_idempotent_and_removable():
    stock = _keras_trainer_functions()
    assert not multi_worker_compat.multi_worker_fixes_applied()
    assert multi_worker_compat.apply_multi_worker_fixes()
    patched = _keras_trainer_functions()
    assert all(a is not b for a, b in zip(patched, stock))
    assert multi_worker_compat.apply_multi_worker_fixes()
    assert _keras_trainer_functions() == patched
    assert multi_worker_compat.multi_worker_fixes_applied()

    assert multi_worker_compat.remove_multi_worker_fixes()
    assert _keras_trainer_functions() == stock
    assert not multi_worker_compat.multi_worker_fixes_applied()
    assert not multi_worker_compat.remove_multi_worker_fixes()


def test_multi_worker_fixes_skip_unverified_keras(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    before = _keras_trainer_functions()
    # Another Keras may lay its private modules out differently: the guard
    # must come before any import of them.
    monkeypatch.setattr(multi_worker_compat, "_TRAINER_MODULE", "keras.src.moved.trainer")
    with pytest.warns(UserWarning, match="verified on Keras 3.15.1, not 3.99.0"):
        assert not multi_worker_compat.apply_multi_worker_fixes()
    assert not multi_worker_compat.multi_worker_fixes_applied()
    monkeypatch.undo()
    assert _keras_trainer_functions() == before


def test_mirrored_fit_matches_single_device_dense():
    _, single_losses = tiny_fit.train(tf.distribute.get_strategy())
    _, mirrored_losses = tiny_fit.train(strategy_lib.get_strategy("mirrored"))
    assert len(mirrored_losses) == tiny_fit.NUM_STEPS
    np.testing.assert_allclose(mirrored_losses, single_losses, rtol=0, atol=1e-6)


def _bert_batches():
    rng = np.random.default_rng(0)
    shape = (BERT_BATCH_SIZE * NUM_BERT_STEPS, BERT_SEQUENCE_LENGTH)
    lengths = rng.integers(3, BERT_SEQUENCE_LENGTH + 1, size=shape[0])
    padding_mask = (np.arange(shape[1])[None, :] < lengths[:, None]).astype("int32")
    features = {
        "token_ids": rng.integers(5, 50, size=shape).astype("int32") * padding_mask,
        "segment_ids": (np.arange(shape[1])[None, :] >= lengths[:, None] // 2)
        .astype("int32") * padding_mask,
        "padding_mask": padding_mask,
    }
    labels = rng.integers(0, 2, size=shape[0]).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    return dataset.batch(BERT_BATCH_SIZE, drop_remainder=True).repeat()


def _fit_bert_classifier(strategy, initial_weights):
    from keras_bert_impl.config import BertConfig
    from keras_bert_impl.models import BertClassifier, bert_backbone

    config = BertConfig.preset(
        "bert_tiny",
        vocab_size=50,
        hidden_size=16,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=BERT_SEQUENCE_LENGTH,
        hidden_dropout=0.0,
        attention_dropout=0.0,
    )
    with strategy.scope():
        classifier = BertClassifier(bert_backbone(config), num_classes=2)
        if initial_weights is not None:
            classifier.set_weights(initial_weights)
        classifier.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5))
    weights = classifier.get_weights()
    recorder = tiny_fit.LossPerStep()
    classifier.fit(
        _bert_batches(),
        epochs=NUM_BERT_STEPS,
        steps_per_epoch=1,
        callbacks=[recorder],
        shuffle=False,
        verbose=0,
    )
    return weights, recorder.losses


def test_mirrored_fit_matches_single_device_bert_classifier():
    weights, single_losses = _fit_bert_classifier(tf.distribute.get_strategy(), None)
    _, mirrored_losses = _fit_bert_classifier(
        strategy_lib.get_strategy("mirrored"), weights
    )
    assert len(mirrored_losses) == NUM_BERT_STEPS
    np.testing.assert_allclose(mirrored_losses, single_losses, rtol=0, atol=1e-6)
