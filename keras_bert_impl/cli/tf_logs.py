"""TensorFlow's start-up messages, kept off a command's stderr unless asked for.

Without this a CPU-only run opens with lines such as absl's "All log
messages before absl::InitializeLog() is called are written to STDERR",
"oneDNN custom operations are on", "Could not find cuda drivers" and
"failed call to cuInit: ... CUDA error", which make a working run look
failed. They are printed by TensorFlow's C++ code, so Python's logging
cannot silence them, and only settings made before TensorFlow is imported
take effect:

- `TF_CPP_MIN_LOG_LEVEL=3` keeps TensorFlow's C++ log lines out from then
  on (a failure that matters reaches Python as an exception);
- the lines C++ static initialisers print while TensorFlow, tensorflow-text
  and Keras are imported (each native library logs its own start-up),
  before that level applies, are captured at the stderr file descriptor;
  absl's log records (with their continuation lines) are dropped and
  anything else, such as a Python warning, is passed on.

`train_tf.py --verbose`, or `KERAS_BERT_VERBOSE=1` in the environment, shows
everything. An explicit `TF_CPP_MIN_LOG_LEVEL` is kept as it is.
"""

import contextlib
import os
import re
import sys
import tempfile

VERBOSE_ENV = "KERAS_BERT_VERBOSE"

# absl's C++ line prefix ("I0000 00:00:1796166892.625970   15354 port.cc:153]")
# and its one preamble line.
_ABSL_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
# Second lines of multi-line start-up records (cpu_feature_guard's); anything
# else after a record is the program's own output and is kept.
_CONTINUATIONS = ("To enable the following instructions:",)


def verbose_requested(verbose_flag=False):
    """Whether `--verbose` was given or `KERAS_BERT_VERBOSE` is set (not 0)."""
    return verbose_flag or os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def start_up_quietly(verbose=False):
    """Drops the start-up messages of whatever TensorFlow loading the block does.

    Wrap the code that may import TensorFlow first (building a subcommand's
    flags can). Everything else the block writes to stderr is passed on when
    it ends. Does nothing when `verbose` or `KERAS_BERT_VERBOSE` asks for
    the messages, or once TensorFlow is imported (too late to silence it).
    """
    if verbose_requested(verbose) or "tensorflow" in sys.modules:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as captured:
        try:
            with _stderr_redirected(captured):
                yield
        finally:
            captured.seek(0)
            sys.stderr.write("".join(_without_log_records(captured)))
            sys.stderr.flush()


def import_tensorflow_quietly(verbose=False):
    """Imports TensorFlow, tensorflow-text and Keras without their start-up messages."""
    with start_up_quietly(verbose):
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
        import tensorflow_text  # noqa: F401


def _without_log_records(lines):
    """The lines that are not absl log records (nor a known record's second line)."""
    in_record = False
    for line in lines:
        if _ABSL_LINE.match(line) or line.startswith(_ABSL_PREAMBLE):
            in_record = True
        elif in_record and line.startswith(_CONTINUATIONS):
            continue
        else:
            in_record = False
            yield line


@contextlib.contextmanager
def _stderr_redirected(file):
    """Points file descriptor 2 (where C++ writes) at `file` for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
