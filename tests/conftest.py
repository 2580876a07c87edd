"""Test-wide settings: the TensorFlow backend, quiet logs, two logical CPUs, and
tests/ on sys.path so every test folder imports the shared `support` package."""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Explicit rather than left to pytest's import mode, so `import support` works
# under any --import-mode (rootdir-relative imports depend on it).
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

import tensorflow as tf  # noqa: E402

# Two logical CPU devices let MirroredStrategy tests run on one CPU host; this
# must happen before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
)
