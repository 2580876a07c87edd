"""Sequence packing: rows hold whole examples, and a packed batch is, to the
model, the same examples run one per row (outputs, loss and gradients)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_impl import BertClassifier, BertConfig, BertPretrainer, bert_backbone
from keras_bert_impl.data.packing import first_fit_decreasing, pack_examples, packing_efficiency
from keras_bert_impl.data.pipelines import pretraining_dataset
from keras_bert_impl.models.task import sparse_cross_entropy
from keras_bert_impl.text import Tokenizer

SEQ_LEN, SLOTS, NUM_CLASSES = 32, 5, 3
CONFIG = BertConfig.preset(
    "bert_tiny", vocab_size=50, hidden_size=32, num_heads=2, intermediate_size=64,
    max_position_embeddings=SEQ_LEN, hidden_dropout=0.0, attention_dropout=0.0,
)


def _examples(count=11, seed=0):
    """Random [CLS] A [SEP] (B [SEP]) examples of 3 to 14 tokens, with labels."""
    rng = np.random.default_rng(seed)
    examples = []
    for index in range(count):
        length = int(rng.integers(3, 15))
        token_ids = rng.integers(5, CONFIG.vocab_size, length).astype("int32")
        segment_ids = (np.arange(length) >= length // 2 if index % 2 else np.zeros(length)).astype("int32")
        examples.append((token_ids, segment_ids, int(rng.integers(NUM_CLASSES))))
    return examples


def _packed(examples):
    dataset = tf.data.Dataset.from_generator(
        lambda: (({"token_ids": t, "segment_ids": s}, label) for t, s, label in examples),
        output_signature=(
            {"token_ids": tf.TensorSpec([None], tf.int32), "segment_ids": tf.TensorSpec([None], tf.int32)},
            tf.TensorSpec([], tf.int32),
        ),
    )
    rows = pack_examples(dataset, seq_len=SEQ_LEN, max_examples_per_row=SLOTS)
    return next(iter(rows.batch(100)))


def _unpacked(examples):
    """One example per row, padded to SEQ_LEN: BERT's plain inputs."""
    x = {name: np.zeros((len(examples), SEQ_LEN), "int32") for name in ("token_ids", "segment_ids", "padding_mask")}
    for row, (token_ids, segment_ids, _) in enumerate(examples):
        x["token_ids"][row, : len(token_ids)] = token_ids
        x["segment_ids"][row, : len(token_ids)] = segment_ids
        x["padding_mask"][row, : len(token_ids)] = 1
    return x, np.array([label for _, _, label in examples], "int32")


def _slot_order(packed_x, examples):
    """(row, slot) of each example, found by its tokens at its [CLS]."""
    token_ids = packed_x["token_ids"].numpy()
    places = {}
    for row, starts in enumerate(packed_x["cls_positions"].numpy()):
        for slot, start in enumerate(starts):
            places[(row, slot)] = tuple(token_ids[row, start:])
    order = []
    for token_ids_of_example, _, _ in examples:
        match = [place for place, tokens in places.items() if tokens[: len(token_ids_of_example)] == tuple(token_ids_of_example)]
        order.append(match[0])
    return tuple(np.array(axis) for axis in zip(*order))


def test_first_fit_decreasing_respects_row_length_and_slots():
    lengths = np.random.default_rng(1).integers(1, 20, 200)
    rows, slots, offsets, num_rows = first_fit_decreasing(lengths, 32, 4)
    assert num_rows < len(lengths) / 2
    for row in range(num_rows):
        in_row = rows == row
        assert lengths[in_row].sum() <= 32 and in_row.sum() <= 4
        assert sorted(slots[in_row]) == list(range(in_row.sum()))
        # Each example starts where the previous one (in slot order) ends.
        by_slot = np.argsort(slots[in_row])
        ends = np.cumsum(lengths[in_row][by_slot])
        assert list(offsets[in_row][by_slot]) == [0, *ends[:-1]]


