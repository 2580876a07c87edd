"""Shared pieces of the benchmark scripts: models of both packages, synthetic
batches, step timing and the printed table.

Every benchmark builds this package's model and keras-hub's model with the
same sizes, precision and optimizer in one process and measures them
alternately, in an order drawn anew each round, so a noisy neighbour on a shared
machine slows both about equally; the reported numbers are medians over the
repeats and the ratio of the medians.

Example:

>>> models = build_training_models("mlm", "bert_tiny", vocab_size=30522)  # doctest: +SKIP
>>> sorted(models)  # doctest: +SKIP
['keras_bert_impl', 'keras_hub']
"""

import os
import platform
import random
import statistics
import subprocess
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Quieter logs; the benchmarks print their own table.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_bert_impl as kbi  # noqa: E402
from keras_bert_impl.convert.keras_hub import keras_hub_backbone  # noqa: E402
from keras_bert_impl.training.precision import PRECISIONS, set_precision  # noqa: E402

OURS = "keras_bert_impl"
HUB = "keras_hub"
MAX_PREDICTIONS = 20  # BERT's masked positions at seq 128
NUM_CLASSES = 2
TASKS = ("mlm", "classify")


def bert_config(preset, vocab_size):
    """The `BertConfig` of a preset with the given vocabulary size."""
    return kbi.BertConfig.preset(preset, vocab_size=vocab_size)


def make_optimizer(total_steps=10_000):
    """AdamW as BERT trains it: this package's recipe, given to both models."""
    return kbi.create_optimizer(1e-4, total_steps=total_steps)


def build_training_models(task, preset, vocab_size, precision="float32", jit_compile=False,
                          steps_per_execution=1):
    """Compiled `{OURS: model, HUB: model}` for `task` ("mlm" or "classify").

    keras-hub's models are built from a `BertBackbone` of the same sizes, with
    `preprocessor=None` so they take the same int32 inputs; each compiles with
    its own default loss and metrics and an identical AdamW.
    """
    import keras_hub

    set_precision(precision)
    config = bert_config(preset, vocab_size)
    ours_backbone = kbi.bert_backbone(config)
    hub_backbone = keras_hub_backbone(config)
    if task == "mlm":
        models = {
            OURS: kbi.BertPretrainer(ours_backbone),
            HUB: keras_hub.models.BertMaskedLM(hub_backbone, preprocessor=None),
        }
    elif task == "classify":
        models = {
            OURS: kbi.BertClassifier(ours_backbone, num_classes=NUM_CLASSES),
            HUB: keras_hub.models.BertTextClassifier(
                hub_backbone, num_classes=NUM_CLASSES, preprocessor=None
            ),
        }
    else:
        raise ValueError(f"task={task!r}: expected one of {TASKS}")
    for model in models.values():
        model.compile(
            optimizer=make_optimizer(),
            jit_compile=jit_compile,
            steps_per_execution=steps_per_execution,
        )
    return models


