"""pretraining_dataset and classification_dataset: structure and properties."""

import numpy as np
import pytest
import tensorflow as tf

from support.passes import assert_exact_passes

from keras_bert_impl.data.pipelines import classification_dataset, pretraining_dataset
from keras_bert_impl.tasks import training_data
from keras_bert_impl.text import Tokenizer

DOCUMENTS, SENTENCES, WORDS = 24, 6, 4


def _word(document, sentence, position):
    return f"d{document}s{sentence}w{position}"


@pytest.fixture(scope="module")
def tokenizer():
    words = [
        _word(d, s, w) for d in range(DOCUMENTS) for s in range(SENTENCES) for w in range(WORDS)
    ]
    return Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."] + words)


def _documents():
    texts = [
        [" ".join(_word(d, s, w) for w in range(WORDS)) + " ." for s in range(SENTENCES)]
        for d in range(DOCUMENTS)
    ]
    return tf.data.Dataset.from_generator(
        lambda: iter(texts), output_signature=tf.TensorSpec([None], tf.string)
    )


def _origin(tokenizer, token_id):
    """(document, sentence) a token id came from, None for specials and '.'."""
    token = tokenizer.vocabulary[token_id]
    if not token.startswith("d"):
        return None
    document, rest = token[1:].split("s")
    return int(document), int(rest.split("w")[0])


def _epoch(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), batch) for batch in dataset]


# Building a pretraining stream traces its tokenizing and masking functions,
# seconds each: tests that only read a stream share one built per module.
STREAM = dict(seq_len=32, batch_size=8, max_predictions=5, nsp=True, seed=1)
MASK_RATES = (0.15, 0.4)


@pytest.fixture(scope="module")
def stream(tokenizer):
    """Two shuffled passes with NSP."""
    return pretraining_dataset(_documents(), tokenizer, **STREAM, epochs=2)


@pytest.fixture(scope="module")
def stream_batches(stream):
    return _epoch(stream)


@pytest.fixture(scope="module")
def one_segment_batches(tokenizer):
    """`{mask_rate: batches}` without NSP, every rate from the same seed."""
    return {
        mask_rate: _epoch(pretraining_dataset(
            _documents(), tokenizer, seq_len=32, batch_size=8, max_predictions=32, seed=4,
            mask_rate=mask_rate,
        ))
        for mask_rate in MASK_RATES
    }


def _unmasked_token_ids(batch):
    """The packed ids before masking: labels put back at the masked positions."""
    x, y, w = batch
    ids = x["token_ids"].copy()
    for row in range(len(ids)):
        real = w["mlm"][row] > 0
        ids[row, x["mask_positions"][row][real]] = y["mlm"][row][real]
    return ids


def test_pretraining_batches_follow_the_contract(tokenizer, stream, stream_batches):
    x, y, sample_weight = stream.element_spec
    assert sorted(x) == ["mask_positions", "padding_mask", "segment_ids", "token_ids"]
    for name in ("token_ids", "segment_ids", "padding_mask"):
        assert x[name].shape.as_list() == [8, 32] and x[name].dtype == tf.int32
    assert x["mask_positions"].shape.as_list() == [8, 5]
    assert y["mlm"].shape.as_list() == [8, 5] and y["mlm"].dtype == tf.int32
    assert y["nsp"].shape.as_list() == [8] and y["nsp"].dtype == tf.int32
    assert sample_weight["mlm"].dtype == tf.float32 and sample_weight["nsp"].shape.as_list() == [8]

    labels = np.concatenate([y["nsp"] for _, y, _ in stream_batches])
    assert 0.3 < labels.mean() < 0.7, labels.mean()
    for x, y, w in stream_batches:
        for row in range(8):
            ids, segments = x["token_ids"][row].copy(), x["segment_ids"][row]
            real = x["padding_mask"][row] == 1
            # Labels sit at the masked positions of the packed sequence;
            # putting them back undoes random replacements.
            positions = x["mask_positions"][row][w["mlm"][row] > 0]
            assert (positions > 0).all() and real[positions].all()
            ids[positions] = y["mlm"][row][w["mlm"][row] > 0]
            assert tokenizer.mask_id not in ids
            a_origin = {_origin(tokenizer, i) for i in ids[real & (segments == 0)]} - {None}
            b_origin = {_origin(tokenizer, i) for i in ids[real & (segments == 1)]} - {None}
            a_docs, b_docs = {d for d, _ in a_origin}, {d for d, _ in b_origin}
            assert len(a_docs) == 1
            if y["nsp"][row] == 1:  # NotNext: B from another document
                assert b_docs and not b_docs & a_docs
            else:  # IsNext: B continues A in the same document
                assert b_docs == a_docs
                assert min(s for _, s in b_origin) == max(s for _, s in a_origin) + 1


def test_pretraining_without_nsp_uses_one_segment(one_segment_batches):
    x, y, w = one_segment_batches[0.15][0]
    assert sorted(y) == ["mlm"] and sorted(w) == ["mlm"]
    assert (x["segment_ids"] == 0).all()


@pytest.mark.parametrize("mask_rate", MASK_RATES)
def test_mask_rate_sets_the_predictions_per_row(one_segment_batches, mask_rate):
    for x, _, w in one_segment_batches[mask_rate]:
        # Every real token but [CLS] and [SEP] can be masked.
        maskable = x["padding_mask"].sum(axis=1) - 2
        expected = np.maximum(1, np.round(mask_rate * maskable))
        np.testing.assert_array_equal(w["mlm"].sum(axis=1), expected)


def _masked_stream(tokenizer, **kwargs):
    return pretraining_dataset(
        _documents(), tokenizer, seq_len=32, batch_size=8, max_predictions=5,
        nsp=True, whole_word_masking=True, seed=3, **kwargs,
    )


