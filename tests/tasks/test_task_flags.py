"""A flag of another task is an error, not silently ignored."""

import pytest

from keras_bert_impl import cli
from keras_bert_impl.tasks.arguments import reject_other_tasks_flags


def finetune_args(*flags):
    return cli.build_parser("").parse_args(["finetune", "--output", "out", *flags])


@pytest.mark.parametrize(
    "flags, task, message",
    [
        (["--pooling", "mean"], "question_answering", "--pooling is a classification flag; this run is question_answering"),
        (["--no-pack"], "token_classification", "--no-pack is a classification flag; this run is token_classification"),
        (["--label-all-pieces"], "classification", "--label-all-pieces is a token_classification flag"),
        (["--doc-stride", "64"], "classification", "--doc-stride is a question_answering flag"),
    ],
)
def test_a_flag_of_another_task_names_itself_and_the_task(flags, task, message):
    with pytest.raises(ValueError, match=message):
        reject_other_tasks_flags(finetune_args(*flags), task)


@pytest.mark.parametrize("task", ["classification", "token_classification", "question_answering"])
def test_defaults_and_shared_flags_pass_for_every_task(task):
    reject_other_tasks_flags(finetune_args("--stride", "32", "--seq-len", "64"), task)


def test_a_task_takes_its_own_flags():
    reject_other_tasks_flags(finetune_args("--pooling", "mean", "--no-pack"), "classification")
    reject_other_tasks_flags(finetune_args("--doc-stride", "64", "--n-best", "5"), "question_answering")
