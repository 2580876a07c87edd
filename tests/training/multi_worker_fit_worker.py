"""One worker of the two-process MultiWorkerMirroredStrategy test.

Run by tests/training/test_multi_worker.py with TF_CONFIG set; the test also
imports `train` to make the single-process reference run.

    TF_CONFIG=... python multi_worker_fit_worker.py OUTPUT_DIR [--prove-fixes]

Writes OUTPUT_DIR/losses_<task>.json (per-step losses), keeps its
BackupAndRestore files in OUTPUT_DIR/backup/<task>/ and, on the chief only,
OUTPUT_DIR/model.keras. With --prove-fixes it instead fits on stock Keras,
then with only the first fix, and prints how each attempt ends.
"""

import json
import os
import shutil
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

GLOBAL_BATCH_SIZE = 8
NUM_STEPS = 4
NUM_FEATURES = 6
NUM_CLASSES = 3


class LossPerStep(keras.callbacks.Callback):
    """Records the loss of each step (one step per epoch, so no averaging)."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))


def make_dataset():
    """Fixed features and labels, NUM_STEPS global batches, repeated."""
    rng = np.random.default_rng(0)
    size = GLOBAL_BATCH_SIZE * NUM_STEPS
    features = rng.normal(size=(size, NUM_FEATURES)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, size=(size,)).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    return dataset.batch(GLOBAL_BATCH_SIZE, drop_remainder=True).repeat()


def build_model():
    """A two-layer classifier with weights fixed by a numpy seed."""
    model = keras.Sequential(
        [
            keras.Input((NUM_FEATURES,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(NUM_CLASSES),
        ]
    )
    rng = np.random.default_rng(1)
    model.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.weights]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def train(strategy, callbacks=()):
    """Builds the model in `strategy`'s scope and fits NUM_STEPS steps.

    Returns:
        (model, per-step losses).
    """
    with strategy.scope():
        model = build_model()
    recorder = LossPerStep()
    model.fit(
        make_dataset(),
        epochs=NUM_STEPS,
        steps_per_epoch=1,
        callbacks=[recorder, *callbacks],
        shuffle=False,
        verbose=0,
    )
    return model, recorder.losses


def main(output_dir):
    from keras_bert_impl.training import strategy as strategy_lib

    strategy = strategy_lib.get_strategy("multi_worker")
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    task = f"{task['type']}_{task['index']}"
    backup = keras.callbacks.BackupAndRestore(
        strategy_lib.per_worker_dir(os.path.join(output_dir, "backup"), strategy),
        delete_checkpoint=False,
    )
    model, losses = train(strategy, callbacks=[backup])
    target = strategy_lib.output_path_for_worker(
        os.path.join(output_dir, "model.keras"), strategy
    )
    model.save(target)
    if not strategy_lib.is_chief(strategy):
        shutil.rmtree(os.path.dirname(target))
    with open(os.path.join(output_dir, f"losses_{task}.json"), "w") as f:
        json.dump(losses, f)


def prove_fixes():
    """Fits with no fix, then with only the build fix; prints each outcome.

    Both failures are raised while Keras builds or traces, before any
    collective runs, so the cluster stays usable for the second attempt.
    """
    from keras_bert_impl.training import multi_worker_compat

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    trainer = multi_worker_compat.keras_trainer_module().TensorFlowTrainer
    for attempt in ("stock keras", "build fix only"):
        try:
            train(strategy)
            print(f"{attempt}: fit succeeded", flush=True)
        except ValueError as error:
            print(f"{attempt}: ValueError: {error}", flush=True)
        # The first fix alone, as apply_multi_worker_fixes installs it.
        trainer._maybe_symbolic_build = multi_worker_compat._build_from_local_values(
            trainer._maybe_symbolic_build
        )


if __name__ == "__main__":
    if "--prove-fixes" in sys.argv[2:]:
        prove_fixes()
    else:
        main(sys.argv[1])
