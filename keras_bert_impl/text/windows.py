"""Overlapping windows over token sequences longer than the model, in-graph.

A sequence of `n` tokens is cut into windows of at most `window_len` tokens
whose starts are `stride` tokens apart (0, stride, 2 * stride, ...), until a
window reaches the end: original BERT's "doc spans" of `run_squad.py`, where
`stride` is its `doc_stride`. Every token lies in at least one window, and an
empty sequence still gets one (empty) window, so every example gives output.

Each token has one *home* window: the one where it has the most context on
both sides, as in BERT's `_check_is_max_context`: the score of token `p` in
a window starting at `s` with `k` tokens is
`min(p - s, s + k - 1 - p) + 0.01 * k`, the highest score wins, and the
earliest window wins a tie. Decoders keep a prediction for a token only from
its home window, so each token is predicted once, where it sees most.

Everything is TensorFlow ops on ragged tensors, so the same code runs in
`tf.data`, in a serving signature and eagerly. The windows of a batch come out
as `[batch, (windows), (tokens)]`; merge the first two dimensions to get one
row per window, then pack them to static `[rows, seq_len]` model inputs (with
`SegmentPacker`) and map outputs back with `starts` and `example_index`.

Example (question answering: `[CLS] question [SEP] window [SEP]`):
    >>> context = tf.ragged.constant([[10, 11, 12, 13, 14, 15, 16]])
    >>> windows = make_windows(context.row_lengths(), window_len=4, stride=2)
    >>> windows.starts
    <tf.RaggedTensor [[0, 2, 4]]>
    >>> windows.take(context)
    <tf.RaggedTensor [[[10, 11, 12, 13], [12, 13, 14, 15], [14, 15, 16]]]>
    >>> windows.home
    <tf.RaggedTensor [[0, 0, 0, 1, 1, 2, 2]]>
    >>> rows = windows.take(context).merge_dims(0, 1)   # one row per window
    >>> question = tf.gather(tf.ragged.constant([[5, 6]]), windows.example_index)
    >>> inputs = SegmentPacker(9, cls_id=2, sep_id=3, pad_id=0)(question, rows)

For token classification or long-text classification the window is the whole
`seq_len - 2` tokens between `[CLS]` and `[SEP]`; for question answering it is
`seq_len - 3 - question length`, which differs per example, so `window_len`
may be a `[batch]` tensor.
"""

from typing import NamedTuple

import tensorflow as tf

from keras_bert_impl.text.packing import SegmentPacker

# BERT's home score is min context + 0.01 * window length; scaled by 100 it
# is an integer, so ties are exact rather than subject to float rounding.
_CONTEXT_WEIGHT = 100


class TokenWindows(NamedTuple):
    """Where the windows of a batch of sequences lie.

    A `NamedTuple` of tensors, so it passes through `tf.data` and
    `tf.function` like any nested structure.

    Attributes:
        starts: int32 RaggedTensor [batch, (windows)]: each window's first
            token, as an offset into its example's sequence.
        positions: int32 RaggedTensor [batch, (windows), (tokens)]: the
            sequence offset of every token of every window.
        home: int32 RaggedTensor [batch, (tokens)]: each token's home window
            (an index into that example's windows), -1 for a token that no
            window holds (possible only with `max_windows`).
    """

    starts: tf.RaggedTensor
    positions: tf.RaggedTensor
    home: tf.RaggedTensor

    @property
    def example_index(self):
        """int [total windows]: the example each window comes from."""
        return self.starts.value_rowids()

    def take(self, sequences):
        """The windows of `sequences` or of any per-token feature.

        Args:
            sequences: RaggedTensor [batch, (tokens), ...] whose rows have the
                lengths the windows were made for (token ids, character
                offsets, word ids, labels...).

        Returns:
            RaggedTensor [batch, (windows), (tokens), ...].
        """
        token_rows = tf.gather(self.positions.value_rowids(), self.positions.values.value_rowids())
        flat_index = tf.gather(sequences.row_starts(), token_rows) + tf.cast(
            self.positions.flat_values, sequences.row_splits.dtype
        )
        return self.positions.with_flat_values(tf.gather(sequences.values, flat_index))

    @property
    def is_home(self):
        """bool RaggedTensor [batch, (windows), (tokens)]: token is home here."""
        window_of_token = tf.cast(self.positions.values.value_rowids(), tf.int32)
        first_window = tf.cast(tf.gather(self.starts.row_starts(), self.positions.value_rowids()), tf.int32)
        local_window = window_of_token - tf.gather(first_window, window_of_token)
        home = self.take(self.home)
        return home.with_flat_values(home.flat_values == local_window)


def make_windows(lengths, window_len, stride, max_windows=None):
    """Windows over sequences of the given lengths.

    Args:
        lengths: int [batch]: tokens per sequence (`ragged.row_lengths()`).
        window_len: int, or int [batch]: most tokens in one window (>= 1).
        stride: int: tokens between consecutive window starts. A stride
            longer than a window would leave gaps, so it is capped at
            `window_len` (as BERT does).
        max_windows: keep only the first `max_windows` windows of each
            sequence (the tokens after them then have no window); None keeps
            all, which is what guarantees every token a window.

    Returns:
        `TokenWindows`.

    Raises:
        ValueError: `window_len` or `stride`, given as a Python int, is below 1.
    """
    _check_positive(window_len=window_len, stride=stride)
    lengths = tf.cast(lengths, tf.int32)
    window_len = tf.broadcast_to(tf.cast(window_len, tf.int32), tf.shape(lengths))
    tf.debugging.assert_positive(window_len, message="window_len must be at least 1")
    step = tf.minimum(tf.cast(stride, tf.int32), window_len)
    starts = window_starts(lengths, window_len, step, max_windows)
    sizes = _window_sizes(starts, lengths, window_len)
    positions = tf.RaggedTensor.from_row_splits(
        tf.ragged.range(starts.values, starts.values + sizes.values), starts.row_splits
    )
    home = _home_windows(lengths, window_len, step, tf.cast(starts.row_lengths(), tf.int32))
    return TokenWindows(starts=starts, positions=positions, home=home)


