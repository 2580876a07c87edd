"""The callbacks every training run gets: backups to resume from, logs, NaN stop.

Backups (`AtomicBackupAndRestore`) survive a kill at any instant: each one is
a single weights file, written under a temporary name and renamed into place,
that carries its own training position (epoch, steps into it) and a checksum
of its contents. Two generations are kept (`latest.weights.h5` and the one
before, `previous.weights.h5`); a damaged latest one is reported by name
and the previous one is used.
"""

import glob
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import zlib

import h5py
import keras
import numpy as np
import tensorflow as tf

from keras_bert_impl.io_utils import (
    TEMP_PREFIX,
    fsync_tree,
    replace_durably,
    write_text_atomically,
)
from keras_bert_impl.training.signals import TrainingInterrupted
from keras_bert_impl.training.strategy import sum_over_workers, worker_count_and_index

_LATEST, _PREVIOUS = "latest.weights.h5", "previous.weights.h5"
# Group of a backup file holding the dropout seed states.
_SEED_STATES = "backup_seed_states"

# Exit status of a run stopped by a NaN/Inf loss (2 is a user error, 128 + N a signal).
NON_FINITE_EXIT_STATUS = 3


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` with advice as soon as the loss is NaN/Inf.

    Raising (rather than setting `stop_training`, as Keras' `TerminateOnNaN`
    does) skips `on_epoch_end` and `on_train_end`, so the backup callback after
    this one never saves the broken weights, and the next run resumes from the
    last good backup.

    Args:
        precision: the run's precision policy name, for the advice.
    """

    def __init__(self, precision="float32"):
        super().__init__()
        self.precision = precision

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        step = int(self.model.optimizer.iterations.numpy())
        raise NonFiniteLossError(
            f"loss became {loss} at step {step}; stopped without saving this "
            f"state. The last good backup is kept and a rerun resumes from it. "
            f"Try: {non_finite_advice(self.precision)}."
        )


def non_finite_advice(precision):
    advice = ["lower --learning-rate (or raise --warmup-ratio)"]
    if precision == "mixed_float16":
        advice.append("use --precision mixed_bfloat16 or float32")
    elif precision == "mixed_bfloat16":
        advice.append("try --precision float32")
    advice.append("check the input data")
    return "; ".join(advice)


def start_fit_at_epoch(model, epoch):
    """Makes the `fit` call under way continue at `epoch`, as Keras' own
    `BackupAndRestore` does: through the private `Model._initial_epoch`, which
    Keras' trainers read after `on_train_begin` (verified on Keras 3.15).

    Raises:
        RuntimeError: this Keras has no `_initial_epoch`, so a resumed run would
            silently train from epoch 0 again.
    """
    if not hasattr(model, "_initial_epoch"):
        raise RuntimeError(
            f"cannot resume: Keras {keras.__version__} has no Model._initial_epoch, the "
            "hook Keras' BackupAndRestore resumes through (verified on keras>=3.15,<3.16)."
        )
    model._initial_epoch = epoch


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backups are atomic, checked and resumable mid-epoch.

    Keras writes `latest.weights.h5` in place and the epoch in a separate
    JSON file, so a kill during a backup can leave a truncated file, or new
    weights beside an old epoch (the resumed run then trains extra steps).
    Here each backup is one file, renamed into place when complete, holding
    the epoch, the steps done in it and a CRC32 of every array; the JSON file
    is only a readable copy. Loading checks the CRC and falls back to the
    previous backup, naming the damaged file.

    With a `StopRequest`, a SIGTERM/SIGINT ends training after the current
    step with a backup of that step and `TrainingInterrupted`; the next run
    resumes in the middle of the epoch and ends the epoch after its remaining
    steps, so the total step count is the same as without the stop.

    Args:
        backup_dir: folder of the backups (one per worker).
        stop: a `StopRequest`, or None to ignore signals.
        double_checkpoint: keep the previous backup as well.
        restore_batches: restore the backup that trained on this many
            batches (0: none), as `backup_batches` agreed across workers; None:
            the latest good one.

    Example:

    >>> callback = AtomicBackupAndRestore("runs/x/backup")  # doctest: +SKIP
    >>> model.fit(data, epochs=10, callbacks=[callback])  # doctest: +SKIP
    """

    def __init__(self, backup_dir, stop=None, double_checkpoint=True, restore_batches=None):
        # The backup is deleted by the caller once the final model is saved, so
        # a kill between the end of `fit` and that save still resumes.
        super().__init__(backup_dir, double_checkpoint=double_checkpoint, delete_checkpoint=False)
        # Keras names it latest.weights.h5.bkp, which `load_weights` refuses to read.
        self._prev_weights_path = os.path.join(backup_dir, _PREVIOUS)
        self.stop = stop
        self.restore_batches = restore_batches
        self._epoch = 0
        self._steps_done = 0
        self._steps_per_epoch = None
        self._resumed_epoch = None
        self._resumed_steps = 0
        self._ended_epoch_early = False

    # Restoring.

    def on_train_begin(self, logs=None):
        wait_for_unfinished_backup(self.backup_dir)
        for leftover in glob.glob(os.path.join(self.backup_dir, TEMP_PREFIX + "*")):
            # Left by a run killed in the middle of a backup.
            if os.path.isdir(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                os.remove(leftover)
        if not self.model.built:
            raise ValueError("AtomicBackupAndRestore needs a built model before fit().")
        self._steps_per_epoch = self.params.get("steps") if self.params else None
        path, position, damaged = choose_backup(
            self.backup_dir, self.restore_batches, self._steps_per_epoch
        )
        if path is None:
            return
        _check_backup_fits(self.model, path)
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(path)
        _restore_seed_states(self.model, path)
        if damaged:
            print(f"warning: damaged backup {damaged[0]}; using the previous one, {path}",
                  file=sys.stderr)
            # The good backup becomes the latest, so the next save keeps it as previous.
            os.replace(path, self._weights_path)
        self._restore_position(position)

    def _restore_position(self, position):
        epoch, steps = position["epoch"], position["steps"]
        self._steps_per_epoch = self._steps_per_epoch or position["steps_per_epoch"] or None
        if self._steps_per_epoch:
            # A rerun may cut its epochs differently (another --checkpoint-every):
            # it goes on after the same number of batches, in its own epochs.
            epoch, steps = divmod(position_batches(position, 0), self._steps_per_epoch)
        start_fit_at_epoch(self.model, epoch)
        if steps:
            self._resumed_epoch, self._resumed_steps = epoch, steps
        step = int(self.model.optimizer.iterations.numpy()) if self.model.optimizer else "?"
        into = f", {steps} steps into it" if steps else ""
        print(f"resuming from backup at epoch {epoch}{into} (step {step})", file=sys.stderr)

    # Saving.

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        steps_done = batch + 1
        if self._epoch == self._resumed_epoch:
            steps_done += self._resumed_steps
            if self._steps_per_epoch and steps_done >= self._steps_per_epoch:
                # The interrupted run did the first steps of this epoch already.
                self.model.stop_training = True
                self._ended_epoch_early = True
        self._steps_done = steps_done
        if self.stop is not None and self._stop_requested():
            self._stop_after(steps_done)

    def _stop_requested(self):
        requested = self.stop.requested
        strategy = self.model.distribute_strategy
        if worker_count_and_index(strategy)[0] > 1:
            # A signal reaches one worker: all stop after the same step, each
            # with its backup, instead of the others waiting on it forever.
            requested = sum_over_workers(strategy, [int(requested)])[0] > 0
        return requested

    def on_epoch_end(self, epoch, logs=None):
        if self._ended_epoch_early:
            self.model.stop_training = False
            self._ended_epoch_early = False
        elif self._steps_per_epoch is None:
            # A dataset of unknown size: its length is that of a full epoch.
            self._steps_per_epoch = self._steps_done
        self._save(epoch + 1, 0)

    def _stop_after(self, steps_done):
        name = self.stop.signal_name or "a signal to another worker"
        number = self.stop.signal_number or signal.SIGTERM
        if self._steps_per_epoch and steps_done >= self._steps_per_epoch:
            self._save(self._epoch + 1, 0)
        elif self._steps_per_epoch:
            self._save(self._epoch, steps_done)
        else:
            raise TrainingInterrupted(
                number,
                f"stopped on {name} in the first epoch, whose length is not known yet, "
                f"so no backup of this step was written; a rerun with the same --output "
                f"resumes from the last backup in {self.backup_dir}, if any.",
            )
        self._wait_for_backup()
        step = int(self.model.optimizer.iterations.numpy())
        raise TrainingInterrupted(
            number,
            f"stopped on {name} after step {step}; backup written to "
            f"{self._weights_path}. Rerun the same command to resume.",
        )

    def _save(self, epoch, steps):
        """Writes the weights now; checksums and renames them in the background.

        The checksum reads every array back (seconds for bert_base), so it
        runs on a thread while training goes on; the backup becomes the
        latest only when complete. A kill before then leaves the previous
        backup in place, and the next backup, a stop and the end of training
        wait for it.
        """
        self._wait_for_backup()
        if not all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in self.model.trainable_variables):
            raise NonFiniteLossError(
                "the weights became NaN/Inf; stopped without saving them. The last good "
                f"backup is kept. Try: {non_finite_advice(self.model.dtype_policy.name)}."
            )
        os.makedirs(self.backup_dir, exist_ok=True)
        position = {"epoch": epoch, "steps": steps, "steps_per_epoch": self._steps_per_epoch or 0}
        holder = tempfile.mkdtemp(dir=self.backup_dir, prefix=TEMP_PREFIX)
        temp = os.path.join(holder, _LATEST)
        self.model.save_weights(temp)
        with h5py.File(temp, "r+") as f:
            _save_seed_states(self.model, f)
            f.attrs["backup_position"] = json.dumps(position)
            f.attrs["backup_weight_shapes"] = json.dumps(_weight_shapes(self.model))
            f.attrs["backup_task"] = json.dumps(_task_settings(self.model))
        _UNFINISHED_BACKUPS[os.path.abspath(self.backup_dir)] = _BackgroundTask(
            self._finish_backup, temp, position
        )

    def _finish_backup(self, temp, position):
        try:
            with h5py.File(temp, "r+") as f:
                f.attrs["backup_crc32"] = _crc32(f)
            fsync_tree(temp)
            if self.double_checkpoint and os.path.exists(self._weights_path):
                os.replace(self._weights_path, self._prev_weights_path)
            replace_durably(temp, self._weights_path)
            write_text_atomically(self._training_metadata_path, json.dumps(position) + "\n")
        finally:
            shutil.rmtree(os.path.dirname(temp), ignore_errors=True)

    def _wait_for_backup(self):
        pending = _UNFINISHED_BACKUPS.pop(os.path.abspath(self.backup_dir), None)
        if pending is not None:
            pending.result()

    def on_train_end(self, logs=None):
        self._wait_for_backup()
        super().on_train_end(logs)


# The last backup each folder's callback started in this process, until it is
# waited for (the next backup, a stop, the end of the fit, the next fit's
# start or `wait_for_unfinished_backup`).
_UNFINISHED_BACKUPS = {}


def wait_for_unfinished_backup(backup_dir):
    """Waits for a backup still being finished in `backup_dir` after a fit raised.

    A backup is completed (checksummed, synced, renamed into place) on a
    thread, and a fit that raises skips Keras' `on_train_end`, so the backup
    may still be finishing when the exception reaches the caller. The next
    fit on the folder, and the readers of its backups here
    (`backup_batches`, `choose_backup`), wait for it themselves; call this
    before reading or copying the folder in other ways. Call it only once
    that fit has returned or raised, not beside a fit still running on the
    folder. A failed backup is reported on stderr, not raised: the fit that
    started it has failed already, and the backup before it is kept.

    Args:
        backup_dir: the folder given to `AtomicBackupAndRestore`.

    Example:

    >>> try:  # doctest: +SKIP
    ...     model.fit(dataset, callbacks=[AtomicBackupAndRestore("runs/x/backup")])
    ... except Exception:
    ...     wait_for_unfinished_backup("runs/x/backup")
    ...     shutil.copytree("runs/x/backup", "runs/x/backup-copy")
    ...     raise
    """
    pending = _UNFINISHED_BACKUPS.pop(os.path.abspath(backup_dir), None)
    if pending is None:
        return
    try:
        pending.result()
    except Exception as error:  # the fit that started it failed already
        print(f"warning: a backup left unfinished by a fit that raised has failed ({error}); "
              "the backup before it is kept", file=sys.stderr)


class _BackgroundTask:
    """Runs `function(*args)` on a thread; `result()` waits and re-raises its error.

    Not a daemon: an exiting process still completes the backup.
    """

    def __init__(self, function, *args):
        self._error = None

        def run():
            try:
                function(*args)
            except BaseException as e:  # re-raised in the training thread
                self._error = e

        self._thread = threading.Thread(target=run, name="backup-checksum")
        self._thread.start()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error


def read_backup_position(path):
    """Checks a backup file and returns its position.

    Returns:
        dict with "epoch" (epochs completed), "steps" (steps done in the
        next epoch) and "steps_per_epoch" (0 when unknown).

    Raises:
        ValueError: naming `path`, when the file is truncated, not an HDF5
            file, lacks the position, or its contents fail the checksum.
    """
    try:
        with h5py.File(path, "r") as f:
            if "backup_position" not in f.attrs or "backup_crc32" not in f.attrs:
                raise ValueError("not written by AtomicBackupAndRestore (no position or checksum)")
            position = json.loads(f.attrs["backup_position"])
            if _crc32(f) != int(f.attrs["backup_crc32"]):
                raise ValueError("checksum mismatch: the file is corrupted")
    except OSError as e:
        raise ValueError(f"{path}: not a readable HDF5 weights file ({e})") from None
    except (ValueError, KeyError) as e:
        raise ValueError(f"{path}: {e}") from None
    return position


def backup_candidates(backup_dir):
    """The backups in `backup_dir` that check out, latest first.

    Waits first for a backup that a fit which raised left finishing there
    (`wait_for_unfinished_backup`).

    Returns:
        `(candidates, damaged)`: a list of `(path, position)` (see
        `read_backup_position`), and a description of each backup passed over.
    """
    wait_for_unfinished_backup(backup_dir)
    candidates, damaged = [], []
    for name in (_LATEST, _PREVIOUS):
        path = os.path.join(backup_dir, name)
        if not os.path.exists(path):
            continue
        try:
            candidates.append((path, read_backup_position(path)))
        except ValueError as e:
            damaged.append(_describe(path, e))
    return candidates, damaged


def choose_backup(backup_dir, batches=None, steps_per_epoch=None):
    """The backup a run in `backup_dir` resumes from.

    Args:
        batches: restore the backup that trained on this many batches (0:
            none), as the workers of a cluster agreed; None: the latest one
            that checks out.
        steps_per_epoch: the run's, to count a backup's batches.

    Returns:
        `(path, position, damaged)`, or `(None, None, damaged)` when there is
        nothing to restore; `damaged` describes each backup passed over.

    Raises:
        ValueError: there are backups, but none is usable (or none has
            `batches`).
    """
    candidates, damaged = backup_candidates(backup_dir)
    if batches is not None:
        candidates = [
            (path, position) for path, position in candidates
            if position_batches(position, steps_per_epoch) == batches
        ]
        if not batches:
            return None, None, damaged
    if candidates:
        path, position = candidates[0]
        return path, position, damaged
    if damaged or batches:
        raise ValueError(
            f"no usable backup to resume from{f' at batch {batches}' if batches else ''}: "
            f"{'; '.join(damaged) or 'none has it'}. Delete {backup_dir} to start the run over."
        )
    return None, None, damaged


def position_batches(position, steps_per_epoch):
    """Batches of its data stream a backup at `position` trained on.

    Counted in the epochs of the run that wrote the backup, which a rerun with
    another --checkpoint-every cuts differently; `steps_per_epoch` (the
    current run's) counts only a backup that did not record its own.
    """
    epoch_length = position["steps_per_epoch"] or steps_per_epoch or 0
    return position["epoch"] * epoch_length + position["steps"]


def backup_batches(backup_dir, steps_per_epoch, strategy=None):
    """How many batches of its data stream the run in `backup_dir` trained on.

    A resumed run skips that many (`pretraining_dataset(start_batch=...)`), so
    it sees exactly the batches the uninterrupted run would have seen. Under a
    multi-worker `strategy`, the workers agree (a collective, every worker
    calls this at start-up) on the newest backup that all of them have: each
    keeps two, so after a worker died between its backup and another's, they
    all restore the same step.

    Returns:
        epochs done * `steps_per_epoch` + steps done in the next one; 0
        without a backup.
    """
    candidates, damaged = backup_candidates(backup_dir)
    unusable = bool(damaged and not candidates)
    own = [position_batches(position, steps_per_epoch) for _, position in candidates]
    num_workers, index = worker_count_and_index(strategy) if strategy else (1, 0)
    if num_workers == 1:
        if unusable:
            choose_backup(backup_dir)  # raises, naming each damaged backup
        return own[0] if own else 0
    # Row w: worker w's backups as batches + 1 (0: no backup), then 1 if all
    # its backups are damaged. Every worker joins the sum before any raises,
    # so none is left waiting in the collective for one that stopped.
    table = np.zeros([num_workers, 3], np.int64)
    table[index, : len(own)] = np.array(own, np.int64) + 1
    table[index, 2] = unusable
    table = sum_over_workers(strategy, table)
    if unusable:
        choose_backup(backup_dir)
    if table[:, 2].any():
        failed = ", ".join(str(w) for w in np.flatnonzero(table[:, 2]))
        raise ValueError(
            f"worker(s) {failed} of {num_workers} have no usable backup in their backup "
            f"folder (see their error); fix or delete it there and restart all workers."
        )
    shared = set.intersection(*({int(v) - 1 for v in row[:2] if v} | {0} for row in table))
    return max(shared)


def _seed_generators(model):
    """Every Keras SeedGenerator of `model` (dropout's), in a fixed order."""
    return [
        generator for layer in model._flatten_layers() for generator in layer._seed_generators
    ]


def _save_seed_states(model, h5_file):
    # Keras' weights files leave out the dropout seed states; without them a
    # resumed run draws other dropout masks than the uninterrupted one.
    group = h5_file.create_group(_SEED_STATES)
    for index, generator in enumerate(_seed_generators(model)):
        group.create_dataset(str(index), data=generator.state.numpy())


def _restore_seed_states(model, path):
    with h5py.File(path, "r") as f:
        if _SEED_STATES not in f:
            return
        group = f[_SEED_STATES]
        for index, generator in enumerate(_seed_generators(model)):
            if str(index) in group:
                generator.state.assign(group[str(index)][()])


def _crc32(h5_file):
    crc = 0
    names = []
    h5_file.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    for name in sorted(names):
        crc = zlib.crc32(name.encode(), crc)
        crc = zlib.crc32(np.ascontiguousarray(h5_file[name][()]).tobytes(), crc)
    return crc


def _weight_shapes(model):
    return [list(weight.shape) for weight in model.weights]


# The flag that sets each of `_task_settings`, for the error that refuses a resume.
_SETTING_FLAGS = {
    "class": "--task",
    "num_classes": "the labels",
    "dropout": "--dropout",
    "hidden_dropout": "--dropout",
    "attention_dropout": "--dropout",
    "pooling": "--pooling",
    "window_pooling": "--window-pooling",
    "window_stride": "--stride",
    "max_windows": "--max-windows",
    "nsp": "--nsp",
}


def _task_settings(model):
    """The task model's class, constructor settings (pooling, head dropout...)
    and its backbone's dropout rates, as JSON values: what weights do not show."""
    settings = {"class": type(model).__name__}
    if hasattr(model, "task_config"):
        settings.update(model.task_config())
    config = getattr(getattr(model, "backbone", None), "config", None)
    for name in ("hidden_dropout", "attention_dropout"):
        if hasattr(config, name):  # a BertConfig; other backbones record none
            settings[name] = getattr(config, name)
    return json.loads(json.dumps(settings))


def _settings_differences(saved, built):
    """`saved` against `built` settings, as "setting (flag) X there, Y here".

    Only the settings both record count: a backup written before a setting
    was recorded still resumes.
    """
    return [
        f"{name} ({_SETTING_FLAGS.get(name, 'the model')}) {saved[name]!r} there, {built[name]!r} here"
        for name in sorted(set(saved) & set(built)) if saved[name] != built[name]
    ]


def _check_backup_fits(model, path):
    """Raises a ValueError naming `path` when it holds another model's weights.

    Keras loads a deeper model's backup into a shallower one without a word
    (the extra blocks are ignored, the optimizer starts afresh), so a rerun
    with another depth or width must fail here instead; so must one with
    other task settings that weights do not show (mean pooling has none).
    """
    with h5py.File(path, "r") as f:
        saved_shapes = f.attrs.get("backup_weight_shapes")
        saved_task = f.attrs.get("backup_task")
    # None: written before these were recorded.
    if saved_shapes is not None:
        _check_weight_shapes(json.loads(saved_shapes), _weight_shapes(model), path)
    if saved_task is not None:
        _check_task_settings(json.loads(saved_task), _task_settings(model), path)


_ADVICE = "or train into another output directory."


def _check_weight_shapes(saved, built, path):
    if saved != built:
        raise ValueError(
            f"{path} is a backup of another model ({_size(saved)}) than this run builds "
            f"({_size(built)}): resume with the model it was trained with (the same --preset, "
            f"--config, --num-layers or --init), {_ADVICE}"
        )


def _check_task_settings(saved, built, path):
    differences = _settings_differences(saved, built)
    if differences:
        raise ValueError(
            f"{path} is a backup of a model with other settings ({'; '.join(differences)}): "
            f"resume with the flags it was trained with, {_ADVICE}"
        )


def _size(shapes):
    parameters = sum(int(np.prod(shape)) for shape in shapes)
    return f"{len(shapes)} weights, {parameters:,} parameters"


def _describe(path, error):
    message = " ".join(str(error).split())[:300]
    return message if message.startswith(path) else f"{path}: {message}"


def remove_backup(backup_dir):
    """Deletes the backups once the final model is saved (the run is complete)."""
    shutil.rmtree(backup_dir, ignore_errors=True)


def progress_verbosity():
    """Keras `verbose`: a live progress bar on a terminal, one line per epoch
    in logs and CI."""
    return 1 if sys.stdout.isatty() else 2


def training_callbacks(output_dir, backup_dir, precision, tensorboard=True, stop=None,
                       restore_batches=None):
    """Returns the standard callbacks of a run, in the order they must run.

    Args:
        output_dir: the run's folder; TensorBoard logs go to `logs/` in it.
        backup_dir: where the resumable state is kept (under
            MultiWorkerMirroredStrategy each worker needs its own). Remove it
            with `remove_backup` after saving the final model.
        precision: precision policy name, for the NaN advice.
        tensorboard: whether to write TensorBoard logs.
        restore_batches: see `AtomicBackupAndRestore`.
        stop: a `signals.StopRequest` active around `fit`, to stop cleanly
            on SIGTERM/SIGINT.
    """
    callbacks = [
        # First: a NaN/Inf step raises before the backup callback sees it.
        StopOnNonFiniteLoss(precision),
        # Saved at each epoch end; runs given --steps use short epochs of
        # --checkpoint-every steps so a backup lands every that many steps.
        AtomicBackupAndRestore(backup_dir, stop=stop, restore_batches=restore_batches),
    ]
    if tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(os.path.join(output_dir, "logs"), update_freq="epoch")
        )
    return callbacks
