"""Round-robin trimming of one or two token segments to a shared budget.

Tokens are kept one round at a time, segment A then segment B, until the
budget is spent: when a pair is too long, the longer segment loses tokens
from its end first (ties shorten B). That is original BERT's
`_truncate_seq_pair` and the result of `tensorflow_text.RoundRobinTrimmer`.

Written by hand, with core TensorFlow ops only, because of TF Serving:
`tensorflow_text.RoundRobinTrimmer` runs the `TFText>RoundRobinTrim` kernel,
which tensorflow-text 2.12 (the one built into the stock `tensorflow/serving`
images) does not register, so an export using it would not load there.

Example:
    >>> a = tf.ragged.constant([[1, 2, 3, 4], [1]])
    >>> b = tf.ragged.constant([[5, 6, 7], [5, 6, 7]])
    >>> [s.to_list() for s in trim_round_robin([a, b], budget=4)]
    [[[1, 2], [1]], [[5, 6], [5, 6, 7]]]
"""

import tensorflow as tf


def trim_round_robin(segments, budget):
    """Each row of the segments cut so their lengths sum to at most `budget`.

    Args:
        segments: list of one or two RaggedTensors [batch, (tokens)] with the
            same batch size.
        budget: a non-negative Python int, the most tokens a row keeps over
            all segments.

    Returns:
        list of the trimmed RaggedTensors, in the order given.
    """
    if len(segments) not in (1, 2):
        raise ValueError(f"{len(segments)} segments: expected 1 or 2")
    if budget < 0:
        raise ValueError(f"budget={budget}: expected at least 0")
    lengths = [segment.row_lengths() for segment in segments]
    kept = _kept_lengths(lengths, tf.constant(budget, lengths[0].dtype))
    return [_keep_first(segment, count) for segment, count in zip(segments, kept)]


def _kept_lengths(lengths, budget):
    """How many tokens each segment keeps per row, by the round-robin rule."""
    if len(lengths) == 1:
        return [tf.minimum(lengths[0], budget)]
    length_a, length_b = lengths
    # B gets half the budget (rounded down) unless A leaves it more; A takes
    # whatever B leaves.
    kept_b = tf.minimum(length_b, tf.maximum(budget - length_a, budget // 2))
    kept_a = tf.minimum(length_a, budget - kept_b)
    return [kept_a, kept_b]


def _keep_first(segment, counts):
    """The first `counts[i]` tokens of each row `i` of `segment`."""
    row_of_token = segment.value_rowids()
    position_in_row = tf.range(tf.shape(row_of_token, out_type=row_of_token.dtype)[0]) - tf.gather(
        segment.row_starts(), row_of_token
    )
    keep = position_in_row < tf.gather(counts, row_of_token)
    return tf.RaggedTensor.from_row_lengths(
        tf.boolean_mask(segment.values, keep), counts, validate=False
    )
