"""A pretraining run killed with SIGKILL resumes from its last backup."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cli_support import REPO_ROOT, read_json, run_cli

pytestmark = pytest.mark.slow

STEPS, EVERY = 24, 3
ARGS = ["pretrain", "--vocab-size", "300", "--steps", str(STEPS), "--checkpoint-every",
        str(EVERY), "--seq-len", "32", "--batch-size", "8"]


def _backed_up_epoch(output):
    metadata = os.path.join(output, "backup", "training_metadata.json")
    try:
        with open(metadata) as f:
            return json.load(f)["epoch"]
    except (OSError, ValueError):
        return 0


def test_sigkill_after_a_backup_resumes_and_finishes(tmp_path, corpus_file):
    output = str(tmp_path / "run")
    argv = [*ARGS, "--corpus", corpus_file, "--output", output]
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), *argv],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    deadline = time.time() + 240
    try:
        while _backed_up_epoch(output) < 2 and process.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        killed_after = _backed_up_epoch(output)
        assert process.poll() is None, "the run finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert killed_after >= 2

    resumed = run_cli(*argv)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    history = read_json(os.path.join(output, "history.json"))
    epochs_total = STEPS // EVERY
    # Only the epochs after the backup ran again, not the whole run.
    assert len(history["loss"]) <= epochs_total - killed_after
    from keras_bert_impl.model_dir import load_model_dir

    model = load_model_dir(output).model
    assert int(model.optimizer.iterations.numpy()) == STEPS
