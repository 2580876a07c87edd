"""SegmentPacker: BERT's layout, truncation rule, padding and shapes."""

import itertools

import numpy as np
import tensorflow as tf

from keras_bert_impl.text import SegmentPacker

# A pad id other than 0, so that padding with 0 instead of pad_id fails.
CLS, SEP, PAD = 2, 3, 7


def _bert_reference(tokens_a, tokens_b, seq_len):
    """Original BERT: _truncate_seq_pair, then [CLS] A [SEP] B [SEP]."""
    tokens_a, tokens_b = list(tokens_a), list(tokens_b)
    if tokens_b:
        while len(tokens_a) + len(tokens_b) > seq_len - 3:
            (tokens_a if len(tokens_a) > len(tokens_b) else tokens_b).pop()
        ids = [CLS] + tokens_a + [SEP] + tokens_b + [SEP]
        segments = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    else:
        tokens_a = tokens_a[: seq_len - 2]
        ids = [CLS] + tokens_a + [SEP]
        segments = [0] * len(ids)
    pad = seq_len - len(ids)
    return ids + [PAD] * pad, segments + [0] * pad, [1] * len(ids) + [0] * pad


def test_pair_truncation_matches_original_bert():
    lengths = list(itertools.product(range(1, 13), range(1, 13)))
    segment_a = tf.ragged.constant([list(range(100, 100 + la)) for la, _ in lengths])
    segment_b = tf.ragged.constant([list(range(200, 200 + lb)) for _, lb in lengths])
    for seq_len in (5, 8, 11, 16, 30):
        packed = SegmentPacker(seq_len, cls_id=CLS, sep_id=SEP, pad_id=PAD)(segment_a, segment_b)
        for i, (la, lb) in enumerate(lengths):
            ids, segments, mask = _bert_reference(range(100, 100 + la), range(200, 200 + lb), seq_len)
            assert packed["token_ids"][i].numpy().tolist() == ids, (seq_len, la, lb)
            assert packed["segment_ids"][i].numpy().tolist() == segments
            assert packed["padding_mask"][i].numpy().tolist() == mask


def test_single_segment_truncates_end_and_pads():
    packer = SegmentPacker(6, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    packed = packer(tf.ragged.constant([[10, 11, 12, 13, 14, 15], [10], []]))
    np.testing.assert_array_equal(
        packed["token_ids"], [[2, 10, 11, 12, 13, 3], [2, 10, 3, 7, 7, 7], [2, 3, 7, 7, 7, 7]]
    )
    np.testing.assert_array_equal(packed["segment_ids"], np.zeros([3, 6]))
    np.testing.assert_array_equal(packed["padding_mask"][1], [1, 1, 1, 0, 0, 0])
    for value in packed.values():
        assert value.dtype == tf.int32 and value.shape == (3, 6)


def test_single_segment_dense_packing_equals_original_bert_and_tensorflow_text():
    import tensorflow_text as tf_text

    rows = [list(range(100, 100 + length)) for length in range(0, 19)]
    segment = tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1)
    for seq_len in (3, 5, 8, 16):
        packed = SegmentPacker(seq_len, cls_id=CLS, sep_id=SEP, pad_id=PAD)(segment)
        # The pair path's tools, on one segment: what this packer did before.
        ids, segments = tf_text.combine_segments([segment[:, : seq_len - 2]], CLS, SEP)
        text_ids, text_mask = tf_text.pad_model_inputs(ids, seq_len, pad_value=PAD)
        np.testing.assert_array_equal(packed["token_ids"], text_ids)
        np.testing.assert_array_equal(packed["padding_mask"], text_mask)
        np.testing.assert_array_equal(packed["segment_ids"], tf_text.pad_model_inputs(segments, seq_len)[0])
        for i, row in enumerate(rows):
            expected = _bert_reference(row, [], seq_len)
            assert [packed[name][i].numpy().tolist() for name in ("token_ids", "segment_ids", "padding_mask")] == list(
                expected
            ), (seq_len, len(row))


def test_single_example_and_static_shape_in_tf_function():
    packer = SegmentPacker(7, cls_id=101, sep_id=102, pad_id=9)
    one = packer(tf.constant([5, 6]), tf.constant([7]))
    assert one["token_ids"].numpy().tolist() == [101, 5, 6, 102, 7, 102, 9]
    single = packer(tf.constant([5, 6]))
    assert {name: value.numpy().tolist() for name, value in single.items()} == {
        "token_ids": [101, 5, 6, 102, 9, 9, 9],
        "segment_ids": [0] * 7,
        "padding_mask": [1, 1, 1, 1, 0, 0, 0],
    }

    for segments in (1, 2):
        pack = tf.function(lambda *rows: packer(*rows), input_signature=[tf.RaggedTensorSpec([None, None], tf.int32)] * segments)
        out = pack.get_concrete_function().structured_outputs
        assert all(v.shape.as_list() == [None, 7] for v in out.values()), segments


def test_config_round_trip():
    packer = SegmentPacker(9, cls_id=101, sep_id=102, pad_id=0)
    clone = SegmentPacker.from_config(packer.get_config())
    assert (clone.seq_len, clone.cls_id, clone.sep_id, clone.pad_id) == (9, 101, 102, 0)
