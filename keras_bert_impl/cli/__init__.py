"""The `train_tf.py` command line: one module per subcommand.

Adding a subcommand takes one module and one line: write
`keras_bert_impl/cli/NAME.py` with `register(subparsers)`, which adds its
parser and sets `run` (a function of the parsed arguments, returning the
exit status) as its default, and add NAME to `SUBCOMMANDS`.

The command line answers `--help` and flag errors before TensorFlow loads (a
fraction of a second instead of several): `build_parser(..., argv)` imports
and registers only the subcommand that `argv` names, and lists the others
with the first line of their module docstring ("`train_tf.py NAME`: what it
does"), read from the source without importing them. So the one-line
docstring is the command's summary in `--help`, and `COMMAND --help` costs
what that module's imports cost: every subcommand imports its
TensorFlow-side modules inside the functions that run the command, so its
flags build at once too. `keras_bert_impl.choices` holds the choices and
defaults flags offer without importing anything, and
`keras_bert_impl.tasks.arguments` the task flags of finetune and evaluate.
`tests/cli/test_startup.py` holds `train_tf.py --help` and every
`COMMAND --help` to this.

`run_guarded` turns the errors a user can cause (bad files, bad values) into
one clear line and exit status 2, instead of a traceback from deep inside
TensorFlow.
"""

import argparse
import ast
import importlib
import importlib.util
import sys

from keras_bert_impl.cli.tf_logs import VERBOSE_ENV

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

# A path of the wrong kind (a folder for a file or back) is the user's to fix too.
USER_ERRORS = (
    ValueError, FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
    NotADirectoryError, ImportError,
)

_VERBOSE_HELP = (
    f"show TensorFlow's start-up and C++ log messages (also {VERBOSE_ENV}=1); "
    "hidden by default"
)


def build_parser(default_command_help, argv=None):
    """The `train_tf.py` parser.

    Args:
        default_command_help: what running without a command does.
        argv: the command line about to be parsed: only the subcommand it
            names gets its full parser (the others a one-line stub for
            `--help`), so no other subcommand module is even read. None:
            every subcommand in full (the main job, tests).
    """
    parser = argparse.ArgumentParser(
        prog="train_tf.py",
        description=(
            "Pretrain, fine-tune, evaluate, export and query BERT models "
            "(Keras 3 on TensorFlow). " + default_command_help
        ),
    )
    parser.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = None if argv is None else _command_in(argv)
    for name in SUBCOMMANDS:
        if argv is None or name == chosen:
            importlib.import_module(f"{__name__}.{name}").register(subparsers)
        else:
            subparsers.add_parser(_command_name(name), help=_summary(name))
    for subparser in subparsers.choices.values():
        # SUPPRESS: a subcommand without the flag keeps the top-level value.
        subparser.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP
        )
    return parser


def _command_name(module_name):
    return module_name.replace("_", "-")


def _command_in(argv):
    """The subcommand module `argv` names (its first known command word), or None."""
    by_command = {_command_name(name): name for name in SUBCOMMANDS}
    return next((by_command[word] for word in argv if word in by_command), None)


def _summary(name):
    """A subcommand's one-line help: its module docstring's first line, after the colon.

    Read from the source, not imported, so listing the commands imports none of them.
    """
    spec = importlib.util.find_spec(f"{__name__}.{name}")
    with open(spec.origin, encoding="utf-8") as f:
        docstring = ast.get_docstring(ast.parse(f.read())) or ""
    first_line = docstring.splitlines()[0] if docstring else ""
    return first_line.split(":", 1)[-1].strip().rstrip(".")


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
