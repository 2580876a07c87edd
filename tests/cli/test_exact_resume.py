"""A pretraining run (NSP, dropout on) killed with SIGKILL at random steps and
rerun ends with exactly the weights of the uninterrupted run.

The pipeline's shuffles and masks are functions of (seed, pass, batch), the
backup records how many batches were trained on and the dropout seed states,
so the resumed run sees and draws what the uninterrupted one did. The kill
points come from KILL_SEED (default 15, printed), so a failure replays.
"""

import os
import random
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from keras_bert_impl.config import BertConfig
from keras_bert_impl.training.callbacks import choose_backup

from cli_support import REPO_ROOT, run_cli

pytestmark = pytest.mark.slow

STEPS = 8
KILLS = 2


def _argv(corpus, config, output):
    return ["pretrain", "--corpus", corpus, "--config", config, "--vocab-size", "200", "--nsp",
            "--seq-len", "32", "--batch-size", "4", "--steps", str(STEPS), "--checkpoint-every", "1",
            "--learning-rate", "1e-3", "--output", output]


def _batches_done(output):
    try:
        _, position, _ = choose_backup(os.path.join(output, "backup"))
    except ValueError:
        return 0
    return 0 if position is None else position["epoch"] + position["steps"]


def _weights(path):
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return arrays


def _kill_at(argv, output, step, delay, log):
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), *argv], stdout=subprocess.DEVNULL,
        stderr=log, cwd=REPO_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    deadline = time.time() + 300
    try:
        while _batches_done(output) < step and process.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
        assert process.poll() is None, "the run ended before its kill"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()


def test_sigkilled_nsp_pretraining_resumes_to_the_same_weights(tmp_path, corpus_file):
    seed = int(os.environ.get("KILL_SEED", "15"))
    rng = random.Random(seed)
    config = str(tmp_path / "config.json")
    BertConfig.preset(
        "bert_tiny", hidden_size=32, num_heads=2, num_layers=1, intermediate_size=64,
        max_position_embeddings=64,
    ).save_json_file(config)
    reference = str(tmp_path / "reference")
    result = run_cli(*_argv(corpus_file, config, reference))
    assert result.returncode == 0, result.stderr[-3000:]

    output = str(tmp_path / "killed")
    argv = _argv(corpus_file, config, output)
    steps = sorted(rng.sample(range(1, STEPS - 1), KILLS))
    print(f"KILL_SEED={seed}: SIGKILL after backups of steps {steps}")
    for trial, step in enumerate(steps):
        with open(tmp_path / f"trial{trial}.err", "w") as log:
            _kill_at(argv, output, step, rng.uniform(0, 0.5), log)
        print(f"killed with backup at step {_batches_done(output)}")
    result = run_cli(*argv)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from backup" in result.stderr

    expected = _weights(os.path.join(reference, "model.weights.h5"))
    resumed = _weights(os.path.join(output, "model.weights.h5"))
    assert sorted(resumed) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)
