"""Two MultiWorkerMirroredStrategy workers on 127.0.0.1 train through `fit`."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.ports import free_ports

import multi_worker_fit_worker as tiny_fit  # noqa: E402  (tests/training on sys.path)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER_SCRIPT = os.path.abspath(tiny_fit.__file__)
NUM_WORKERS = 2
# Both workers start TensorFlow on a small shared machine; a healthy run takes
# about 10 s, a hung collective would block forever.
TIMEOUT_S = 180


def _run_workers(output_dir, *worker_args):
    """Runs the worker script as a two-worker cluster.

    Returns:
        [(return code, combined output)] per worker, in task order.
    """
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(NUM_WORKERS)]}
    processes = []
    try:
        for index in range(NUM_WORKERS):
            env = dict(
                os.environ,
                TF_CONFIG=json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}}
                ),
                PYTHONPATH=os.pathsep.join(
                    filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])
                ),
            )
            processes.append(
                subprocess.Popen(
                    [sys.executable, WORKER_SCRIPT, str(output_dir), *worker_args],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        results = []
        for process in processes:
            output, _ = process.communicate(timeout=TIMEOUT_S)
            results.append((process.returncode, output))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.slow
def test_two_workers_fit_like_one_process(tmp_path):
    results = _run_workers(tmp_path)
    for index, (returncode, output) in enumerate(results):
        assert returncode == 0, f"worker {index} failed:\n{output[-4000:]}"

    reference_model, reference_losses = tiny_fit.train(tf.distribute.get_strategy())
    for index in range(NUM_WORKERS):
        losses = json.loads((tmp_path / f"losses_worker_{index}.json").read_text())
        assert len(losses) == tiny_fit.NUM_STEPS
        np.testing.assert_allclose(losses, reference_losses, rtol=0, atol=1e-5)

    # Only the chief (worker 0) leaves a model file; the other wrote to a
    # temporary directory and removed it.
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == ["model.keras"]
    trained = keras.saving.load_model(tmp_path / "model.keras")
    assert len(trained.weights) == len(reference_model.weights)
    for weight, expected in zip(trained.get_weights(), reference_model.get_weights()):
        np.testing.assert_allclose(weight, expected, rtol=0, atol=1e-5)
    for index in range(NUM_WORKERS):
        backup = tmp_path / "backup" / f"worker_{index}"
        assert (backup / "latest.weights.h5").is_file()
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == [
        "worker_0",
        "worker_1",
    ]


@pytest.mark.slow
def test_each_multi_worker_fix_is_still_needed(tmp_path):
    """Guards both patches: when Keras fixes keras#20585 or tensorflow#72388,
    this test says which patch can go."""
    results = _run_workers(tmp_path, "--prove-fixes")
    for index, (returncode, output) in enumerate(results):
        assert returncode == 0, f"worker {index} failed:\n{output[-4000:]}"
        # keras#20585: the symbolic build reduces the PerReplica batch.
        assert "stock keras: ValueError: Attempt to convert a value (PerReplica" in output, output[-4000:]
        # tensorflow#72388: the logs' scalars are reduced along axis 0.
        assert "build fix only: ValueError: Invalid reduction dimension 0" in output, output[-4000:]
