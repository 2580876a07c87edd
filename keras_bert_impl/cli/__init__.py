"""The `train_tf.py` command line: one module per subcommand.

Each subcommand module has `register(subparsers)`, which adds its parser and
sets `run` (a function of the parsed arguments) as its default. `main` turns
the errors a user can cause (bad files, bad values) into one clear line and
exit status 2, instead of a traceback from deep inside TensorFlow.
"""

import argparse
import importlib
import sys

# In the order `--help` lists them.
SUBCOMMANDS = (
    "prepare",
    "pretrain",
    "finetune",
    "evaluate",
    "export",
    "predict",
    "fill_mask",
    "convert",
    "report",
)

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, PermissionError, ImportError)


def build_parser(default_command_help):
    parser = argparse.ArgumentParser(
        prog="train_tf.py",
        description=(
            "Pretrain, fine-tune, evaluate, export and query BERT models "
            "(Keras 3 on TensorFlow). " + default_command_help
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"keras_bert_impl.cli.{name}")
        module.register(subparsers)
    return parser


def run_guarded(function, *args):
    """Runs `function(*args)`; user errors become one line on stderr, exit 2."""
    try:
        return function(*args)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