def test_packed_rows_hold_every_example_whole_with_restarting_positions():
    examples = _examples()
    x, labels, weights = _packed(examples)
    assert x["token_ids"].shape[1:] == (SEQ_LEN,) and x["cls_positions"].shape[1:] == (SLOTS,)
    assert int(tf.reduce_sum(weights)) == len(examples)
    assert x["token_ids"].shape[0] < len(examples) / 2
    rows, slots = _slot_order(x, examples)
    for (token_ids, segment_ids, label), row, slot in zip(examples, rows, slots):
        start = int(x["cls_positions"][row, slot])
        span = slice(start, start + len(token_ids))
        np.testing.assert_array_equal(x["segment_ids"][row, span], segment_ids)
        np.testing.assert_array_equal(x["position_ids"][row, span], np.arange(len(token_ids)))
        np.testing.assert_array_equal(x["example_ids"][row, span], slot + 1)
        assert int(labels[row, slot]) == label
    np.testing.assert_array_equal(x["padding_mask"], tf.cast(x["example_ids"] > 0, tf.int32))


def _loss_and_gradients(model, x, outputs_to_loss):
    with tf.GradientTape() as tape:
        outputs = model(x, training=True)
        loss = outputs_to_loss(outputs)
    return outputs, loss, tape.gradient(loss, model.trainable_variables)


def _assert_gradients_equal(packed_gradients, plain_gradients, variables):
    # A bare zip would stop at the shortest list and pass with gradients missing.
    assert len(packed_gradients) == len(plain_gradients) == len(variables), (
        f"{len(packed_gradients)} packed and {len(plain_gradients)} plain gradients "
        f"for {len(variables)} variables"
    )
    for packed, plain, variable in zip(packed_gradients, plain_gradients, variables):
        assert packed is not None and plain is not None, f"no gradient for {variable.path}"
        # Embedding gradients come as IndexedSlices: compare them dense.
        np.testing.assert_allclose(
            tf.convert_to_tensor(packed), tf.convert_to_tensor(plain), atol=1e-5, err_msg=variable.path
        )


@pytest.mark.parametrize("pooling", ["pooled", "mean"])
def test_packed_classifier_batch_equals_the_examples_unpacked(pooling):
    keras.utils.set_random_seed(0)
    examples = _examples()
    packed_x, packed_labels, weights = _packed(examples)
    plain_x, plain_labels = _unpacked(examples)
    classifier = BertClassifier(bert_backbone(CONFIG), num_classes=NUM_CLASSES, dropout=0.0, pooling=pooling)
    loss_fn = sparse_cross_entropy()
    packed_logits, packed_loss, packed_grads = _loss_and_gradients(
        classifier, packed_x, lambda logits: loss_fn(packed_labels, logits, sample_weight=weights)
    )
    plain_logits, plain_loss, plain_grads = _loss_and_gradients(
        classifier, plain_x, lambda logits: loss_fn(plain_labels, logits)
    )
    assert packed_logits.shape == (packed_x["token_ids"].shape[0], SLOTS, NUM_CLASSES)
    np.testing.assert_allclose(packed_logits.numpy()[_slot_order(packed_x, examples)], plain_logits, atol=1e-5)
    np.testing.assert_allclose(packed_loss, plain_loss, atol=1e-5)
    variables = classifier.trainable_variables
    if pooling == "mean":  # the [CLS] pooler is unused: no gradient either way
        unused = [i for i, v in enumerate(variables) if v.path.startswith("pooler/")]
        assert len(unused) == 2 and all(packed_grads[i] is None and plain_grads[i] is None for i in unused)
        keep = [i for i in range(len(variables)) if i not in unused]
        packed_grads, plain_grads, variables = ([items[i] for i in keep] for items in (packed_grads, plain_grads, variables))
    _assert_gradients_equal(packed_grads, plain_grads, variables)


def _mask_positions(packed_x, examples, order):
    """Masks tokens 1 and 2 of every example, in both layouts."""
    rows, slots = order
    plain = np.tile(np.array([[1, 2]], "int32"), (len(examples), 1))
    starts = packed_x["cls_positions"][rows, slots]
    packed = np.zeros((packed_x["token_ids"].shape[0], 2 * SLOTS), "int32")
    weights = np.zeros(packed.shape, "float32")
    for row, slot, start in zip(rows, slots, starts):
        packed[row, 2 * slot : 2 * slot + 2] = start + np.array([1, 2])
        weights[row, 2 * slot : 2 * slot + 2] = 1.0
    return packed, weights, plain