def test_masks_change_each_pass_and_are_reproducible(tokenizer):
    batches = _epoch(_masked_stream(tokenizer, shuffle=False, epochs=2))
    first, second = batches[: len(batches) // 2], batches[len(batches) // 2 :]
    # Same segments in the same order (shuffle=False), new masks.
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a[0]["segment_ids"], b[0]["segment_ids"])
        np.testing.assert_array_equal(a[1]["nsp"], b[1]["nsp"])
    assert any(
        (a[0]["mask_positions"] != b[0]["mask_positions"]).any() for a, b in zip(first, second)
    )
    replay = _epoch(_masked_stream(tokenizer, shuffle=False, epochs=2))
    for a, b in zip(batches, replay, strict=True):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)


def test_stream_does_not_depend_on_how_often_it_is_opened(stream, stream_batches):
    next(iter(stream))  # a probe, as a caller checking for data would make
    again = _epoch(stream)
    for a, b in zip(stream_batches, again, strict=True):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)
    # Each pass is shuffled anew.
    half = len(stream_batches) // 2
    assert any(
        (a[0]["segment_ids"] != b[0]["segment_ids"]).any()
        for a, b in zip(stream_batches[:half], stream_batches[half:])
    )


def test_start_batch_resumes_the_stream_exactly(tokenizer, stream_batches):
    # Endless, as `fit` with steps_per_epoch reads it; its passes are the two of `stream`.
    resumed = pretraining_dataset(_documents(), tokenizer, **STREAM, epochs=None, start_batch=4)
    for a, b in zip(stream_batches[4:7], _epoch(resumed.take(3)), strict=True):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)


@pytest.mark.parametrize("pack", [False, True], ids=["rows", "packed"])
def test_unmasked_batches_are_the_masked_stream_before_masking(tokenizer, pack):
    # What `pretrain` counts and measures the padding of before training.
    masked = _epoch(_masked_stream(tokenizer, epochs=2, pack=pack))
    unmasked = _epoch(_masked_stream(tokenizer, epochs=2, pack=pack, masked=False))
    assert len(unmasked) == len(masked) > 2
    for (x, y, weights), (rows, nsp_labels, *slot_weights) in zip(masked, unmasked, strict=True):
        np.testing.assert_array_equal(_unmasked_token_ids((x, y, weights)), rows["token_ids"])
        for name in rows:
            if name != "token_ids":
                np.testing.assert_array_equal(x[name], rows[name], err_msg=name)
        np.testing.assert_array_equal(y["nsp"], nsp_labels)
        assert len(slot_weights) == pack  # packed rows weigh each example slot
        np.testing.assert_array_equal(weights["nsp"], slot_weights[0] if pack else np.ones_like(nsp_labels))
    with pytest.raises(ValueError, match="start_batch=3 needs masked batches"):
        _masked_stream(tokenizer, masked=False, start_batch=3)


def test_shuffle_is_seeded(one_segment_batches):
    # Built apart from the same seed, the streams at both mask rates hold the
    # same examples in the same order; only their masks differ.
    low, high = (one_segment_batches[mask_rate] for mask_rate in MASK_RATES)
    for a, b in zip(low, high, strict=True):
        np.testing.assert_array_equal(_unmasked_token_ids(a), _unmasked_token_ids(b))


def _examples(pair):
    texts = [" ".join(_word(0, 0, w) for w in range(n)) for n in range(1, 40)]
    data = {"text": texts, "label": np.arange(len(texts), dtype=np.int32) % 3}
    if pair:
        data["text_b"] = texts[::-1]
    return tf.data.Dataset.from_tensor_slices(data)


def test_classification_static_shapes_and_pairs(tokenizer):
    dataset = classification_dataset(
        _examples(pair=True), tokenizer, seq_len=16, batch_size=4, shuffle=True, seed=1,
        drop_remainder=True,
    )
    x, y = dataset.element_spec
    assert all(spec.shape.as_list() == [4, 16] for spec in x.values())
    assert y.shape.as_list() == [4] and y.dtype == tf.int32
    batches = _epoch(dataset)
    assert len(batches) == 39 // 4
    x, y = batches[0]
    assert set(np.unique(x["segment_ids"])) == {0, 1}
    assert (x["token_ids"][:, 0] == tokenizer.cls_id).all()
    labels = np.concatenate([y for _, y in batches])
    assert sorted(labels) != list(labels)  # shuffled


@pytest.mark.parametrize("layout", ["plain", "bucket_by_length", "pack"])
def test_classification_passes_do_not_depend_on_how_often_they_are_opened(tokenizer, layout):
    def passes(epochs, start_batch):
        return classification_dataset(
            _examples(pair=False), tokenizer, seq_len=32, batch_size=4, seed=5, epochs=epochs,
            start_batch=start_batch, **({} if layout == "plain" else {layout: True}),
        )

    assert_exact_passes(training_data(passes, None))


def test_classification_length_buckets(tokenizer):
    dataset = classification_dataset(
        _examples(pair=False), tokenizer, seq_len=64, batch_size=4, shuffle=False,
        bucket_by_length=True,
    )
    seen = 0
    for x, y in dataset:
        length = x["token_ids"].shape[1]
        assert length in (16, 32, 64)
        real = x["padding_mask"].numpy().sum(axis=1)
        assert real.max() <= length and (length == 16 or real.min() > length // 2)
        seen += len(y)
    assert seen == 39


def test_classification_rejects_wrong_elements(tokenizer):
    with pytest.raises(ValueError, match='"text", "label"'):
        classification_dataset(
            tf.data.Dataset.from_tensor_slices(["a"]), tokenizer, seq_len=8, batch_size=2
        )
