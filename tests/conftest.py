"""Test-wide settings: the TensorFlow backend, quiet logs, two logical CPUs,
tests/ on sys.path so every test folder imports the shared `support` package,
Python-made tf.data iterators without the autotuning thread (`support.iterators`),
and under CI (`CI=true`) no test may skip: a skip is reported as a failure."""

import os
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Explicit rather than left to pytest's import mode, so `import support` works
# under any --import-mode (rootdir-relative imports depend on it).
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

import tensorflow as tf  # noqa: E402
from support.deps import in_ci  # noqa: E402
from support.iterators import iterate_without_autotune_thread  # noqa: E402

# Two logical CPU devices let MirroredStrategy tests run on one CPU host; this
# must happen before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
)
iterate_without_autotune_thread()


def _fail_skips_in_ci(report):
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which runs every test: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a skipped test fails, whatever skipped it (a missing optional
    dependency, a stray importorskip): CI must run the whole suite."""
    _fail_skips_in_ci((yield).get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """The same for a module skipped as a whole while it is collected."""
    _fail_skips_in_ci((yield).get_result())
