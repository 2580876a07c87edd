"""`train_tf.py pretrain --strategy multi_worker`: two worker processes on
127.0.0.1 train like one process with the same global batch.

Both workers read the same corpus and write to the same --output, as on a
shared file system. The reference is the same command in one process without
TF_CONFIG (a one-worker MultiWorkerMirroredStrategy, one replica). The
pretraining stream is a stateless function of the seed and the position in it
(shuffles and masks do not depend on how often the dataset is opened, nor on
tf.distribute's copies of it), and pretrain shards the data by DATA, so the
two workers build that same stream and each keeps its replica's half of every
global batch.

One test covers the cluster's whole life, because each launch costs two
TensorFlow start-ups: worker 1 is sent SIGTERM (both stop after the same step
with a backup), then SIGKILLed (the survivor stops too), then both rerun the
same command. What must match the one-process run: the loss of every resumed
step, to 1e-5, and the final weights, to 1e-6. The conditions: the same
initial weights and global batch, dropout off, every sequence with exactly two
masked tokens (the MLM loss is a per-replica weighted mean), and gradient
clipping on the all-reduced gradient (training/optimization.py).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from keras_bert_impl.config import BertConfig
from keras_bert_impl.training.callbacks import choose_backup

from cli_support import REPO_ROOT, read_json
from support.kills import on_backup_change
from support.ports import free_ports

pytestmark = pytest.mark.slow

NUM_WORKERS = 2
FAULT_STEPS = 8
# Three cluster launches, each waiting for backups on a shared machine.
FAULT_TIMEOUT_S = 600
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]


def _corpus(path):
    """Documents of sentences of 16+ words: every packed sequence has at least
    14 real tokens, so 15% masking always picks --max-predictions 2."""
    lines = []
    for doc in range(16):
        for sentence in range(4):
            words = [WORDS[(doc * 5 + sentence * 3 + i) % len(WORDS)] for i in range(16 + doc % 3)]
            lines.append(" ".join(words) + " .")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _config(path):
    config = BertConfig.preset(
        "bert_tiny", num_layers=1, hidden_size=64, num_heads=2, intermediate_size=128,
        max_position_embeddings=64, hidden_dropout=0.0, attention_dropout=0.0,
    )
    config.save_json_file(str(path))
    return str(path)


def _pretrain_argv(corpus, config, output, steps):
    return [
        sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), "pretrain",
        "--corpus", corpus, "--config", config, "--vocab-size", "200",
        "--seq-len", "32", "--batch-size", "8", "--max-predictions", "2",
        "--steps", str(steps), "--checkpoint-every", "1", "--learning-rate", "1e-3",
        "--strategy", "multi_worker", "--output", output,
    ]


def _start(argv, log_path, tf_config=None, temp_dir=None):
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    if temp_dir is not None:
        os.makedirs(temp_dir, exist_ok=True)
        env["TMPDIR"] = str(temp_dir)
    log = open(log_path, "w")
    try:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
    finally:
        log.close()  # the child holds its own copy


def _start_workers(tmp_path, argv, tag):
    """Starts the cluster; returns [(process, log path, temp dir)] in task order."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(NUM_WORKERS)]}
    workers = []
    for index in range(NUM_WORKERS):
        log_path = tmp_path / f"{tag}_worker_{index}.log"
        temp_dir = tmp_path / f"{tag}_tmp_{index}"
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        workers.append((_start(argv, log_path, tf_config, temp_dir), log_path, temp_dir))
    return workers


def _wait_all(processes, deadline):
    for process in processes:
        process.wait(timeout=max(1, deadline - time.time()))


