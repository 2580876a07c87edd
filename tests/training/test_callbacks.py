"""Backups that survive damage and signals, NaN stops, and float16 loss scaling.

A two-layer Dense model keeps each fit to a fraction of a second; the CLI
tests (tests/cli/test_reliability.py) repeat the important cases on BERT.
"""

import json
import os
import signal
import time

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_impl.training import callbacks as callbacks_module
from keras_bert_impl.training.callbacks import (
    AtomicBackupAndRestore,
    NonFiniteLossError,
    StopOnNonFiniteLoss,
    backup_batches,
    read_backup_position,
    start_fit_at_epoch,
    training_callbacks,
    wait_for_unfinished_backup,
)
from keras_bert_impl.training.optimization import create_optimizer
from keras_bert_impl.training.signals import StopRequest, TrainingInterrupted

STEPS_PER_EPOCH, EPOCHS, BATCH = 4, 3, 8


def make_model(seed=0, hidden=(8,)):
    keras.utils.set_random_seed(seed)
    layers = [keras.layers.Dense(width, activation="tanh") for width in hidden]
    model = keras.Sequential([keras.Input((6,)), *layers, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def data(nan_at_step=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS_PER_EPOCH * BATCH, 6)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    if nan_at_step is not None:
        x[nan_at_step * BATCH] = np.nan
    return x, y


def fit(model, backup_dir, callbacks=(), epochs=EPOCHS, nan_at_step=None, stop=None):
    x, y = data(nan_at_step)
    return model.fit(
        x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
        callbacks=[StopOnNonFiniteLoss(), AtomicBackupAndRestore(str(backup_dir), stop=stop), *callbacks],
    )


class AtStep(keras.callbacks.Callback):
    """Calls `action(model)` after a given global step."""

    def __init__(self, step, action):
        super().__init__()
        self.step, self.action = step, action

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            self.action(self.model)


def crash(model):
    """Interrupts training by raising (a crash)."""
    raise RuntimeError("crash")


def poison_first_kernel(model):
    """Turns the first layer's kernel NaN."""
    kernel = model.layers[0].kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))


class FakeStop:
    """A StopRequest that is 'signalled' once the model reaches a step."""

    def __init__(self, model, step):
        self.model, self.step = model, step
        self.signal_number = None

    @property
    def requested(self):
        if int(self.model.optimizer.iterations.numpy()) >= self.step:
            self.signal_number = signal.SIGTERM
        return self.signal_number is not None

    @property
    def signal_name(self):
        return "SIGTERM"


def array_offset(path):
    """Byte offset in the file of the data of its largest array."""
    with h5py.File(path, "r") as f:
        datasets = []
        f.visititems(lambda name, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None)
        return max(datasets, key=lambda d: d.size).id.get_offset()


def crash_after(backup_dir, step, wait=True):
    """Crashes a fit after `step`; with `wait`, waits for its last backup's thread, as one
    reading the folder after a crash must (`wait_for_unfinished_backup`)."""
    model = make_model()
    with pytest.raises(RuntimeError, match="crash"):
        fit(model, backup_dir, callbacks=[AtStep(step, crash)])
    if wait:
        wait_for_unfinished_backup(str(backup_dir))
    return model


def slow_down_backup_threads(monkeypatch, seconds, failures=()):
    """Each backup's thread sleeps `seconds` first, then raises the error in `failures`
    (a list the test may fill while training runs) if there is one."""
    real_fsync_tree = callbacks_module.fsync_tree

    def slow_fsync_tree(path):
        time.sleep(seconds)
        if failures:
            raise failures[0]
        real_fsync_tree(path)

    monkeypatch.setattr(callbacks_module, "fsync_tree", slow_fsync_tree)


def test_a_fit_after_a_crash_mid_backup_waits_for_that_backup(tmp_path, monkeypatch, capsys):
    # As in a notebook: fit raises while its last backup still finishes on
    # its thread, and the next fit on the folder starts at once.
    slow_down_backup_threads(monkeypatch, seconds=1.0)
    crash_after(tmp_path, step=2 * STEPS_PER_EPOCH + 1, wait=False)
    capsys.readouterr()
    model = make_model(seed=1)
    fit(model, tmp_path)
    assert "resuming from backup at epoch 2" in capsys.readouterr().err
    assert int(model.optimizer.iterations.numpy()) == EPOCHS * STEPS_PER_EPOCH