def default_stride(seq_len):
    """Half a window of `seq_len - 2` tokens: each token then has at least a
    quarter window of context."""
    return max(1, (seq_len - 2) // 2)


def pack_windows(tokenizer, token_ids, seq_len, stride, max_windows=None):
    """Packed `[CLS] window [SEP]` rows of every window of every sequence.

    The windows of token classification and long-text classification: each
    holds `seq_len - 2` tokens.

    Args:
        tokenizer: the model's `Tokenizer` (for the special ids).
        token_ids: int RaggedTensor [batch, (tokens)].
        seq_len: packed row length, [CLS] and [SEP] included (>= 3).
        stride: tokens between window starts.
        max_windows: keep each sequence's first `max_windows` windows only.

    Returns:
        `(windows, inputs)`: the `TokenWindows` and the model inputs, int32
        [total windows, seq_len], rows in `windows.example_index` order.
    """
    windows = make_windows(token_ids.row_lengths(), seq_len - 2, stride, max_windows)
    rows = windows.take(token_ids).merge_dims(0, 1)
    return windows, SegmentPacker.from_tokenizer(tokenizer, seq_len)(rows)


def window_starts(lengths, window_len, stride, max_windows=None):
    """Each window's first-token offset, for sequences of `lengths` tokens.

    Args:
        lengths: int [batch].
        window_len: int or int [batch] (>= 1).
        stride: int or int [batch] (capped at `window_len`).
        max_windows: optional cap on windows per sequence.

    Returns:
        int32 RaggedTensor [batch, (windows)]: 0, stride, 2 * stride, ... up to
        the first window that reaches the end (one window for length 0).

    Raises:
        ValueError: `window_len` or `stride`, given as a Python int, is below 1.
    """
    _check_positive(window_len=window_len, stride=stride)
    lengths = tf.cast(lengths, tf.int32)
    window_len = tf.broadcast_to(tf.cast(window_len, tf.int32), tf.shape(lengths))
    stride = tf.minimum(tf.cast(stride, tf.int32), window_len)
    counts = 1 + tf.maximum(0, _ceil_div(lengths - window_len, stride))
    if max_windows is not None:
        counts = tf.minimum(counts, max_windows)
    window_index = tf.ragged.range(counts)
    return window_index.with_values(window_index.values * tf.gather(stride, window_index.value_rowids()))


def _check_positive(**sizes):
    """Python ints below 1 fail here with their name, not as a division by
    zero deep in the graph; tensors are checked where they are used."""
    for name, value in sizes.items():
        if isinstance(value, int) and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")


def _window_sizes(starts, lengths, window_len):
    """Tokens in each window: `window_len`, or fewer in a final one."""
    row = starts.value_rowids()
    return starts.with_values(
        tf.minimum(tf.gather(window_len, row), tf.gather(lengths, row) - starts.values)
    )


def _home_windows(lengths, window_len, step, num_windows):
    """Each token's home window, -1 where no window holds it.

    Only windows k with k * step <= p < k * step + window_len can hold token
    p: at most ceil(window_len / step) consecutive ones from
    ceil((p - window_len + 1) / step), so only those are scored.
    """
    tokens = tf.ragged.range(lengths)
    row = tokens.value_rowids()
    position = tokens.values
    row_window_len, row_step = tf.gather(window_len, row), tf.gather(step, row)
    first_candidate = tf.maximum(0, _ceil_div(position - row_window_len + 1, row_step))
    most_candidates = tf.reduce_max(tf.concat([[1], _ceil_div(window_len, step)], axis=0))
    candidate = first_candidate[:, tf.newaxis] + tf.range(most_candidates)[tf.newaxis, :]
    start = candidate * row_step[:, tf.newaxis]
    row_length = tf.gather(lengths, row)[:, tf.newaxis]
    size = tf.minimum(row_window_len[:, tf.newaxis], row_length - start)
    left, right = position[:, tf.newaxis] - start, start + size - 1 - position[:, tf.newaxis]
    holds = (left >= 0) & (right >= 0) & (candidate < tf.gather(num_windows, row)[:, tf.newaxis])
    score = tf.cast(_CONTEXT_WEIGHT * tf.minimum(left, right) + size, tf.int64)
    # tf.argmax does not promise the first of equal values: rank ties by
    # candidate order explicitly (the earliest window wins, as in BERT).
    order = tf.cast(most_candidates - 1 - tf.range(most_candidates), tf.int64)
    key = tf.where(holds, score * tf.cast(most_candidates, tf.int64) + order, -1)
    best = tf.argmax(key, axis=1, output_type=tf.int32)
    home = tf.where(tf.reduce_any(holds, axis=1), first_candidate + best, -1)
    return tokens.with_values(home)


def _ceil_div(numerator, denominator):
    return -tf.math.floordiv(-numerator, denominator)
