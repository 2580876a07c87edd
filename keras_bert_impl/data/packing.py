"""Sequence packing: several short examples share one fixed-length row.

Padding is compute thrown away: fine-tuning texts are short (the embedded
task's median is a dozen tokens) and a batch padded to `seq_len` spends most
of its matmuls on [PAD]. `pack_examples` is a tf.data transform that fills
each `seq_len` row with as many whole examples as fit (first-fit decreasing
within a window of examples, at most `max_examples_per_row` per row) and adds
what the model needs to keep them apart: `example_ids` (block-diagonal
attention), `position_ids` restarting at 0 for each example, and
`cls_positions` (each example's own [CLS], hence its own pooled output and
logits). Per-example targets become `[max_examples_per_row]` rows with a
sample weight of 0 on empty slots. Shapes stay static, so packed batches
compile with XLA and run on TPU.

tensorflow-text packs segments into one example, not examples into rows, and
no well-kept library does the latter for tf.data, so the bin assignment is
written here (Krell et al. 2021, "Efficient sequence packing without
cross-contamination", compare first-fit decreasing with their histogram
methods: on short-text data both fill rows to within a few percent).

Example:
    >>> packed = pack_examples(examples, seq_len=64, max_examples_per_row=8)
    >>> x, labels, weights = next(iter(packed))
    >>> sorted(x)
    ['cls_positions', 'example_ids', 'padding_mask', 'position_ids', 'segment_ids', 'token_ids']
"""

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def pack_examples(
    examples,
    *,
    seq_len,
    max_examples_per_row,
    window_size=1024,
    pad_id=0,
):
    """Packs unpadded examples into `seq_len` rows.

    Args:
        examples: `tf.data.Dataset` of `(x, targets)`: x = {"token_ids",
            "segment_ids"}, 1-D int32 of the example's real length (at most
            `seq_len`), starting with [CLS]; targets a scalar or a dict of
            scalars per example (a label, an NSP label).
        seq_len: row length.
        max_examples_per_row: fixed number of example slots per row (the
            static size of `cls_positions` and of the targets).
        window_size: examples considered together; larger packs tighter and
            holds more in memory.
        pad_id: token id of [PAD].

    Returns:
        `tf.data.Dataset` of unbatched `(x, targets, sample_weight)`: x =
        {"token_ids", "segment_ids", "padding_mask", "example_ids",
        "position_ids"} int32 `[seq_len]` and "cls_positions" int32
        `[max_examples_per_row]`; targets as given, each `[max_examples_per_row]`;
        sample_weight float32 `[max_examples_per_row]`, 1 on used slots.
    """

    def pack_window(x, targets):
        lengths = x["token_ids"].row_lengths()
        rows, slots, offsets, num_rows = tf.numpy_function(
            lambda lengths: first_fit_decreasing(lengths, seq_len, max_examples_per_row),
            [lengths],
            [tf.int64, tf.int64, tf.int64, tf.int64],
        )
        placement = _Placement(rows, slots, offsets, num_rows, lengths, seq_len, max_examples_per_row)
        packed = placement.rows_of_tokens(x, pad_id)
        packed["cls_positions"] = placement.slots_of(offsets, 0)
        packed_targets = tf.nest.map_structure(lambda t: placement.slots_of(t, 0), targets)
        weights = placement.slots_of(tf.ones_like(lengths, tf.float32), 0.0)
        return tf.data.Dataset.from_tensor_slices((packed, packed_targets, weights))

    # First-fit decreasing emits a window's rows longest examples first:
    # training shuffles them (`pipelines.training_passes`).
    return examples.ragged_batch(window_size).flat_map(pack_window)


def pack_padded_rows(rows, *, seq_len, max_examples_per_row, pad_id=0):
    """`pack_examples` for examples already padded to `seq_len` (SegmentPacker's output).

    Args:
        rows: `tf.data.Dataset` of `(x, targets)`, x = {"token_ids",
            "segment_ids", "padding_mask"} int32 `[seq_len]`.
        Others: as `pack_examples`.
    """

    def cut_padding(x, targets):
        x = unpad(x)
        return {"token_ids": x["token_ids"], "segment_ids": x["segment_ids"]}, targets

    return pack_examples(
        rows.map(cut_padding, num_parallel_calls=AUTOTUNE, deterministic=True),
        seq_len=seq_len,
        max_examples_per_row=max_examples_per_row,
        pad_id=pad_id,
    )


