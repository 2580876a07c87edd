"""Helpers of the CLI tests (fixtures live in conftest.py)."""

import json
import os
import re
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# absl's C++ log line ("E0000 00:00:1796166946.426730   15354 cuda_platform.cc:52] ...").
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ", re.MULTILINE)


def run_cli(*argv, timeout=300, env=None):
    """Runs `python train_tf.py ARGV` in a fresh process; returns CompletedProcess.

    Every run is also held to a quiet start: no TensorFlow C++ log line on
    stderr unless the run asked for them (`--verbose`, KERAS_BERT_VERBOSE).
    """
    env = {**os.environ, **(env or {})}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what train_tf.py sets is under test
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO_ROOT,
    )
    if "--verbose" not in argv and env.get("KERAS_BERT_VERBOSE", "") in ("", "0"):
        noise = TF_LOG_LINE.findall(result.stderr)
        assert not noise, f"TensorFlow start-up messages on stderr:\n{result.stderr}"
    return result


def run_in_process(*argv):
    """Runs `train_tf.py ARGV` in this process, as the CLI would; returns what the command returns."""
    from keras_bert_impl import cli

    parser = cli.build_parser("")
    args = parser.parse_args(list(argv))
    return cli.run_guarded(args.run, args)


def read_json(path):
    with open(path) as f:
        return json.load(f)
