"""Tasks: one module per thing a model is fine-tuned to do.

A task module holds everything one task needs on top of the shared backbone,
layers, text ops and training machinery, so `finetune`, `evaluate`,
`predict` and `export` dispatch on the task and never test for it:

```
NAME                       the --task value, e.g. "token_classification"
MODEL                      the Keras model class (BertClassifier, ...)
claims_data(source)        True if a data source is clearly this task's
                           (".conll" files: tagging; SQuAD .json: QA)
(flags)                    the task's data and model flags, on finetune and
                           evaluate: a function in `tasks/arguments.py`,
                           which imports no TensorFlow, so --help is instant
load_data(args, tokenizer, source, label_names, split, training)
                           -> TaskData: batches for fit/predict, label
                           names (collected from the data when None), and
                           whatever the metrics need from the host; for
                           training also the endless stream that resumes
                           at any batch (`training_data`)
build_model(backbone, label_names, args)
                           -> the uncompiled model (finetune compiles it)
evaluate(model, data)      -> JSON-ready metrics dict of a TaskData
print_metrics(metrics)     the human summary after finetune / evaluate
```

Optional, for a task with settings beyond the model (window strides...):

```
check_arguments(args)      `finetune`: rejects bad task flags before any
                           checkpoint or data is read
model_files(metrics, args) -> {file name: JSON} finetune saves in the model
use_saved_settings(args, model_dir, model)
                           `evaluate`: sets the task flags not given to the
                           values read back from those files
evaluate_options(model_dir, seq_len)
                           -> extra keyword arguments of `evaluate`
```

Serving, for a task whose SavedModel takes raw text: the module defines
`serving_signatures(serving)` -> {name: (function, input signature)} (see
`tagging.py`) and `print_predictions(texts, outputs, as_json)`; then three
lines wire it in: a kind in `serving/signatures.py` (`TOKEN_CLASSIFIER` ->
`tagging.serving_signatures`, plus the shared `embed`), the signature name
that identifies its export in `serving/local.py`, and the kind's branch in
`cli/predict.py`. The classifier's and pretrainer's signatures predate the
task modules and still live in `serving/signatures.py`.

To add a task, write its module and add one line to `_MODULES`.

Example:

>>> task = resolve(None, "train.conll")  # doctest: +SKIP
>>> task.NAME  # doctest: +SKIP
'token_classification'
"""

import dataclasses
import importlib

# --task name -> module; the first is the default when nothing claims the data.
_MODULES = {
    "classification": "keras_bert_impl.tasks.classification",
    "token_classification": "keras_bert_impl.tasks.tagging",
    "question_answering": "keras_bert_impl.tasks.question_answering",
}


@dataclasses.dataclass
class TaskData:
    """A task's data, ready for `fit` and for its metrics.

    Attributes:
        dataset: `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)`;
            training data: its first pass.
        label_names: label (or tag) names, index = id.
        examples: host-side facts the metrics need (task-specific), or None.
        stream: training data only: `stream(start_batch)`, every pass one
            after another from batch `start_batch` on (`fit` with
            `steps_per_epoch`; a resumed run skips what it trained on).
    """

    dataset: object
    label_names: list
    examples: object = None
    stream: object = None


def training_data(passes, label_names, examples=None):
    """`TaskData` for training from `passes(epochs, start_batch)`, a
    `pipelines.training_passes` stream (pass p shuffled by (seed, p)).

    Example:

    >>> training_data(lambda epochs, start_batch: training_passes(  # doctest: +SKIP
    ...     batches_of_pass, shuffle_seed=shuffle_key(args.seed), epochs=epochs,
    ...     start_batch=start_batch), label_names)
    """
    return TaskData(
        passes(1, 0), label_names, examples, stream=lambda start_batch: passes(None, start_batch)
    )


def shuffled_training_data(batches_of_pass, *, seed, shuffle_buffer, label_names, examples=None):
    """`training_data` of in-memory examples: `batches_of_pass(shuffle_this_pass)`
    as `pipelines.training_passes` takes it, each pass shuffled by (`seed`,
    pass) over `shuffle_buffer` elements, prefetched.

    Example:

    >>> shuffled_training_data(lambda shuffle: shuffle(windows).batch(32),  # doctest: +SKIP
    ...                        seed=0, shuffle_buffer=num_windows, label_names=tag_names)
    """
    # Imported here: this module is read by `--help`, which must not start TensorFlow.
    import tensorflow as tf

    from keras_bert_impl.data.pipelines import shuffle_key, training_passes

    def passes(epochs, start_batch):
        return training_passes(
            batches_of_pass, shuffle_seed=shuffle_key(seed), epochs=epochs, start_batch=start_batch,
            shuffle_buffer=shuffle_buffer,
        ).prefetch(tf.data.AUTOTUNE)

    return training_data(passes, label_names, examples)


def names():
    """The task names, in --help order."""
    return list(_MODULES)


def get(name):
    """The task module called `name`."""
    if name not in _MODULES:
        raise ValueError(f"unknown task {name!r}; expected one of {names()}")
    return importlib.import_module(_MODULES[name])


def resolve(name, source):
    """The task `name`, or when None the task whose data `source` is."""
    if name is not None:
        return get(name)
    for task_name in names():
        if get(task_name).claims_data(source):
            return get(task_name)
    return get(names()[0])


def for_model(model):
    """The task module of a built model; ValueError if it has none."""
    for task_name in names():
        task = get(task_name)
        if isinstance(model, task.MODEL):
            return task
    raise ValueError(
        f"{type(model).__name__} is not a fine-tuned task model; expected one of "
        f"{[get(n).MODEL.__name__ for n in names()]}"
    )
