"""Random BERT inputs and the comparisons the converter tests share."""

import numpy as np

ENCODER_INPUTS = ("token_ids", "segment_ids", "padding_mask")


def bert_batch(vocab_size, batch_size=3, seq_len=12, num_segments=2, num_masks=3, seed=1):
    """A batch of random BERT inputs with two segments and ragged padding.

    Row `i` keeps `seq_len - i * seq_len // (batch_size + 1)` real tokens, so
    every row after the first is padded by a different amount; the second half
    of each row is the last segment; masked positions fall on real tokens.

    Returns:
        A dict of int32 arrays: token_ids, segment_ids, padding_mask
        [batch_size, seq_len] and mask_positions [batch_size, num_masks].

    Example:
        >>> batch = bert_batch(vocab_size=99)
        >>> encoded = backbone.predict_on_batch(encoder_inputs(batch))
    """
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(0, vocab_size, size=(batch_size, seq_len)).astype("int32")
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, seq_len // 2:] = num_segments - 1
    lengths = seq_len - np.arange(batch_size) * seq_len // (batch_size + 1)
    padding_mask = (np.arange(seq_len)[None, :] < lengths[:, None]).astype("int32")
    mask_positions = rng.integers(0, lengths[:, None], size=(batch_size, num_masks))
    return {
        "token_ids": token_ids,
        "segment_ids": segment_ids,
        "padding_mask": padding_mask,
        "mask_positions": mask_positions.astype("int32"),
    }


def encoder_inputs(batch):
    """The backbone's inputs of a `bert_batch` (no mask_positions)."""
    return {name: batch[name] for name in ENCODER_INPUTS}


def max_error(ours, reference):
    """The max absolute difference of two arrays, as a Python float."""
    return float(np.abs(np.asarray(ours) - np.asarray(reference)).max())


def max_errors(ours, reference):
    """`max_error` per output name of `ours` (a dict of arrays)."""
    return {name: max_error(value, reference[name]) for name, value in ours.items()}


def assert_same_weights(expected, actual, compare_paths=True):
    """Asserts two weight lists hold the same arrays in the same order.

    Unlike a bare `zip`, a weight missing on either side fails, naming it.

    Args:
        expected: a model's `weights` (Keras variables).
        actual: the other model's `weights`.
        compare_paths: also require equal variable paths (same Keras structure).
    """
    expected_paths = [weight.path for weight in expected]
    actual_paths = [weight.path for weight in actual]
    assert len(expected) == len(actual), (
        f"{len(expected)} weights expected, got {len(actual)}; only expected: "
        f"{sorted(set(expected_paths) - set(actual_paths))}, only actual: "
        f"{sorted(set(actual_paths) - set(expected_paths))}"
    )
    for want, got in zip(expected, actual):
        if compare_paths:
            assert want.path == got.path
        np.testing.assert_array_equal(np.asarray(got.numpy()), np.asarray(want.numpy()),
                                      err_msg=want.path)
