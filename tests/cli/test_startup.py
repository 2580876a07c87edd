"""The command line answers help at once and starts without TensorFlow's noise."""

import os
import subprocess
import sys

import pytest

from cli_support import REPO_ROOT, TF_LOG_LINE, run_cli

from keras_bert_impl.cli import SUBCOMMANDS

HEAVY_MODULES = ("tensorflow", "keras", "tensorflow_text", "numpy")


def _python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}, **env},
    )


@pytest.mark.parametrize(
    "argv", [["--help"]] + [[name.replace("_", "-"), "--help"] for name in SUBCOMMANDS], ids=" ".join
)
def test_help_answers_without_tensorflow(argv):
    result = _python(
        "import sys\n"
        "from keras_bert_impl import cli\n"
        f"cli.build_parser('', {argv!r})\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", (
        "building the parser loads TensorFlow; import it inside `run` "
        f"(see keras_bert_impl/cli/__init__.py): {result.stdout}"
    )


def test_help_lists_every_subcommand_and_the_verbose_switch():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for name in SUBCOMMANDS:
        assert name.replace("_", "-") in result.stdout
    assert "--verbose" in result.stdout and "KERAS_BERT_VERBOSE" in result.stdout
    finetune = run_cli("finetune", "--help")
    assert finetune.returncode == 0 and "--verbose" in finetune.stdout
    bad = run_cli("finetune", "--output", "x", "--bogus")  # stderr after the start-up is kept
    assert bad.returncode == 2 and "unrecognized arguments: --bogus" in bad.stderr


def test_start_up_messages_are_dropped_unless_asked_for():
    code = (
        "from keras_bert_impl.cli import tf_logs\n"
        "tf_logs.import_tensorflow_quietly()\n"
        "import tensorflow as tf\n"
        "print(int(tf.reduce_sum(tf.constant([1, 2], tf.int64))))\n"
    )
    quiet = _python(code)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "3", quiet.stderr
    assert not TF_LOG_LINE.search(quiet.stderr), quiet.stderr
    # This TensorFlow logs at start-up; if a release stops, the check above proves nothing.
    verbose = _python(code, KERAS_BERT_VERBOSE="1")
    assert verbose.returncode == 0, verbose.stderr
    assert TF_LOG_LINE.search(verbose.stderr), verbose.stderr
