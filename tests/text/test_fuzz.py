"""Property-based tests of the tokenizer, packer and masker on arbitrary input.

Hypothesis draws any Unicode text (every plane, combining marks, controls,
CJK, right-to-left, U+0000) and any bytes (invalid UTF-8 included); the
properties are the promises the rest of the package relies on: nothing
crashes, shapes are always right, ids stay in the vocabulary, special tokens
are never masked, and a batch gives the same result as its rows one by one.
"""

import numpy as np
import pytest
import tensorflow as tf
from support.fuzz import HealthCheck, given, settings, st

from keras_bert_impl.text import MlmMasker, SegmentPacker, Tokenizer

# Special tokens away from 0-4, as in real BERT vocabularies; "##" pieces,
# accents, CJK and punctuation, so that every tokenizer path is taken.
VOCAB = (
    ["[PAD]", "a", "b", "the", "cat"]
    + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + ["##s", "##ed", "##a", "##b", "é", "ü", "中", "文", "!", ".", "#", "[", "]", "mask", "ab", "x", "##x"]
)
TOKENIZER = Tokenizer(VOCAB, lowercase=True)
CASED = Tokenizer(VOCAB, lowercase=False)
SPECIAL = set(TOKENIZER.special_ids)
NEVER_FROM_TEXT = {TOKENIZER.pad_id, TOKENIZER.cls_id, TOKENIZER.sep_id, TOKENIZER.mask_id}

# Each example runs TensorFlow eagerly; these counts keep the file near 30 s.
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Texts made mostly of what the vocabulary knows, with anything mixed in.
known_text = st.lists(
    st.sampled_from(["a", "b", "the", "cats", "ab", "abx", "é", "中文", "!", " ", "  ", "#", "[MASK]", "\t", "Ü"])
    | st.text(max_size=3),
    max_size=12,
).map("".join)
any_text = st.text(max_size=40) | known_text
any_bytes = st.binary(max_size=40) | any_text.map(lambda t: t.encode("utf-8"))


def _rows(ragged):
    return [list(row) for row in ragged.numpy()] if isinstance(ragged, tf.RaggedTensor) else ragged


@FUZZ
@given(st.lists(any_bytes, min_size=1, max_size=4), st.booleans())
def test_tokenizer_never_fails_and_ids_stay_in_the_vocabulary(texts, lowercase):
    tokenizer = TOKENIZER if lowercase else CASED
    ids = tokenizer(tf.constant(texts, tf.string))
    assert ids.shape[0] == len(texts)
    flat = ids.flat_values.numpy()
    assert ids.dtype == tf.int32
    assert ((flat >= 0) & (flat < len(VOCAB))).all()
    assert not set(flat.tolist()) & NEVER_FROM_TEXT, "text produced a special token other than [UNK]"
    # A batch is its rows tokenized one by one, and words merge into the same ids.
    assert _rows(ids) == [list(tokenizer(text).numpy()) for text in texts]
    assert _rows(tokenizer.tokenize_words(tf.constant(texts)).merge_dims(-2, -1)) == _rows(ids)


@FUZZ
@given(st.lists(any_text, min_size=1, max_size=3))
def test_detokenized_text_tokenizes_to_the_same_ids_without_unk(texts):
    ids = TOKENIZER(tf.constant(texts))
    again = TOKENIZER(TOKENIZER.detokenize(ids))
    for row, row_again in zip(_rows(ids), _rows(again)):
        if TOKENIZER.unk_id not in row:
            assert row_again == row


segments = st.lists(st.lists(st.integers(9, len(VOCAB) - 1), max_size=30), min_size=1, max_size=4)


