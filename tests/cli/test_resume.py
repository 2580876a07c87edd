"""A pretraining run killed with SIGKILL resumes from its last backup."""

import os

import pytest
from support.kills import sigkill_after_backup

from cli_support import read_json, run_cli

pytestmark = pytest.mark.slow

STEPS, EVERY = 24, 3
ARGS = ["pretrain", "--vocab-size", "300", "--steps", str(STEPS), "--checkpoint-every",
        str(EVERY), "--seq-len", "32", "--batch-size", "8"]


def test_sigkill_after_a_backup_resumes_and_finishes(tmp_path, corpus_file):
    output = str(tmp_path / "run")
    argv = [*ARGS, "--corpus", corpus_file, "--output", output]
    killed_after = sigkill_after_backup(argv, output, 2 * EVERY, timeout=240) // EVERY
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