def synthetic_batch(task, batch_size, seq_len, vocab_size, seed=0):
    """One batch of random token data in both packages' label layouts.

    Returns:
        `{OURS: (x, y, sample_weight), HUB: (x, y, sample_weight)}`; the
        tensors are the same, only the label nesting differs (this package
        names its outputs, keras-hub's models have one output).
    """
    rng = np.random.default_rng(seed)
    x = {
        "token_ids": rng.integers(5, vocab_size, (batch_size, seq_len)).astype("int32"),
        "segment_ids": np.zeros((batch_size, seq_len), "int32"),
        "padding_mask": np.ones((batch_size, seq_len), "int32"),
    }
    x["segment_ids"][:, seq_len // 2 :] = 1
    if task == "classify":
        labels = rng.integers(0, NUM_CLASSES, (batch_size,)).astype("int32")
        return {OURS: (x, labels), HUB: (x, labels)}
    positions = np.sort(
        np.stack([rng.choice(np.arange(1, seq_len - 1), MAX_PREDICTIONS, replace=False)
                  for _ in range(batch_size)]),
        axis=1,
    ).astype("int32")
    x["mask_positions"] = positions
    ids = rng.integers(5, vocab_size, (batch_size, MAX_PREDICTIONS)).astype("int32")
    weights = np.ones((batch_size, MAX_PREDICTIONS), "float32")
    return {OURS: (x, {"mlm": ids}, {"mlm": weights}), HUB: (x, ids, weights)}


def repeated_dataset(batch):
    """An endless dataset of one batch: input costs nothing, only the model is timed."""
    return tf.data.Dataset.from_tensors(batch).repeat().prefetch(2)


class StepTimer(keras.callbacks.Callback):
    """Records the wall time at the end of each (multi-)step execution of `fit`."""

    def on_train_begin(self, logs=None):
        self.marks = []

    def on_train_batch_end(self, batch, logs=None):
        self.marks.append((batch, time.perf_counter()))

    def steps_per_second(self):
        """Steps/s between the first and the last mark: the first execution
        (iterator start-up) is left out."""
        (first_step, first_time), (last_step, last_time) = self.marks[0], self.marks[-1]
        return (last_step - first_step) / (last_time - first_time)


def fit_steps_per_second(model, dataset, steps):
    """Runs `model.fit` for `steps` steps and returns its steps/s."""
    timer = StepTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    return timer.steps_per_second()


def alternate(measures, repeats, seed=0):
    """Calls each `measures[name]()` once per round, `repeats` rounds.

    The order within a round is drawn anew each round (seeded), so neither
    package always runs first, right after the other has warmed the caches or
    while a neighbour's job starts.

    Returns:
        `{name: [value per repeat]}`.
    """
    order_rng = random.Random(seed)
    results = {name: [] for name in measures}
    for _ in range(repeats):
        for name in order_rng.sample(sorted(measures), len(measures)):
            results[name].append(measures[name]())
    return results


def training_flops_per_sequence(config, task, seq_len, max_predictions=MAX_PREDICTIONS):
    """Matmul FLOPs of one training step, per sequence (forward + backward).

    Forward, per sequence (multiply-add = 2 FLOPs; S = seq_len, H = hidden,
    I = intermediate, L = layers, V = vocab, P = masked positions):

        encoder  L * (S * (8 H^2 + 4 H I) + 4 S^2 H)
                 (QKV 6H^2 + output 2H^2 + FFN 4HI per token; QK^T and
                 probs.V 2 S^2 H each)
        mlm      P * (2 H^2 + 2 H V)     (transform + tied vocab projection,
                 at the masked positions only)
        classify 2 H^2 + 2 H C           (pooler + output layer)

    Training is 3x forward (the backward pass computes the gradients of both
    the activations and the weights). Embedding lookups, LayerNorm, softmax,
    GELU, bias adds and the optimizer update are not counted.
    """
    h, inter, layers = config.hidden_size, config.intermediate_size, config.num_layers
    forward = layers * (seq_len * (8 * h * h + 4 * h * inter) + 4 * seq_len * seq_len * h)
    if task == "mlm":
        forward += max_predictions * (2 * h * h + 2 * h * config.vocab_size)
    else:
        forward += 2 * h * h + 2 * h * NUM_CLASSES
    return 3 * forward


def median(values):
    return statistics.median(values)


def machine_description():
    """CPU model and core count (from lscpu where available), TF and Keras versions."""
    model = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(
            line.split(":", 1) for line in lscpu.splitlines() if ":" in line
        )
        model = fields.get("Model name", model).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return (
        f"{model}, {os.cpu_count()} logical CPUs; tensorflow {tf.__version__}, "
        f"keras {keras.__version__}"
    )


def print_table(header, rows):
    """Prints a Markdown table (so it pastes into docs/PERFORMANCE.md)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(header))
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        print(line(row))


__all__ = [
    "HUB",
    "MAX_PREDICTIONS",
    "OURS",
    "PRECISIONS",
    "TASKS",
    "alternate",
    "bert_config",
    "build_training_models",
    "fit_steps_per_second",
    "machine_description",
    "median",
    "training_flops_per_sequence",
    "print_table",
    "repeated_dataset",
    "synthetic_batch",
]