def first_fit_decreasing(lengths, capacity, max_per_row):
    """Assigns items to rows: longest first, each into the first row it fits.

    Args:
        lengths: 1-D int array of item lengths, each <= `capacity`.
        capacity: row length.
        max_per_row: most items in one row.

    Returns:
        `(rows, slots, offsets, num_rows)`: for each item its row, its slot in
        that row (0, 1, ...) and its first position there; int64.

    Example:
        >>> first_fit_decreasing(np.array([3, 6, 2]), capacity=8, max_per_row=4)
        (array([1, 0, 0]), array([0, 0, 1]), array([0, 0, 6]), 2)
    """
    count = len(lengths)
    rows, slots, offsets = (np.zeros(count, np.int64) for _ in range(3))
    used = np.zeros(count, np.int64)
    filled = np.zeros(count, np.int64)
    num_rows = 0
    for item in np.argsort(-np.asarray(lengths), kind="stable"):
        fits = (used[:num_rows] + lengths[item] <= capacity) & (filled[:num_rows] < max_per_row)
        row = int(np.argmax(fits)) if fits.any() else num_rows
        num_rows = max(num_rows, row + 1)
        rows[item], slots[item], offsets[item] = row, filled[row], used[row]
        used[row] += lengths[item]
        filled[row] += 1
    return rows, slots, offsets, np.int64(num_rows)


class _Placement:
    """Scatters a window's examples into rows at the places given."""

    def __init__(self, rows, slots, offsets, num_rows, lengths, seq_len, max_per_row):
        self.rows = tf.ensure_shape(rows, [None])
        self.slots = tf.ensure_shape(slots, [None])
        self.num_rows = tf.ensure_shape(num_rows, [])
        self.lengths = lengths
        self.seq_len = seq_len
        self.max_per_row = max_per_row
        starts = self.rows * seq_len + tf.ensure_shape(offsets, [None])
        within = tf.ragged.range(lengths)
        # Flat index into [num_rows * seq_len] of every token of every example.
        self.token_index = (tf.repeat(starts, lengths) + within.values)[:, None]
        self.positions = tf.cast(within.values, tf.int32)

    def rows_of_tokens(self, x, pad_id):
        example_ids = tf.cast(tf.repeat(self.slots + 1, self.lengths), tf.int32)
        packed = {
            "token_ids": self._scatter_tokens(x["token_ids"].values, pad_id),
            "segment_ids": self._scatter_tokens(x["segment_ids"].values, 0),
            "example_ids": self._scatter_tokens(example_ids, 0),
            "position_ids": self._scatter_tokens(self.positions, 0),
        }
        packed["padding_mask"] = tf.cast(packed["example_ids"] > 0, tf.int32)
        return packed

    def slots_of(self, values, empty):
        """`[num_rows, max_per_row]` with each example's value in its slot."""
        values = tf.convert_to_tensor(values)
        if values.dtype == tf.int64:
            values = tf.cast(values, tf.int32)
        canvas = tf.fill([self.num_rows, self.max_per_row], tf.cast(empty, values.dtype))
        index = tf.stack([self.rows, self.slots], axis=1)
        return tf.tensor_scatter_nd_update(canvas, index, values)

    def _scatter_tokens(self, values, empty):
        values = tf.cast(values, tf.int32)
        canvas = tf.fill([self.num_rows * self.seq_len], tf.constant(empty, tf.int32))
        flat = tf.tensor_scatter_nd_update(canvas, self.token_index, values)
        return tf.reshape(flat, [self.num_rows, self.seq_len])


def packed_rows_per_batch(rows, examples_per_batch, sample_rows=256):
    """Rows per batch so that a batch holds about `examples_per_batch` examples.

    Keeps the optimiser's view of a step (its examples) what it was without
    packing: `examples_per_batch` divided by the mean examples per row,
    measured on the first `sample_rows` rows.
    """
    weights = rows.take(sample_rows).map(lambda x, targets, weights: weights)
    used, count = weights.reduce(
        (0.0, 0.0), lambda totals, w: (totals[0] + tf.reduce_sum(w), totals[1] + 1.0)
    )
    examples_per_row = float(used) / max(float(count), 1.0)
    return max(1, round(examples_per_batch / max(examples_per_row, 1.0)))


def unpad(x):
    """Cuts a padded example `{name: [seq_len]}` to its real length."""
    length = tf.reduce_sum(x["padding_mask"])
    return {name: value[:length] for name, value in x.items()}


def packing_efficiency(dataset, max_batches=None):
    """Real tokens / row tokens over `dataset`'s batches (x first in each element)."""
    if max_batches is not None:
        dataset = dataset.take(max_batches)

    def add(totals, element):
        mask = element[0]["padding_mask"]
        real = tf.reduce_sum(tf.cast(mask, tf.int64))
        return totals[0] + real, totals[1] + tf.size(mask, tf.int64), totals[2] + 1

    real, total, batches = dataset.reduce(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64), tf.constant(0, tf.int64)), add
    )
    return float(real) / max(float(total), 1.0), int(batches)
