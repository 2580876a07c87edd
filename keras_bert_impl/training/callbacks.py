"""The callbacks every training run gets: backups to resume from, logs, NaN stop."""

import math
import os
import sys

import keras


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` with advice as soon as the loss is NaN/Inf.

    Raising (rather than setting `stop_training`, as Keras' `TerminateOnNaN`
    does) skips `on_train_end`, so the backup callback after this one neither
    saves the broken weights nor deletes the last good backup, and the next run
    resumes from it.

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
        advice = ["lower --learning-rate (or raise the warmup)"]
        if self.precision == "mixed_float16":
            advice.append("use --precision mixed_bfloat16 or float32")
        elif self.precision == "mixed_bfloat16":
            advice.append("try --precision float32")
        advice.append("check the input data")
        raise NonFiniteLossError(
            f"loss became {loss} at step {step}; stopped without saving this "
            f"state. The last good backup is kept and a rerun resumes from it. "
            f"Try: {'; '.join(advice)}."
        )


def progress_verbosity():
    """Keras `verbose`: a live progress bar on a terminal, one line per epoch
    in logs and CI."""
    return 1 if sys.stdout.isatty() else 2


def training_callbacks(output_dir, backup_dir, precision, tensorboard=True):
    """Returns the standard callbacks of a run, in the order they must run.

    Args:
        output_dir: the run's folder; TensorBoard logs go to `logs/` in it.
        backup_dir: where `BackupAndRestore` keeps the resumable state (under
            MultiWorkerMirroredStrategy each worker needs its own).
        precision: precision policy name, for the NaN advice.
        tensorboard: whether to write TensorBoard logs.
    """
    callbacks = [
        StopOnNonFiniteLoss(precision),
        # Saved at each epoch end; runs given --steps use short epochs of
        # --checkpoint-every steps so a backup lands every that many steps.
        # Two generations are kept, so a backup damaged by a crash mid-write
        # falls back to the one before.
        keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True),
    ]
    if tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(os.path.join(output_dir, "logs"), update_freq="epoch")
        )
    return callbacks
