"""Overlapping windows: coverage, home windows and BERT's doc spans.

The reference below restates original BERT's `run_squad.py` rules in plain
Python with exact fractions (doc spans with a stride; the window with the
highest min(left, right) + 0.01 * length is home, the first one on ties),
and the in-graph windows must agree with it on any lengths, window sizes and
strides hypothesis draws.
"""

from fractions import Fraction

import numpy as np
import pytest
import tensorflow as tf
from support.fuzz import HealthCheck, given, settings, st

from keras_bert_impl.text import SegmentPacker, make_windows, window_starts

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_starts(length, window_len, stride):
    starts, start = [], 0
    while True:
        starts.append(start)
        if start + min(window_len, length - start) >= length:
            return starts
        start += min(window_len, stride)


def reference_home(length, window_len, starts):
    homes = []
    for position in range(length):
        best, home = None, -1
        for index, start in enumerate(starts):
            size = min(window_len, length - start)
            if not start <= position < start + size:
                continue
            score = min(position - start, start + size - 1 - position) + Fraction(size, 100)
            if best is None or score > best:
                best, home = score, index
        homes.append(home)
    return homes


sequences = st.lists(
    st.tuples(st.integers(0, 400), st.integers(1, 60)), min_size=1, max_size=4
)


@FUZZ
@given(sequences=sequences, stride=st.integers(1, 80))
def test_windows_match_bert_doc_spans_and_max_context(sequences, stride):
    lengths = [length for length, _ in sequences]
    window_lens = [window_len for _, window_len in sequences]
    windows = make_windows(tf.constant(lengths), tf.constant(window_lens), stride)
    for row, (length, window_len) in enumerate(sequences):
        starts = reference_starts(length, window_len, stride)
        assert windows.starts[row].numpy().tolist() == starts
        assert windows.home[row].numpy().tolist() == reference_home(length, window_len, starts)


@FUZZ
@given(sequences=sequences, stride=st.integers(1, 80))
def test_every_token_has_one_home_inside_a_window(sequences, stride):
    lengths = [length for length, _ in sequences]
    windows = make_windows(tf.constant(lengths), tf.constant([w for _, w in sequences]), stride)
    positions = windows.positions.to_list()
    is_home = windows.is_home.to_list()
    for row, length in enumerate(lengths):
        held = [p for window in positions[row] for p in window]
        assert sorted(set(held)) == list(range(length))
        home_positions = [p for window, flags in zip(positions[row], is_home[row]) for p, f in zip(window, flags) if f]
        assert sorted(home_positions) == list(range(length))
        assert all(len(window) <= sequences[row][1] for window in positions[row])
        assert all(window == list(range(window[0], window[0] + len(window))) for window in positions[row] if window)


def test_docstring_example_and_packing_for_question_answering():
    context = tf.ragged.constant([[10, 11, 12, 13, 14, 15, 16]])
    windows = make_windows(context.row_lengths(), window_len=4, stride=2)
    assert windows.take(context).to_list() == [[[10, 11, 12, 13], [12, 13, 14, 15], [14, 15, 16]]]
    assert windows.home.to_list() == [[0, 0, 0, 1, 1, 2, 2]]
    rows = windows.take(context).merge_dims(0, 1)
    question = tf.gather(tf.ragged.constant([[5, 6]]), windows.example_index)
    inputs = SegmentPacker(9, cls_id=2, sep_id=3, pad_id=0)(question, rows)
    np.testing.assert_array_equal(inputs["token_ids"][2], [2, 5, 6, 3, 14, 15, 16, 3, 0])


def test_empty_sequence_gets_one_empty_window():
    windows = make_windows(tf.constant([0, 2]), window_len=3, stride=1)
    assert windows.starts.to_list() == [[0], [0]]
    assert windows.positions.to_list() == [[[]], [[0, 1]]]
    assert windows.example_index.numpy().tolist() == [0, 1]


def test_max_windows_keeps_the_first_windows_and_leaves_the_rest_homeless():
    windows = make_windows(tf.constant([10]), window_len=4, stride=4, max_windows=2)
    assert windows.starts.to_list() == [[0, 4]]
    assert windows.home.to_list() == [[0, 0, 0, 0, 1, 1, 1, 1, -1, -1]]


def test_take_windows_any_per_token_feature_and_nested_ragged():
    pieces = tf.ragged.constant([[[1], [2, 3], [4]], [[5, 6]]])
    windows = make_windows(pieces.row_lengths(), window_len=2, stride=1)
    assert windows.take(pieces).to_list() == [[[[1], [2, 3]], [[2, 3], [4]]], [[[5, 6]]]]


def test_runs_in_tf_data_and_tf_function_with_static_packed_shape():
    dataset = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1, 2, 3, 4, 5], [6]])).batch(2)
    packer = SegmentPacker(6, cls_id=2, sep_id=3, pad_id=0)

    def to_windows(tokens):
        windows = make_windows(tokens.row_lengths(), window_len=4, stride=2)
        return packer(windows.take(tokens).merge_dims(0, 1))["token_ids"], windows.starts

    token_ids, starts = next(iter(dataset.map(to_windows)))
    assert token_ids.shape.as_list() == [3, 6]
    assert starts.to_list() == [[0, 2], [0]]
    assert tf.function(window_starts)(tf.constant([9]), 4, 3).to_list() == [[0, 3, 6]]


def test_window_len_tensor_must_be_positive():
    with pytest.raises(tf.errors.InvalidArgumentError, match="window_len"):
        make_windows(tf.constant([3]), window_len=tf.constant(0), stride=1)


@pytest.mark.parametrize("window_len, stride, named", [(4, 0, "stride"), (4, -2, "stride"), (0, 2, "window_len")])
def test_sizes_below_one_are_rejected_by_name(window_len, stride, named):
    for function in (make_windows, window_starts):
        with pytest.raises(ValueError, match=f"{named} must be at least 1, got {min(window_len, stride)}"):
            function(tf.constant([7]), window_len, stride)
