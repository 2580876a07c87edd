"""A pretraining run killed with SIGKILL resumes from its last backup.

The killed run is a real process; the rerun runs in this one (a TensorFlow
start-up fewer), on what the killed run left on disk. One transformer block:
what is checked is where the rerun starts and ends, not the model.
"""

import os

import pytest
from support.kills import sigkill_after_backup

from cli_support import read_json, run_in_process

pytestmark = pytest.mark.slow

# The kill comes after the second backup; the 12 steps after it leave the
# poll time to see that backup before the run ends.
STEPS, EVERY = 18, 3
ARGS = ["pretrain", "--vocab-size", "300", "--num-layers", "1", "--steps", str(STEPS),
        "--checkpoint-every", str(EVERY), "--seq-len", "32", "--batch-size", "8"]


def test_sigkill_after_a_backup_resumes_and_finishes(tmp_path, corpus_file):
    output = str(tmp_path / "run")
    argv = [*ARGS, "--corpus", corpus_file, "--output", output]
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    killed_after = sigkill_after_backup(argv, output, 2 * EVERY, timeout=240,
                                        env={"TMPDIR": str(scratch)}) // EVERY
    assert killed_after >= 2
    # Its learned vocabulary went from memory into --output, not through /tmp.
    assert not list(scratch.glob("vocab-*")), "the killed run left its vocabulary folder behind"

    assert run_in_process(*argv) == 0
    history = read_json(os.path.join(output, "history.json"))
    epochs_total = STEPS // EVERY
    # Only the epochs after the backup ran again, not the whole run.
    assert len(history["loss"]) <= epochs_total - killed_after
    from keras_bert_impl.model_dir import load_model_dir

    model = load_model_dir(output).model
    assert int(model.optimizer.iterations.numpy()) == STEPS
