"""Runs `train_tf.main` on many command lines in one fresh process.

Usage: python run_cli_cases.py CASES.json RESULTS.json

CASES.json is a list of {"argv": [...], "env": {...}}. For each case the
file descriptor 2 is redirected to a file, so everything the command writes
to stderr is caught (Python tracebacks and TensorFlow's C++ logs alike), and
the exit status is what `python train_tf.py ARGV` would exit with (an
uncaught exception is printed as Python prints it and counts as 1). One
process for every case saves a TensorFlow import per case. Two logical CPUs
let `--strategy mirrored` have two replicas, as in tests/conftest.py.
"""

import json
import os
import sys
import tempfile
import time
import traceback

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import train_tf  # noqa: E402


def run_case(argv, env):
    start = time.time()
    saved_env = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved_fd = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            try:
                status = train_tf.main(argv)
            except SystemExit as e:
                status = e.code
            except BaseException:
                traceback.print_exc()
                status = 1
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        captured.seek(0)
        return {
            "status": status,
            "stderr": captured.read().decode("utf-8", "replace"),
            "seconds": time.time() - start,
        }


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = [run_case(case["argv"], case.get("env", {})) for case in cases]
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)
