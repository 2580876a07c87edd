"""trim_round_robin: the same segments as tensorflow-text's RoundRobinTrimmer, with core ops only."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_impl.text import trim_round_robin


def _random_segment(rng, batch, max_length, offset):
    """A ragged batch of distinct ids; about a fifth of the rows are empty."""
    lengths = rng.integers(0, max_length + 1, size=batch) * (rng.random(batch) > 0.2)
    return tf.ragged.constant([list(range(offset, offset + n)) for n in lengths], dtype=tf.int32,
                              ragged_rank=1, inner_shape=())


@pytest.mark.parametrize("num_segments", [1, 2])
def test_equals_tensorflow_text_round_robin_trimmer_on_random_batches(num_segments):
    rng = np.random.default_rng(num_segments)
    for trial in range(20):
        batch, max_length = int(rng.integers(1, 9)), int(rng.integers(0, 15))
        segments = [_random_segment(rng, batch, max_length, 100 * (i + 1)) for i in range(num_segments)]
        budget = int(rng.integers(0, 2 * max_length + 2))
        expected = tf_text.RoundRobinTrimmer(budget).trim(segments)
        got = trim_round_robin(segments, budget)
        for want, have in zip(expected, got):
            assert have.to_list() == want.to_list(), (trial, budget, [s.to_list() for s in segments])


def test_runs_in_a_dataset_with_static_budget_and_no_tensorflow_text_op():
    pairs = tf.data.Dataset.from_tensor_slices(
        (tf.ragged.constant([[1, 2, 3, 4, 5], [], [1]]), tf.ragged.constant([[6, 7], [6, 7, 8], []]))
    ).batch(3)
    trimmed = pairs.map(lambda a, b: tuple(trim_round_robin([a, b], 3)))
    a, b = next(iter(trimmed))
    assert (a.to_list(), b.to_list()) == ([[1, 2], [], [1]], [[6], [6, 7, 8], []])
    graph = tf.function(lambda a, b: trim_round_robin([a, b], 3)).get_concrete_function(
        *[tf.RaggedTensorSpec([None, None], tf.int32)] * 2
    ).graph
    assert all(hasattr(tf.raw_ops, op.type) for op in graph.get_operations())


def test_bad_arguments_are_named():
    segment = tf.ragged.constant([[1]])
    with pytest.raises(ValueError, match="3 segments: expected 1 or 2"):
        trim_round_robin([segment] * 3, 4)
    with pytest.raises(ValueError, match="budget=-1"):
        trim_round_robin([segment], -1)
