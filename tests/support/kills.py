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


def sigkill_after_backup(argv, output, batches, delay=0.0, log=subprocess.DEVNULL, timeout=300):
    """Runs `train_tf.py ARGV`, SIGKILLs it `delay` s after its backup reached `batches`.

    Args:
        argv: the command line after `train_tf.py`; its --output is `output`.
        batches: kill once a backup has trained on at least this many batches.
        delay: seconds between seeing that backup and the kill.
        log: where the run's stderr goes (a file, for a failure's story).

    Returns:
        The batches of the backup the killed run left.
    """
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), *argv], stdout=subprocess.DEVNULL,
        stderr=log, cwd=REPO_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    deadline = time.time() + timeout
    try:
        while backed_up_batches(output) < batches and process.poll() is None and time.time() < deadline:
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
