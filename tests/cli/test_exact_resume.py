"""Runs killed with SIGKILL at random steps and rerun end with exactly the
weights of the uninterrupted run: pretraining (NSP, local starting weights,
which a resumed run does not compute again, dropout on) and
fine-tuning (classification on packed rows, dropout on).

The pipelines' shuffles and masks are functions of (seed, pass, batch), the
backup records how many batches were trained on and the dropout seed states,
so the resumed run sees and draws what the uninterrupted one did. The kill
points come from KILL_SEED (default 15, printed), so a failure replays.

The killed runs are real processes. The uninterrupted run and the rerun
that resumes run in this one (two TensorFlow start-ups fewer): a run's
weights are the same bit for bit in either, and the rerun knows only what
the killed runs left on disk.
"""

import os
import random
import re

import h5py
import numpy as np
import pytest
from support.kills import sigkill_after_backup

from keras_bert_impl.config import BertConfig

from cli_support import run_in_process

pytestmark = pytest.mark.slow

EPOCHS = 4  # of fine-tuning


def _weights(path):
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return arrays


def _assert_killed_runs_resume_exactly(tmp_path, capsys, argv_for, kill_steps, kills):
    """Runs `argv_for(output)` whole, then `kills` times killed after a backup
    step, and once more to its end: the final weights must be the same.

    Kill k waits for a backup step drawn from the k-th of `kills` equal shares
    of `kill_steps(what the whole run printed)`, and past the backup the kill
    before left: every killed run after the first resumes and trains on.
    """
    seed = int(os.environ.get("KILL_SEED", "15"))
    rng = random.Random(seed)
    reference = str(tmp_path / "reference")
    assert run_in_process(*argv_for(reference)) == 0

    output = str(tmp_path / "killed")
    candidates = list(kill_steps(capsys.readouterr().out))
    share = len(candidates) // kills
    trials, left = [], 0
    for trial in range(kills):
        step = max(rng.choice(candidates[trial * share:(trial + 1) * share]), left + 1)
        delay = rng.uniform(0, 0.5)
        with open(tmp_path / f"trial{trial}.err", "w") as log:
            left = sigkill_after_backup(argv_for(output), output, step, delay, log)
        trials.append(f"backup step >= {step}, +{delay:.2f} s: killed with a backup of {left} steps")
    story = f"KILL_SEED={seed}: " + "; ".join(trials)
    status = run_in_process(*argv_for(output))
    stderr = capsys.readouterr().err
    print(story)
    assert status == 0, f"{story}\n{stderr[-3000:]}"
    assert "resuming from backup" in stderr, story

    expected = _weights(os.path.join(reference, "model.weights.h5"))
    resumed = _weights(os.path.join(output, "model.weights.h5"))
    assert sorted(resumed) == sorted(expected), story
    for name, value in expected.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=f"{name} ({story})")


def test_sigkilled_nsp_pretraining_resumes_to_the_same_weights(tmp_path, capsys, corpus_file):
    # Two kills, from steps 1-4 and 5-8: the second run resumes from the
    # first one's backup before its kill, and two steps remain after it.
    steps = 10
    config = str(tmp_path / "config.json")
    BertConfig.preset(
        "bert_tiny", hidden_size=32, num_heads=2, num_layers=1, intermediate_size=64,
        max_position_embeddings=64,
    ).save_json_file(config)

    def argv_for(output):
        return ["pretrain", "--corpus", corpus_file, "--config", config, "--vocab-size", "200", "--nsp",
                "--seq-len", "32", "--batch-size", "4", "--steps", str(steps), "--checkpoint-every", "1",
                "--learning-rate", "1e-3", "--attention-init", "local", "--mask-rate", "0.3",
                "--output", output]

    _assert_killed_runs_resume_exactly(tmp_path, capsys, argv_for, lambda _: range(1, steps - 1), kills=2)


def test_sigkilled_packed_finetuning_resumes_to_the_same_weights(tmp_path, capsys, labelled_files):
    train, evaluation = labelled_files
    vocab = tmp_path / "vocab.txt"
    words = sorted({w for line in open(train) for w in line.lower().split()})
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")

    def argv_for(output):
        # Epochs of a few steps each, so several backups land.
        return ["finetune", "--vocab", str(vocab), "--train", train, "--eval", evaluation,
                "--preset", "bert_tiny", "--seq-len", "32", "--batch-size", "8", "--epochs", str(EPOCHS),
                "--learning-rate", "1e-3", "--output", output]

    def kill_steps(printed):
        # Backups land at epoch ends; the last one ends the run.
        steps_per_epoch = int(re.search(r"epoch\(s\) of (\d+) steps", printed).group(1))
        return range(1, (EPOCHS - 1) * steps_per_epoch)

    # One kill: each fine-tuning run spends most of its time starting (CI budget).
    _assert_killed_runs_resume_exactly(tmp_path, capsys, argv_for, kill_steps, kills=1)