@FUZZ
@given(segments, st.one_of(st.none(), segments), st.integers(3, 40))
def test_packer_shapes_truncation_and_layout(segment_a, segment_b, seq_len):
    if segment_b is not None:
        segment_b = (segment_b * len(segment_a))[: len(segment_a)]
    packer = SegmentPacker.from_tokenizer(TOKENIZER, seq_len)
    packed = packer(_ragged(segment_a), None if segment_b is None else _ragged(segment_b))
    packed = {name: value.numpy() for name, value in packed.items()}
    for value in packed.values():
        assert value.shape == (len(segment_a), seq_len) and value.dtype == np.int32
    budget = seq_len - (2 if segment_b is None else 3)
    for row in range(len(segment_a)):
        a = segment_a[row]
        b = [] if segment_b is None else segment_b[row]
        tokens, types, mask = (packed[n][row] for n in ("token_ids", "segment_ids", "padding_mask"))
        length = int(mask.sum())
        assert (mask[:length] == 1).all() and (mask[length:] == 0).all()
        assert (tokens[length:] == TOKENIZER.pad_id).all() and (types[length:] == 0).all()
        assert tokens[0] == TOKENIZER.cls_id
        # Split the row at its [SEP]s: A and B are prefixes of the inputs.
        seps = np.flatnonzero(tokens[:length] == TOKENIZER.sep_id).tolist()
        assert len(seps) == (1 if segment_b is None else 2) and seps[-1] == length - 1
        kept_a = tokens[1 : seps[0]].tolist()
        kept_b = tokens[seps[0] + 1 : seps[-1]].tolist() if segment_b is not None else []
        assert kept_a == a[: len(kept_a)] and kept_b == b[: len(kept_b)]
        assert len(kept_a) + len(kept_b) == min(len(a) + len(b), budget)
        if len(kept_a) < len(a) and len(kept_b) < len(b):
            assert len(kept_a) - len(kept_b) in (0, 1)  # the longer one lost tokens first
        assert (types[: seps[0] + 1] == 0).all() and (types[seps[0] + 1 : length] == 1).all()


def _ragged(rows):
    return tf.RaggedTensor.from_row_lengths(
        tf.constant([t for row in rows for t in row], tf.int32), [len(row) for row in rows]
    )


@settings(FUZZ, max_examples=25)
@given(
    st.lists(any_bytes, min_size=1, max_size=4),
    st.integers(3, 24),
    st.integers(1, 8),
    st.booleans(),
    st.tuples(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1)),
)
def test_masker_on_tokenized_text_never_masks_special_tokens(texts, seq_len, max_predictions, whole_word, seed):
    packer = SegmentPacker.from_tokenizer(TOKENIZER, seq_len)
    token_ids = packer(TOKENIZER(tf.constant(texts)))["token_ids"]
    masker = MlmMasker.from_tokenizer(TOKENIZER, max_predictions=max_predictions, whole_word=whole_word)
    out = {name: value.numpy() for name, value in masker(token_ids, seed=tf.constant(seed)).items()}
    original = token_ids.numpy()
    batch = len(texts)
    assert out["token_ids"].shape == (batch, seq_len) and out["token_ids"].dtype == np.int32
    for name in ("mask_positions", "mask_ids", "mask_weights"):
        assert out[name].shape == (batch, max_predictions), name
    assert ((out["token_ids"] >= 0) & (out["token_ids"] < len(VOCAB))).all()
    for row in range(batch):
        weights = out["mask_weights"][row]
        count = int(weights.sum())
        assert (weights[:count] == 1).all() and (weights[count:] == 0).all()
        positions = out["mask_positions"][row][:count]
        assert len(set(positions.tolist())) == count and ((positions >= 0) & (positions < seq_len)).all()
        assert not set(original[row][positions].tolist()) & SPECIAL, "a special token was masked"
        np.testing.assert_array_equal(out["mask_ids"][row][:count], original[row][positions])
        assert (out["mask_positions"][row][count:] == 0).all() and (out["mask_ids"][row][count:] == 0).all()
        # Only chosen positions change, and into [MASK] or a non-special token.
        changed = np.flatnonzero(out["token_ids"][row] != original[row])
        assert set(changed.tolist()) <= set(positions.tolist())
        for value in out["token_ids"][row][changed]:
            assert value == TOKENIZER.mask_id or value not in SPECIAL
        maskable = int(np.sum(~np.isin(original[row], list(SPECIAL))))
        assert count <= min(max_predictions, maskable)
        assert count >= 1 or maskable == 0 or whole_word


@pytest.mark.parametrize("text", ["", "\x00", "\ufffd", " \u200b\u200d", "a" * 101, "[MASK]" * 20, "\U0010ffff"])
def test_edge_texts_pack_and_mask(text):
    packer = SegmentPacker.from_tokenizer(TOKENIZER, 8)
    token_ids = packer(TOKENIZER(tf.constant([text])))["token_ids"]
    masked = MlmMasker.from_tokenizer(TOKENIZER, max_predictions=2)(token_ids, seed=tf.constant([1, 2]))
    assert masked["token_ids"].shape == (1, 8)