def _kill_all(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def _tail(log_path):
    return log_path.read_text()[-3000:]


def _assert_succeeded(process, log_path, what):
    assert process.returncode == 0, f"{what} failed ({process.returncode}):\n{_tail(log_path)}"


def _backup_step(output, index):
    """Batches covered by worker `index`'s newest good backup (0 without one)."""
    backup_dir = os.path.join(output, "backup", f"worker_{index}")
    try:
        _, position, _ = choose_backup(backup_dir)
    except ValueError:
        return 0
    return 0 if position is None else position["epoch"] + position["steps"]


def _backup_step_watch(output, index):
    """`_backup_step(output, index)` for polling: read again only once that
    worker's backup changed (each read checks every array's checksum)."""
    return on_backup_change(
        os.path.join(output, "backup", f"worker_{index}"), lambda: _backup_step(output, index)
    )


def _wait_for(condition, processes, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and all(p.poll() is None for p in processes):
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _final_weights(output):
    arrays = {}
    with h5py.File(os.path.join(output, "model.weights.h5"), "r") as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return arrays


def test_stopped_and_killed_workers_resume_together_to_the_uninterrupted_weights(tmp_path):
    corpus = _corpus(tmp_path / "corpus.txt")
    config = _config(tmp_path / "config.json")
    output, single_output = str(tmp_path / "cluster_run"), str(tmp_path / "single_run")
    argv = _pretrain_argv(corpus, config, output, steps=FAULT_STEPS)
    single_log = tmp_path / "single.log"
    single = _start(_pretrain_argv(corpus, config, single_output, steps=FAULT_STEPS), single_log)
    try:
        # 1. SIGTERM to worker 1: both workers stop after the same step, with a backup.
        workers = _start_workers(tmp_path, argv, "term")
        processes = [process for process, _, _ in workers]
        try:
            backup_step = _backup_step_watch(output, 1)
            assert _wait_for(lambda: backup_step() >= 2, processes, FAULT_TIMEOUT_S)
            processes[1].send_signal(signal.SIGTERM)
            _wait_all(processes, time.time() + 120)
        finally:
            _kill_all(processes)
        assert [p.returncode for p in processes] == [143, 143], [_tail(log) for _, log, _ in workers]
        for _, log_path, _ in workers:  # the per-step stop check runs as a tf.function
            assert "eagerly has significant overhead" not in log_path.read_text()
        stopped_at = _backup_step(output, 0)
        assert stopped_at == _backup_step(output, 1) >= 2
        # The non-chief, like the chief, learned its vocabulary in memory on
        # this fresh start and wrote nothing to its temporary directory.
        assert list(workers[1][2].iterdir()) == [], "non-chief worker left files behind"

        # 2. SIGKILL worker 1 a little later; the survivor is stopped too.
        workers = _start_workers(tmp_path, argv, "kill")
        processes = [process for process, _, _ in workers]
        try:
            backup_step = _backup_step_watch(output, 1)
            assert _wait_for(lambda: backup_step() >= stopped_at + 1, processes, FAULT_TIMEOUT_S)
            processes[1].send_signal(signal.SIGKILL)
            survivor_exited = _wait_for(lambda: processes[0].poll() is not None, [], 60)
            print("the surviving worker", "exited by itself" if survivor_exited else "was killed")
        finally:
            _kill_all(processes)
        print("backups at kill:", _backup_step(output, 0), _backup_step(output, 1))

        # 3. The same command on both: they agree on a backup both have and finish.
        workers = _start_workers(tmp_path, argv, "resume")
        processes = [process for process, _, _ in workers]
        try:
            _wait_all(processes + [single], time.time() + FAULT_TIMEOUT_S)
        finally:
            _kill_all(processes + [single])
        for index, (process, log_path, _) in enumerate(workers):
            _assert_succeeded(process, log_path, f"resumed worker {index}")
        _assert_succeeded(single, single_log, "single process")
    finally:
        _kill_all([single])

    # The chief (worker 0, no "chief" job) wrote the model directory; the
    # other worker saved into a temporary directory and removed it.
    for name in ("model.keras", "model.weights.h5", "config.json", "vocab.txt", "history.json"):
        assert os.path.isfile(os.path.join(output, name)), name
    for _, _, temp_dir in workers[1:]:
        assert list(temp_dir.iterdir()) == [], "non-chief worker left files behind"
    assert "2 replica(s)" in workers[0][1].read_text()
    # Each worker kept its own backup directory, removed at the end of a finished run.
    backup = os.path.join(output, "backup")
    assert not os.path.exists(backup) or os.listdir(backup) == []

    # The resumed steps lose what one process loses at those steps, and the
    # cluster ends with the uninterrupted weights.
    cluster_losses = read_json(os.path.join(output, "history.json"))["loss"]
    single_losses = read_json(os.path.join(single_output, "history.json"))["loss"]
    print("per-step losses, two workers after the resume:", cluster_losses)
    print("per-step losses, one process:", single_losses)
    resumed = re.search(r"resuming from backup at epoch .*\(step (\d+)\)", workers[0][1].read_text())
    assert resumed, _tail(workers[0][1])
    resumed_at = int(resumed.group(1))
    assert stopped_at <= resumed_at < FAULT_STEPS
    assert len(single_losses) == FAULT_STEPS and len(cluster_losses) == FAULT_STEPS - resumed_at
    np.testing.assert_allclose(cluster_losses, single_losses[-len(cluster_losses):], rtol=0, atol=1e-5)
    expected, final = _final_weights(single_output), _final_weights(output)
    assert sorted(final) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(final[name], value, rtol=0, atol=1e-6, err_msg=name)
