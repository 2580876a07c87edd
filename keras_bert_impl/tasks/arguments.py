"""The task flags of `finetune` and `evaluate`, in a module without TensorFlow.

`train_tf.py finetune --help` builds them before anything heavy loads (see
`keras_bert_impl.cli`): the task modules import TensorFlow at their top, so
their flags live here, one function per task, registered in `BY_TASK`.
Flag names must not clash across tasks; a flag several tasks share (such as
`--stride`) is defined once.

Example:

>>> parser = argparse.ArgumentParser()
>>> add_task_arguments(parser)
>>> parser.parse_args(["--task", "question_answering", "--doc-stride", "64"]).doc_stride
64
"""

import argparse

from keras_bert_impl import tasks
from keras_bert_impl.choices import DEFAULT_MAX_WINDOWS, QA_SPAN_DEFAULTS, TEXT_POOLINGS, WINDOW_POOLINGS

# The QA window and decoding flags: `SpanSettings` fields, and what they set.
QA_SETTING_FLAGS = {
    "doc_stride": "tokens between window starts",
    "max_query_length": "question tokens kept",
    "max_answer_length": "longest answer in tokens",
    "n_best": "start/end candidates per window",
}


def add_task_arguments(parser):
    """--task and every task's data flags."""
    parser.add_argument(
        "--task", choices=tasks.names(),
        help="what to fine-tune for (default: inferred from the data, e.g. .conll "
        "files are token_classification; otherwise classification)",
    )
    parser.add_argument(
        "--stride", type=int,
        help="read texts longer than --seq-len in overlapping windows whose starts are "
        "this many tokens apart. token classification: finetune default half a window; "
        "classification: finetune default off (texts are truncated), see --max-windows; "
        "evaluate default: the stride the model was trained with",
    )
    for name in tasks.names():
        BY_TASK[name](parser)


def add_classification_arguments(parser):
    parser.add_argument("--text-column", default="text", help="column/key/feature of the text (default text)")
    parser.add_argument(
        "--text-b-column", help="column of the second text, for sentence-pair tasks"
    )
    parser.add_argument("--label-column", default="label", help="column of the label (default label)")
    parser.add_argument(
        "--pack", action=argparse.BooleanOptionalAction, default=True,
        help="classification: train on rows that pack several short examples each, so "
        "little compute goes to padding (default on; static shapes, fine on TPU)",
    )
    parser.add_argument(
        "--pooling", choices=TEXT_POOLINGS,
        help="classification: the vector per text that the classifier reads: pooled, BERT's "
        "pooled [CLS] output (finetune default), or mean, the mean of the text's final token "
        "vectors (the main job's: its briefly pretrained [CLS] sums up a text worse). Part of "
        "the model: evaluate takes the model's",
    )
    parser.add_argument(
        "--bucket-by-length", action=argparse.BooleanOptionalAction, default=True,
        help="classification: pad each evaluation batch (and training batch with --no-pack) "
        "only to its power-of-two length bucket, or with --stride to its most windows "
        "(default on; turn off on TPU, which wants one shape)",
    )
    parser.add_argument(
        "--max-windows", type=int,
        help=f"classification with --stride: windows kept per text, the rest is cut; each "
        f"text costs this many model rows in training (default {DEFAULT_MAX_WINDOWS})",
    )
    parser.add_argument(
        "--window-pooling", choices=WINDOW_POOLINGS,
        help="classification with --stride: a text's logits are the mean (default) or the "
        "max of its windows' logits",
    )


def add_token_classification_arguments(parser):
    parser.add_argument(
        "--label-all-pieces", action="store_true",
        help="token classification: train on every piece of a word (I- tags for "
        "later pieces), not only the first",
    )
    parser.add_argument("--tokens-column", default="tokens", help="token classification: JSONL key/tfds feature of the tokens")
    parser.add_argument(
        "--tags-column",
        help="token classification: JSONL key/tfds feature of the tags (default tags; tfds: ner if present)",
    )


def add_question_answering_arguments(parser):
    # No argparse defaults: evaluate tells a flag given from one left out,
    # which takes the model's stored setting instead.
    for name, what in QA_SETTING_FLAGS.items():
        parser.add_argument(
            "--" + name.replace("_", "-"), type=int,
            help=f"QA: {what} (finetune default {QA_SPAN_DEFAULTS[name]}; evaluate "
            "default: the model's, stored when it was fine-tuned)",
        )


def reject_other_tasks_flags(args, task_name):
    """Raises a ValueError for a flag of another task given to a `task_name` run.

    Each task reads only its own flags, so `--pooling mean` on a question
    answering run would otherwise do nothing without a word. A flag given at
    its default value changes nothing and passes.
    """
    for name, add_arguments in BY_TASK.items():
        if name == task_name:
            continue
        for action in _actions_of(add_arguments):
            value = getattr(args, action.dest, action.default)
            if value != action.default:
                raise ValueError(f"{_typed_flag(action, value)} is a {name} flag; this run is {task_name}: drop it.")


def _actions_of(add_arguments):
    """The argparse actions `add_arguments(parser)` adds."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    # argparse lists a parser's actions only in `_actions`, which also holds
    # those added through argument groups.
    return parser._actions


def _typed_flag(action, value):
    """The option string that set `value`: `--no-pack` for a False `--pack`."""
    if isinstance(action, argparse.BooleanOptionalAction) and value is False:
        return action.option_strings[-1]
    return action.option_strings[0]


BY_TASK = {
    "classification": add_classification_arguments,
    "token_classification": add_token_classification_arguments,
    "question_answering": add_question_answering_arguments,
}