def test_the_resume_position_is_read_after_a_crashed_fit_finishes_its_backup(tmp_path, monkeypatch):
    # What the CLI does before a rerun's fit (pretrain and finetune skip
    # that many batches): it must see the backup the crashed fit was finishing.
    slow_down_backup_threads(monkeypatch, seconds=0.5)
    crash_after(tmp_path, step=2 * STEPS_PER_EPOCH + 1, wait=False)
    assert backup_batches(str(tmp_path), STEPS_PER_EPOCH) == 2 * STEPS_PER_EPOCH


def test_a_failed_unfinished_backup_is_a_warning_and_the_one_before_is_kept(tmp_path, monkeypatch, capsys):
    failures = []
    slow_down_backup_threads(monkeypatch, seconds=0.3, failures=failures)

    def fail_the_backup_then_crash(model):
        failures.append(OSError("disk full"))
        crash(model)

    with pytest.raises(RuntimeError, match="crash"):
        fit(make_model(), tmp_path, callbacks=[AtStep(2 * STEPS_PER_EPOCH + 1, fail_the_backup_then_crash)])
    capsys.readouterr()
    wait_for_unfinished_backup(str(tmp_path))
    assert "backup left unfinished by a fit that raised has failed (disk full)" in capsys.readouterr().err
    assert read_backup_position(str(tmp_path / "latest.weights.h5"))["epoch"] == 1
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


def test_backups_carry_their_position_and_a_crash_resumes_from_the_last(tmp_path, monkeypatch):
    # The last backup is still finishing on its thread when fit raises:
    # crash_after's wait_for_unfinished_backup makes it whole before the reads.
    slow_down_backup_threads(monkeypatch, seconds=0.3)
    crash_after(tmp_path, step=2 * STEPS_PER_EPOCH + 1)
    latest = tmp_path / "latest.weights.h5"
    assert read_backup_position(str(latest)) == {"epoch": 2, "steps": 0, "steps_per_epoch": STEPS_PER_EPOCH}
    assert read_backup_position(str(tmp_path / "previous.weights.h5"))["epoch"] == 1
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]

    model = make_model(seed=1)
    history = fit(model, tmp_path)
    assert len(history.history["loss"]) == EPOCHS - 2
    assert int(model.optimizer.iterations.numpy()) == EPOCHS * STEPS_PER_EPOCH


@pytest.mark.parametrize("hidden", [(8, 8), (16,)], ids=["deeper", "wider"])
def test_a_backup_of_another_model_is_an_error_not_a_silent_partial_load(tmp_path, hidden):
    # Keras would load the first block of a deeper model's backup and ignore the rest.
    crash_after(tmp_path, step=STEPS_PER_EPOCH + 1)
    other = make_model(hidden=hidden)
    with pytest.raises(ValueError, match=r"latest.weights.h5 is a backup of another model \(4 weights, 65 "
                       r"parameters\) than this run builds \((6 weights, 137|4 weights, 129) parameters\)"):
        fit(other, tmp_path)
    assert int(other.optimizer.iterations.numpy()) == 0


def _classifier(pooling="mean", backbone_dropout=0.1):
    from keras_bert_impl import BertClassifier, BertConfig, bert_backbone

    keras.utils.set_random_seed(0)
    config = BertConfig.preset("bert_tiny", vocab_size=40, num_layers=1, hidden_size=16, num_heads=2,
                               intermediate_size=32, max_position_embeddings=16,
                               hidden_dropout=backbone_dropout, attention_dropout=backbone_dropout)
    model = BertClassifier(bert_backbone(config), num_classes=2, pooling=pooling)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def _fit_classifier(model, backup_dir, callbacks=()):
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(5, 40, (16, 8)).astype("int32"),
         "segment_ids": np.zeros((16, 8), "int32"), "padding_mask": np.ones((16, 8), "int32")}
    y = rng.integers(0, 2, 16).astype("int32")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[AtomicBackupAndRestore(str(backup_dir)), *callbacks])


