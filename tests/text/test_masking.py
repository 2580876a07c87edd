"""MlmMasker statistics and rules; BERT segment / NSP pair sampling."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_impl.text import MlmMasker, sample_pretraining_pairs
from keras_bert_impl.text.masking import IS_NEXT, NOT_NEXT, pair_token_budget, truncate_pair

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIAL = (PAD, UNK, CLS, SEP, MASK)
VOCAB_SIZE = 1000


def _vocab(continuations=()):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += [("##" if i in continuations else "") + f"t{i}" for i in range(5, VOCAB_SIZE)]
    return tokens


def _packed_batch(rng, rows, seq_len):
    """[CLS] A [SEP] B [SEP] [PAD]... with random lengths and a few [UNK]s."""
    batch = np.zeros([rows, seq_len], np.int32)
    for row in range(rows):
        length = rng.integers(4, seq_len + 1)
        tokens = rng.integers(5, VOCAB_SIZE, size=length)
        tokens[rng.random(length) < 0.02] = UNK
        split = rng.integers(1, length - 2)
        tokens[0], tokens[split], tokens[length - 1] = CLS, SEP, SEP
        batch[row, :length] = tokens
    return batch


def _masker(**kwargs):
    return MlmMasker(_vocab(), special_ids=SPECIAL, mask_id=MASK, **kwargs)


def _within(observed, expected_rate, n, sigmas=5):
    return abs(observed - expected_rate * n) <= sigmas * math.sqrt(n * expected_rate * (1 - expected_rate))


def test_selection_and_80_10_10_rates():
    ids = _packed_batch(np.random.default_rng(0), rows=1024, seq_len=64)
    out = {k: v.numpy() for k, v in _masker(max_predictions=20)(ids, seed=[3, 4]).items()}
    maskable = ~np.isin(ids, SPECIAL)
    predicted = out["mask_weights"].sum(axis=1).astype(int)
    count = maskable.sum(axis=1)
    expected = np.minimum(count, np.minimum(20, np.maximum(1, np.round(count * 0.15))))
    np.testing.assert_array_equal(predicted, expected)

    rows, slots = np.nonzero(out["mask_weights"])
    positions = out["mask_positions"][rows, slots]
    original = ids[rows, positions]
    assert maskable[rows, positions].all(), "a special token was selected"
    np.testing.assert_array_equal(out["mask_ids"][rows, slots], original)
    replaced = out["token_ids"][rows, positions]
    n = len(original)
    as_mask = (replaced == MASK).sum()
    kept = (replaced == original).sum()
    random_token = n - as_mask - kept
    assert _within(as_mask, 0.8, n) and _within(kept, 0.1, n, sigmas=6)
    assert _within(random_token, 0.1, n, sigmas=6)
    assert not np.isin(replaced[replaced != original], SPECIAL[:4]).any()

    # Everything not selected is untouched; padding slots hold 0.
    untouched = np.ones_like(ids, bool)
    untouched[rows, positions] = False
    np.testing.assert_array_equal(out["token_ids"][untouched], ids[untouched])
    assert (out["mask_positions"][out["mask_weights"] == 0] == 0).all()

    # Every position is as likely to be chosen: first and second half of the
    # maskable tokens share the selections about evenly.
    first_half = positions < 32
    share = maskable[:, :32].sum() / maskable.sum()
    assert _within(first_half.sum(), share, n)


def test_random_replacements_are_never_special():
    ids = _packed_batch(np.random.default_rng(1), rows=256, seq_len=32)
    masker = _masker(max_predictions=32, selection_rate=1.0, mask_token_rate=0.0, random_token_rate=1.0)
    out = masker(ids, seed=[0, 1])
    replaced = out["token_ids"].numpy()[~np.isin(ids, SPECIAL)]
    assert not np.isin(replaced, SPECIAL).any()
    assert (replaced != ids[~np.isin(ids, SPECIAL)]).mean() > 0.99


def test_max_predictions_cap_and_at_least_one():
    ids = np.array(
        [[CLS] + list(range(5, 105)) + [SEP], [CLS, 7, SEP] + [PAD] * 99, [CLS, SEP, UNK, SEP] + [PAD] * 98],
        np.int32,
    )
    out = _masker(max_predictions=5)(ids, seed=[1, 1])
    np.testing.assert_array_equal(out["mask_weights"].numpy().sum(axis=1), [5, 1, 0])
    assert out["mask_positions"].numpy()[1, 0] == 1
    assert out["mask_positions"].shape == (3, 5) and out["mask_ids"].dtype == tf.int32


def test_whole_word_groups_are_masked_together():
    rng = np.random.default_rng(2)
    continuations = set(range(500, VOCAB_SIZE))  # ids >= 500 are "##" pieces
    masker = MlmMasker(
        _vocab(continuations), special_ids=SPECIAL, mask_id=MASK, max_predictions=12, whole_word=True
    )
    ids = _packed_batch(rng, rows=512, seq_len=48)
    out = {k: v.numpy() for k, v in masker(ids, seed=[5, 6]).items()}
    total = 0
    for row in range(len(ids)):
        chosen = set(out["mask_positions"][row][out["mask_weights"][row] > 0])
        total += len(chosen)
        assert len(chosen) <= 12
        for position in range(1, ids.shape[1]):
            # A "##" piece shares its fate with the piece before it, unless
            # that one is special (then it starts its own word).
            if ids[row, position] >= 500 and ids[row, position - 1] not in SPECIAL:
                assert (position in chosen) == (position - 1 in chosen), (row, position)
    maskable = (~np.isin(ids, SPECIAL)).sum()
    assert 0.12 < total / maskable <= 0.16


def test_same_seed_same_masks_other_seed_other_masks():
    ids = _packed_batch(np.random.default_rng(3), rows=64, seq_len=32)
    masker = _masker(max_predictions=8)
    first, again, other = (masker(ids, seed=s)["token_ids"].numpy() for s in ([1, 2], [1, 2], [1, 3]))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def _documents(count, sentences, tokens_per_sentence):
    """Token ids encode (document, sentence): 100 * document + sentence."""
    return [
        [np.full([tokens_per_sentence], 100 * d + s, np.int32) for s in range(sentences)]
        for d in range(count)
    ]


def test_nsp_pairs_half_random_from_another_document():
    documents = _documents(200, 8, 5)
    rng = np.random.default_rng(0)
    labels = []
    for d, document in enumerate(documents):
        other = documents[(d + 1) % len(documents)]
        for a, b, label in sample_pretraining_pairs(
            document, other, max_num_tokens=29, nsp=True, short_seq_prob=0.0, rng=rng
        ):
            labels.append(label)
            a_docs, b_docs = set(a // 100), set(b // 100)
            assert a_docs == {d}
            assert len(a) + len(b) <= 29  # truncate_pair trims the overflow
            if label == IS_NEXT:
                assert b_docs == {d} and b[0] % 100 == a[-1] % 100 + 1  # B is the next sentence
            else:
                assert b_docs == {(d + 1) % len(documents)}
    assert _within(np.sum(np.array(labels) == NOT_NEXT), 0.5, len(labels))


def test_segments_without_nsp_are_consecutive_sentences():
    documents = _documents(20, 10, 4)
    rng = np.random.default_rng(1)
    for document in documents:
        instances = sample_pretraining_pairs(
            document, [], max_num_tokens=12, nsp=False, short_seq_prob=0.0, rng=rng
        )
        sentences = [list(dict.fromkeys(a.tolist())) for a, _, _ in instances]
        assert sum(sentences, []) == [s[0] for s in document]  # all, in order
        assert all(len(a) == 12 and len(b) == 0 for a, b, _ in instances[:-1])


def test_truncation_cuts_the_longer_segment_at_both_ends():
    rng = np.random.default_rng(0)
    a, b = np.arange(10), np.arange(100, 104)
    fronts, backs = set(), set()
    for _ in range(20):
        short_a, short_b = truncate_pair(a, b, 8, rng)
        assert len(short_a) + len(short_b) == 8 and list(short_b) == list(b)
        fronts.add(short_a[0])
        backs.add(short_a[-1])
    assert len(fronts) > 1 and len(backs) > 1


def test_pairs_over_the_budget_are_cut_at_either_end():
    # One 40-token sentence: no cut between sentences can bring it under 12.
    document = [np.arange(40, dtype=np.int32)]
    firsts = set()
    for seed in range(10):
        (a, b, _), = sample_pretraining_pairs(
            document, [], max_num_tokens=12, nsp=False, short_seq_prob=0.0, rng=np.random.default_rng(seed)
        )
        assert len(a) == 12 and len(b) == 0 and list(a) == list(range(a[0], a[0] + 12))
        firsts.add(int(a[0]))
    assert len(firsts) > 1  # not always the first 12 tokens


@pytest.mark.parametrize("bad", [{"max_predictions": 0}, {"max_predictions": 5, "mask_token_rate": 0.95}])
def test_bad_settings_raise(bad):
    with pytest.raises(ValueError):
        _masker(**bad)


def test_the_pair_token_budget_leaves_room_for_the_special_tokens():
    assert (pair_token_budget(128, nsp=True), pair_token_budget(128, nsp=False)) == (125, 126)
