"""What a TPU needs, checked on CPU: static shapes, XLA-compiled train steps,
and no string work inside them.

A TPU compiles the whole train step with XLA. There is no TPU here, so these
tests check the properties that decide whether that compile can succeed:
the batches `keras_bert_impl.data.pipelines` makes (with
`drop_remainder=True`) have fully static shapes; `fit` with
`jit_compile=True` (which XLA-compiles the step, as on TPU) trains
BertPretrainer and BertClassifier to a finite, falling loss; and the
compiled step holds no string, ragged, tensorflow-text or Python ops, since
tokenizing belongs in tf.data on the host.
"""

import functools
import json
import math
import os

import keras
import pytest
import tensorflow as tf

from keras_bert_impl import cli
from keras_bert_impl.config import BertConfig
from keras_bert_impl.data.pipelines import classification_dataset, pretraining_dataset
from keras_bert_impl.models import BertClassifier, BertPretrainer, bert_backbone
from keras_bert_impl.text import Tokenizer

SEQ_LEN, BATCH_SIZE, MAX_PREDICTIONS = 16, 8, 3
SUBJECTS = ["the cat", "a dog", "my bird", "the fish", "our horse", "a mouse"]
ACTIONS = ["eats food", "sleeps well", "runs fast", "sings loudly", "jumps high"]
# Op types that cannot be inside a TPU step: strings, ragged tensors, the
# tensorflow-text kernels the tokenizer uses, and Python callbacks
# (tf.numpy_function / tf.py_function run on the host only).
FORBIDDEN_OP_MARKERS = ("String", "Ragged", "Wordpiece", "UTF8", "Regex", "PyFunc", "Unicode")


def _documents():
    texts = [
        [
            f"{SUBJECTS[(doc + i) % len(SUBJECTS)]} {ACTIONS[(doc * 3 + i) % len(ACTIONS)]} "
            f"every day ."
            for i in range(5)
        ]
        for doc in range(10)
    ]
    return tf.data.Dataset.from_generator(
        lambda: iter(texts), output_signature=tf.TensorSpec([None], tf.string)
    )


def _examples():
    texts, labels = [], []
    for i in range(4 * BATCH_SIZE):
        happy = i % 2
        texts.append(f"{SUBJECTS[i % 6]} {'sings loudly' if happy else 'sleeps well'} today")
        labels.append(happy)
    return tf.data.Dataset.from_tensor_slices({"text": texts, "label": labels})


@pytest.fixture(scope="module")
def tokenizer():
    words = sorted({w for s in SUBJECTS + ACTIONS for w in s.split()} | {"every", "day", "today"})
    return Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."] + words)


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)


# Building a pipeline traces it, and XLA-compiling a train step takes tens of
# seconds here: each dataset and jit-compiled model is made once per module.
# A model's fit losses are kept when it is made, so a test that runs one more
# step on it changes nothing another test checks.
@pytest.fixture(scope="module")
def pretraining_data(tokenizer):
    """`nsp -> dataset`."""
    return functools.cache(lambda nsp: _pretraining_data(tokenizer, nsp))


@pytest.fixture(scope="module")
def classification_data(tokenizer):
    return _classification_data(tokenizer)


@pytest.fixture(scope="module")
def trained_with_jit(tokenizer, pretraining_data, classification_data):
    """`task -> (model, dataset, epoch losses)`: "pretrainer" (with NSP) or
    "classifier" compiled with jit_compile=True and fit on `dataset`."""

    def train(task):
        keras.utils.set_random_seed(0)
        backbone = bert_backbone(_tiny_config(tokenizer.vocab_size))
        if task == "pretrainer":
            model, dataset = BertPretrainer(backbone, nsp=True), pretraining_data(True)
        else:
            model, dataset = BertClassifier(backbone, num_classes=2), classification_data
        model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
        return model, dataset, _fit_jit(model, dataset, epochs=8)

    return functools.cache(train)


def _tiny_config(vocab_size):
    # No dropout, so the loss on repeated batches falls step after step.
    return BertConfig.preset(
        "bert_tiny",
        vocab_size=vocab_size,
        num_layers=1,
        hidden_size=32,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=SEQ_LEN,
        hidden_dropout=0.0,
        attention_dropout=0.0,
    )


def _pretraining_data(tokenizer, nsp):
    return pretraining_dataset(
        _documents(), tokenizer, seq_len=SEQ_LEN, batch_size=BATCH_SIZE,
        max_predictions=MAX_PREDICTIONS, nsp=nsp, seed=1, drop_remainder=True,
    )


def _classification_data(tokenizer):
    return classification_dataset(
        _examples(), tokenizer, seq_len=SEQ_LEN, batch_size=BATCH_SIZE, seed=1,
        drop_remainder=True,
    )


