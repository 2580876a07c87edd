"""The check every training loader passes: its passes are a function of (seed, pass)."""

import numpy as np
import tensorflow as tf


def _batches(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), batch) for batch in dataset]


def _same(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)


def assert_exact_passes(data):
    """Checks a training `TaskData` (`dataset`: pass 0, `stream(start_batch)`).

    Pass 0 is the same however many times the dataset was opened before, the
    stream starts with it and goes on with a pass in another order, and a
    stream opened at a batch (a resumed run's) continues exactly there.
    """
    next(iter(data.dataset))  # a probe, as a caller counting batches makes
    first_pass = _batches(data.dataset)
    _same(_batches(data.dataset), first_pass)
    count = len(first_pass)
    stream = _batches(data.stream(0).take(2 * count))
    _same(stream[:count], first_pass)
    pass_0, pass_1 = first_pass[0][0]["token_ids"], stream[count][0]["token_ids"]
    assert pass_0.shape != pass_1.shape or (pass_0 != pass_1).any(), "pass 1 repeats pass 0's order"
    _same(_batches(data.stream(count - 1).take(2)), stream[count - 1 : count + 1])
