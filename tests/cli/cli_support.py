"""Helpers of the CLI tests (fixtures live in conftest.py)."""

import json
import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*argv, timeout=300, env=None):
    """Runs `python train_tf.py ARGV` in a fresh process; returns CompletedProcess."""
    return subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        cwd=REPO_ROOT,
    )


def read_json(path):
    with open(path) as f:
        return json.load(f)