@pytest.mark.parametrize("other, differences", [
    ({"pooling": "pooled"}, r"pooling \(--pooling\) 'mean' there, 'pooled' here"),
    # The head's dropout follows the backbone's by default.
    ({"backbone_dropout": 0.0}, r"attention_dropout \(--dropout\) 0.1 there, 0.0 here; "
                                r"dropout \(--dropout\) 0.1 there, 0.0 here; "
                                r"hidden_dropout \(--dropout\) 0.1 there, 0.0 here"),
], ids=["pooling", "backbone_dropout"])
def test_a_backup_of_a_classifier_with_other_settings_is_an_error(tmp_path, capsys, other, differences):
    # Mean pooling and dropout have no weights: the shapes alone match.
    with pytest.raises(RuntimeError, match="crash"):
        _fit_classifier(_classifier(), tmp_path, [AtStep(3, crash)])
    refused = _classifier(**other)
    with pytest.raises(ValueError, match=r"latest.weights.h5 is a backup of a model with other settings "
                       rf"\({differences}\): resume with the flags it was trained with"):
        _fit_classifier(refused, tmp_path)
    assert int(refused.optimizer.iterations.numpy()) == 0
    capsys.readouterr()
    _fit_classifier(_classifier(), tmp_path)  # the same settings resume
    assert "resuming from backup" in capsys.readouterr().err


def test_a_backup_from_before_a_setting_was_recorded_still_resumes(tmp_path, capsys):
    with pytest.raises(RuntimeError, match="crash"):
        _fit_classifier(_classifier(), tmp_path, [AtStep(3, crash)])
    wait_for_unfinished_backup(str(tmp_path))
    # As an older version wrote it: without the backbone's dropout rates.
    with h5py.File(tmp_path / "latest.weights.h5", "r+") as f:
        settings = json.loads(f.attrs["backup_task"])
        del settings["hidden_dropout"], settings["attention_dropout"]
        f.attrs["backup_task"] = json.dumps(settings)
    capsys.readouterr()
    _fit_classifier(_classifier(), tmp_path)
    assert "resuming from backup" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["truncate", "flip_bytes", "garbage", "leftover_temp"])