def test_packed_pretrainer_batch_equals_the_examples_unpacked():
    keras.utils.set_random_seed(0)
    examples = _examples()
    packed_x, labels, nsp_weights = _packed(examples)
    plain_x, plain_labels = _unpacked(examples)
    nsp_labels, plain_nsp = labels % 2, plain_labels % 2
    order = _slot_order(packed_x, examples)
    packed_x = {name: value.numpy() for name, value in packed_x.items()}
    packed_x["mask_positions"], mlm_weights, plain_x["mask_positions"] = _mask_positions(packed_x, examples, order)
    packed_mlm_ids = np.take_along_axis(packed_x["token_ids"], packed_x["mask_positions"], 1)
    plain_mlm_ids = np.take_along_axis(plain_x["token_ids"], plain_x["mask_positions"], 1)
    pretrainer = BertPretrainer(bert_backbone(CONFIG), nsp=True)
    loss_fn = sparse_cross_entropy()

    def packed_loss(outputs):
        return loss_fn(packed_mlm_ids, outputs["mlm"], mlm_weights) + loss_fn(nsp_labels, outputs["nsp"], nsp_weights)

    def plain_loss(outputs):
        return loss_fn(plain_mlm_ids, outputs["mlm"]) + loss_fn(plain_nsp, outputs["nsp"])

    packed_out, packed_value, packed_grads = _loss_and_gradients(pretrainer, packed_x, packed_loss)
    plain_out, plain_value, plain_grads = _loss_and_gradients(pretrainer, plain_x, plain_loss)
    np.testing.assert_allclose(packed_out["nsp"].numpy()[order], plain_out["nsp"], atol=1e-5)
    rows, slots = order
    packed_mlm = packed_out["mlm"].numpy().reshape(len(packed_mlm_ids), SLOTS, 2, -1)[rows, slots]
    np.testing.assert_allclose(packed_mlm, plain_out["mlm"], atol=1e-5)
    np.testing.assert_allclose(packed_value, plain_value, atol=1e-5)
    _assert_gradients_equal(packed_grads, plain_grads, pretrainer.trainable_variables)


@pytest.mark.parametrize("pooling", ["pooled", "mean"])
def test_packed_classifier_trains_with_static_shapes_under_xla(pooling):
    keras.utils.set_random_seed(0)
    x, labels, weights = _packed(_examples(count=40))
    dataset = tf.data.Dataset.from_tensor_slices((dict(x), labels, weights)).batch(4, drop_remainder=True)
    for spec in tf.nest.flatten(dataset.element_spec):
        assert spec.shape.is_fully_defined()
    classifier = BertClassifier(bert_backbone(CONFIG), num_classes=NUM_CLASSES, pooling=pooling)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    history = classifier.fit(dataset, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]


def _short_documents():
    """Documents of one or two 4-word sentences: pretraining rows mostly padding."""
    words = [f"w{index}" for index in range(40)]
    texts = [[" ".join(words[(d + s) % 36 : (d + s) % 36 + 4]) for s in range(1 + d % 2)] for d in range(16)]
    tokenizer = Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words)
    documents = tf.data.Dataset.from_generator(lambda: iter(texts), output_signature=tf.TensorSpec([None], tf.string))
    return documents, tokenizer


def test_packed_pretraining_rows_are_static_and_never_mask_special_tokens():
    documents, tokenizer = _short_documents()
    options = dict(seq_len=32, batch_size=4, max_predictions=5, nsp=True, seed=3, short_seq_prob=0.0)
    plain = pretraining_dataset(documents, tokenizer, drop_remainder=False, **options)
    packed = pretraining_dataset(documents, tokenizer, pack=True, max_examples_per_row=4, **options)
    x, y, weights = packed.element_spec
    assert sorted(x) == sorted(["mask_positions", "token_ids", "segment_ids", "padding_mask",
                                "example_ids", "position_ids", "cls_positions"])
    for spec in tf.nest.flatten(packed.element_spec):
        assert spec.shape.is_fully_defined()
    assert y["nsp"].shape == (4, 4) and weights["nsp"].shape == (4, 4)
    special = {tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id}
    for x, y, weights in packed:
        rows, slots = np.nonzero(weights["mlm"].numpy())
        positions = x["mask_positions"].numpy()[rows, slots]
        assert not set(y["mlm"].numpy()[rows, slots]) & special
        # Masked tokens lie inside an example: never on [CLS], [SEP] or [PAD].
        original = x["token_ids"].numpy().copy()
        original[rows, positions] = y["mlm"].numpy()[rows, slots]
        starts = np.take_along_axis(original, x["cls_positions"].numpy(), 1)
        assert set(starts[weights["nsp"].numpy() > 0]) == {tokenizer.cls_id}
    assert packing_efficiency(packed)[0] > 1.5 * packing_efficiency(plain)[0]