def _assert_static(element_spec):
    for spec in tf.nest.flatten(element_spec):
        assert spec.shape.is_fully_defined(), f"dynamic shape in {element_spec}"
        assert spec.dtype != tf.string, f"string tensor in {element_spec}"


def _op_types(concrete_function):
    """Op types of a traced function, those of its nested functions included
    (loops, conditionals and XLA clusters live in the function library)."""
    graph_def = concrete_function.graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types.update(node.op for node in function.node_def)
    return types


def _forbidden(op_types):
    return sorted(t for t in op_types if any(m in t for m in FORBIDDEN_OP_MARKERS))


def _fit_jit(model, dataset, epochs, steps=2):
    """Trains on the same `steps` batches each epoch; returns the epoch losses."""
    history = model.fit(dataset.take(steps).cache().repeat(), epochs=epochs,
                        steps_per_epoch=steps, shuffle=False, verbose=0)
    return history.history["loss"]


def _assert_falls(losses):
    assert all(math.isfinite(loss) for loss in losses), losses
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("nsp", [False, True])
def test_pretraining_batches_are_static(pretraining_data, nsp):
    dataset = pretraining_data(nsp)
    _assert_static(dataset.element_spec)
    x, y, sample_weight = dataset.element_spec
    assert x["token_ids"].shape == (BATCH_SIZE, SEQ_LEN)
    assert x["mask_positions"].shape == (BATCH_SIZE, MAX_PREDICTIONS)


def test_classification_batches_are_static(tokenizer, classification_data):
    dataset = classification_data
    _assert_static(dataset.element_spec)
    assert dataset.element_spec[0]["token_ids"].shape == (BATCH_SIZE, SEQ_LEN)
    # The default (drop_remainder=False) leaves the batch dimension open:
    # fine on CPU/GPU, a recompile (or failure) on TPU.
    open_batch = classification_dataset(_examples(), tokenizer, seq_len=SEQ_LEN, batch_size=5)
    assert open_batch.element_spec[0]["token_ids"].shape.as_list() == [None, SEQ_LEN]


def test_pretrainer_trains_with_jit_compile(trained_with_jit):
    pretrainer, _, losses = trained_with_jit("pretrainer")
    # Keras silently falls back to no XLA when a layer says it cannot compile.
    assert pretrainer.jit_compile is True
    _assert_falls(losses)


def test_classifier_trains_with_jit_compile(trained_with_jit):
    classifier, _, losses = trained_with_jit("classifier")
    assert classifier.jit_compile is True
    _assert_falls(losses)


@pytest.mark.parametrize("task", ["pretrainer", "classifier"])
def test_compiled_train_step_has_no_string_ops(trained_with_jit, task):
    model, dataset, _ = trained_with_jit(task)  # fit: the optimizer's variables are built
    batch = next(iter(dataset))

    # The step Keras runs under jit_compile=True: model.train_step in an
    # XLA-compiled tf.function, traced at the dataset's static spec.
    train_step = tf.function(model.train_step, jit_compile=True)
    concrete = train_step.get_concrete_function(dataset.element_spec)
    op_types = _op_types(concrete)
    assert "MatMul" in op_types or "BatchMatMulV3" in op_types  # it is the real step
    assert _forbidden(op_types) == []
    assert all(t.dtype != tf.string for op in concrete.graph.get_operations() for t in op.outputs)
    logs = train_step(batch)  # and XLA compiles and runs it
    assert math.isfinite(float(logs["loss"]))


def test_string_check_sees_the_tokenizer(tokenizer):
    """The check above is not vacuous: tokenizing in a function trips it."""
    tokenize = tf.function(lambda text: tokenizer(text).to_tensor())
    op_types = _op_types(tokenize.get_concrete_function(tf.TensorSpec([None], tf.string)))
    assert _forbidden(op_types)


@pytest.mark.slow
def test_cli_pretrain_with_jit_compile(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "\n\n".join(
            "\n".join(f"{SUBJECTS[(d + i) % 6]} {ACTIONS[(d + i) % 5]} on day {d} ." for i in range(5))
            for d in range(12)
        ) + "\n"
    )
    output = tmp_path / "run"
    argv = [
        "pretrain", "--corpus", str(corpus), "--vocab-size", "120", "--preset", "bert_tiny",
        "--num-layers", "1", "--seq-len", "32", "--batch-size", "8", "--steps", "6", "--checkpoint-every", "2",
        "--learning-rate", "3e-3", "--strategy", "cpu", "--jit-compile",
        "--output", str(output),
    ]
    # In this process, as train_tf.py runs it: a fresh one would add only
    # TensorFlow's start-up, and the flag is what is under test.
    args = cli.build_parser("").parse_args(argv)
    assert cli.run_guarded(args.run, args) == 0
    losses = json.loads((output / "history.json").read_text())["loss"]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses), losses
    assert os.path.isfile(output / "model.keras")