def test_damaged_latest_backup_is_named_and_the_previous_one_used(tmp_path, damage, capsys):
    crash_after(tmp_path, step=2 * STEPS_PER_EPOCH + 1)
    latest = tmp_path / "latest.weights.h5"
    content = latest.read_bytes()
    if damage == "truncate":
        latest.write_bytes(content[: len(content) // 2])
    elif damage == "flip_bytes":
        # Flip bytes inside an array's data: HDF5 itself does not notice.
        raw = bytearray(content)
        offset = array_offset(latest)
        for i in range(offset, offset + 16):
            raw[i] ^= 0xFF
        latest.write_bytes(bytes(raw))
    elif damage == "garbage":
        latest.write_bytes(b"not an hdf5 file")
    else:
        # A kill during a backup write leaves only a temporary file behind.
        (tmp_path / ".tmp-123.weights.h5").write_bytes(content[:100])
    model = make_model(seed=1)
    history = fit(model, tmp_path)
    err = capsys.readouterr().err
    resumed_epoch = 2 if damage == "leftover_temp" else 1
    if damage != "leftover_temp":
        assert f"warning: damaged backup {latest}: " in err and "using the previous one" in err
    assert f"resuming from backup at epoch {resumed_epoch}" in err
    assert len(history.history["loss"]) == EPOCHS - resumed_epoch
    assert int(model.optimizer.iterations.numpy()) == EPOCHS * STEPS_PER_EPOCH
    assert not (tmp_path / ".tmp-123.weights.h5").exists()


def test_no_usable_backup_is_a_clear_error_naming_both_files(tmp_path):
    crash_after(tmp_path, step=2 * STEPS_PER_EPOCH + 1)
    for name in ("latest.weights.h5", "previous.weights.h5"):
        path = tmp_path / name
        path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="no usable backup") as error:
        fit(make_model(), tmp_path)
    message = str(error.value)
    assert "latest.weights.h5: " in message and "previous.weights.h5: " in message
    assert f"Delete {tmp_path}" in message


@pytest.mark.parametrize("stop_step", [1, 5, STEPS_PER_EPOCH * 2, STEPS_PER_EPOCH * EPOCHS - 1])
def test_stop_request_backs_up_the_step_and_the_rerun_ends_at_the_same_step(tmp_path, stop_step):
    model = make_model()
    with pytest.raises(TrainingInterrupted) as stopped:
        fit(model, tmp_path, stop=FakeStop(model, stop_step))
    assert stopped.value.exit_status == 143
    assert f"after step {stop_step}" in str(stopped.value)
    position = read_backup_position(str(tmp_path / "latest.weights.h5"))
    assert position["epoch"] * STEPS_PER_EPOCH + position["steps"] == stop_step
    saved = [w.numpy() for w in model.weights]

    resumed = make_model(seed=1)
    history = fit(resumed, tmp_path, callbacks=[WeightsAtStart(saved)])
    assert int(resumed.optimizer.iterations.numpy()) == EPOCHS * STEPS_PER_EPOCH
    assert len(history.history["loss"]) == EPOCHS - stop_step // STEPS_PER_EPOCH


class WeightsAtStart(keras.callbacks.Callback):
    """Checks that the weights at the first step equal the backed-up ones."""

    def __init__(self, expected):
        super().__init__()
        self.expected = expected

    def on_train_begin(self, logs=None):
        for weight, value in zip(self.model.weights, self.expected):
            np.testing.assert_array_equal(weight.numpy(), value)


def test_stop_request_catches_sigterm_once_and_restores_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with StopRequest() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.signal_name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_second_sigint_stops_at_once():
    # The second SIGINT goes to the handler StopRequest found, which must be
    # Python's own here. A suite started in the background by a shell without
    # job control inherits SIGINT ignored (POSIX), and Python then keeps it so:
    # the second signal was ignored, as designed, and the test failed unless a
    # test that installs Python's handler (the notebook's) ran first.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with StopRequest() as stop:
                signal.raise_signal(signal.SIGINT)
                assert stop.requested
                signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_nan_loss_raises_with_advice_and_keeps_the_last_good_backup(tmp_path):
    model = make_model()
    nan_step = STEPS_PER_EPOCH + 2  # in the second epoch
    with pytest.raises(NonFiniteLossError, match="lower --learning-rate") as error:
        fit(model, tmp_path, nan_at_step=nan_step % STEPS_PER_EPOCH, epochs=EPOCHS)
    # The NaN row is in every epoch; the first epoch's is at step 2 (0-based).
    assert "at step 3" in str(error.value)
    assert not (tmp_path / "latest.weights.h5").exists()

    model = make_model()
    fit(model, tmp_path, epochs=1)
    with pytest.raises(NonFiniteLossError):
        fit(model, tmp_path, epochs=EPOCHS, nan_at_step=1)
    assert read_backup_position(str(tmp_path / "latest.weights.h5"))["epoch"] == 1
    resumed = make_model(seed=1)
    fit(resumed, tmp_path)
    assert all(np.isfinite(w.numpy()).all() for w in resumed.weights)
    assert int(resumed.optimizer.iterations.numpy()) == EPOCHS * STEPS_PER_EPOCH


def test_nan_weights_behind_a_finite_loss_are_never_backed_up(tmp_path):
    # The kernel turns NaN after the epoch's last step, so every loss the run
    # saw was finite and only the check before the backup can see it. (Training
    # a relu layer on a NaN row did this only on some CPUs: relu(NaN) is 0 in
    # the AVX-512 kernels and NaN on an AVX2-only machine.)
    model = make_model()
    with pytest.raises(NonFiniteLossError, match="weights became NaN/Inf"):
        fit(model, tmp_path, callbacks=[AtStep(STEPS_PER_EPOCH, poison_first_kernel)])
    assert not (tmp_path / "latest.weights.h5").exists()


def test_training_callbacks_order_nan_stop_before_backup(tmp_path):
    callbacks = training_callbacks(str(tmp_path), str(tmp_path / "backup"), "float32", tensorboard=False)
    assert [type(c) for c in callbacks] == [StopOnNonFiniteLoss, AtomicBackupAndRestore]


def test_mixed_float16_skips_an_overflowing_step_halves_the_scale_and_recovers():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(1, dtype="float32")])
        model.compile(optimizer=create_optimizer(1e-2, total_steps=100, warmup_ratio=0.0), loss="mse")
        optimizer = model.optimizer
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        x, y = data()
        model.train_on_batch(x[:BATCH], y[:BATCH])  # builds everything
        # A loss scale of 2^24 makes the float16 gradients overflow (max 65504).
        optimizer.dynamic_scale.assign(2.0**24)
        before = [w.numpy().copy() for w in model.trainable_weights]
        model.train_on_batch(x[:BATCH], y[:BATCH])
        assert float(optimizer.dynamic_scale.numpy()) == 2.0**23
        for weight, value in zip(model.trainable_weights, before):
            np.testing.assert_array_equal(weight.numpy(), value)  # the step was skipped
        # Training goes on: the scale keeps halving until the gradients fit, then steps apply.
        history = model.fit(x, y, batch_size=BATCH, epochs=4, verbose=0, shuffle=False,
                            callbacks=[StopOnNonFiniteLoss("mixed_float16")])
        assert float(optimizer.dynamic_scale.numpy()) <= 2.0**16
        assert all(np.isfinite(history.history["loss"]))
        assert all(np.isfinite(w.numpy()).all() for w in model.trainable_weights)
        assert any(not np.array_equal(w.numpy(), v) for w, v in zip(model.trainable_weights, before))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_resuming_on_a_keras_without_the_initial_epoch_hook_is_an_error():
    model = make_model()
    start_fit_at_epoch(model, 2)
    assert model._initial_epoch == 2
    with pytest.raises(RuntimeError, match=r"no Model._initial_epoch.*keras>=3.15,<3.16"):
        start_fit_at_epoch(object(), 2)


