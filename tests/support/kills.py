"""SIGKILL a `train_tf.py` run once its backup has reached a given batch.

The resume tests (pretraining, fine-tuning) kill runs at the instant a crash
or a preemption would, mid-step after a backup, and rerun the same command.
"""

import os
import signal
import subprocess
import sys
import time

from keras_bert_impl.training.callbacks import choose_backup, position_batches

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def backed_up_batches(output):
    """Batches the latest usable backup of the run writing `output` trained on (0: none)."""
    try:
        _, position, _ = choose_backup(os.path.join(output, "backup"))
    except ValueError:  # only damaged backups: nothing to resume from yet
        return 0
    return 0 if position is None else position_batches(position, None)


def backup_files_stamp(backup_dir):
    """What identifies the backup files in `backup_dir` as they are now; it
    changes whenever one of them is written, renamed into place or removed.

    Reading a backup checks every array against its checksum (about 0.1 s of
    CPU even for a tiny model): a poll reads it again only when this stamp
    changed, instead of taking a core from the run it watches.
    """
    stamp = []
    for name in ("latest.weights.h5", "previous.weights.h5"):
        try:
            stat = os.stat(os.path.join(backup_dir, name))
        except FileNotFoundError:
            stamp.append(None)
        else:
            stamp.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
    return stamp


def on_backup_change(backup_dir, read):
    """A function that returns `read()`, calling it again only once the
    backup files in `backup_dir` changed (see `backup_files_stamp`)."""
    last = {}

    def current():
        stamp = backup_files_stamp(backup_dir)
        if last.get("stamp", ()) != stamp:
            last.update(stamp=stamp, value=read())
        return last["value"]

    return current


def sigkill_after_backup(argv, output, batches, delay=0.0, log=subprocess.DEVNULL, timeout=300,
                         env=None):
    """Runs `train_tf.py ARGV`, SIGKILLs it `delay` s after its backup reached `batches`.

    Args:
        argv: the command line after `train_tf.py`; its --output is `output`.
        batches: kill once a backup has trained on at least this many batches.
        delay: seconds between seeing that backup and the kill.
        log: where the run's stderr goes (a file, for a failure's story).
        env: environment variables to set for the run.

    Returns:
        The batches of the backup the killed run left.
    """
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), *argv], stdout=subprocess.DEVNULL,
        stderr=log, cwd=REPO_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )
    deadline = time.time() + timeout
    backed_up = on_backup_change(os.path.join(output, "backup"), lambda: backed_up_batches(output))
    try:
        while backed_up() < batches and process.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
        assert process.poll() is None, f"the run ended (status {process.returncode}) before its kill"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    return backed_up_batches(output)