def test_a_rerun_with_other_epoch_lengths_resumes_after_the_same_batches(tmp_path):
    # --checkpoint-every changed between the runs: 4-step epochs, then 3-step ones.
    crash_after(tmp_path, step=STEPS_PER_EPOCH + 3)  # backup after batch 4
    assert backup_batches(str(tmp_path), steps_per_epoch=3) == STEPS_PER_EPOCH
    x, y = data()
    stream = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).repeat()
    resumed = make_model(seed=1)
    resumed.fit(stream, steps_per_epoch=3, epochs=4, verbose=0, shuffle=False,
                callbacks=[AtomicBackupAndRestore(str(tmp_path))])
    assert int(resumed.optimizer.iterations.numpy()) == 12


class FakeCluster:
    """Stands in for a two-worker strategy: this process is worker 0, and
    `sum_over_workers` adds worker 1's row as given."""

    def __init__(self, monkeypatch, other_row):
        self.calls = 0
        monkeypatch.setattr(callbacks_module, "worker_count_and_index", lambda strategy: (2, 0))
        monkeypatch.setattr(callbacks_module, "sum_over_workers", self.sum_over_workers)
        self.other_row = np.array(other_row, np.int64)

    def sum_over_workers(self, strategy, table):
        self.calls += 1
        return table + np.stack([np.zeros_like(self.other_row), self.other_row])


def test_a_worker_with_only_damaged_backups_joins_the_sum_before_raising(tmp_path, monkeypatch):
    (tmp_path / "latest.weights.h5").write_bytes(b"not hdf5")
    cluster = FakeCluster(monkeypatch, other_row=[0, 0, 0])
    with pytest.raises(ValueError, match="latest.weights.h5: not a readable HDF5"):
        backup_batches(str(tmp_path), STEPS_PER_EPOCH, strategy=object())
    assert cluster.calls == 1  # the other workers are not left waiting


def test_every_worker_raises_when_one_has_no_usable_backup(tmp_path, monkeypatch):
    crash_after(tmp_path, step=STEPS_PER_EPOCH + 1)
    FakeCluster(monkeypatch, other_row=[0, 0, 1])
    with pytest.raises(ValueError, match=r"worker\(s\) 1 of 2 have no usable backup"):
        backup_batches(str(tmp_path), STEPS_PER_EPOCH, strategy=object())


def test_workers_agree_on_the_newest_backup_all_of_them_hold(tmp_path, monkeypatch):
    crash_after(tmp_path, step=2 * STEPS_PER_EPOCH + 1)  # backups after batches 8 and 4
    FakeCluster(monkeypatch, other_row=[STEPS_PER_EPOCH + 1, 1, 0])  # worker 1: 4 and 0
    assert backup_batches(str(tmp_path), STEPS_PER_EPOCH, strategy=object()) == STEPS_PER_EPOCH
