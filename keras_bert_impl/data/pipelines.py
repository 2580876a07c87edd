"""tf.data pipelines that turn text into BERT batches.

Pretraining runs in named stages, each a function a reader (or another
pipeline step) can take on its own:

1. `pretraining_examples`: documents -> unmasked examples (segment A, segment
   B, next-sentence label), following BERT's create_pretraining_data. Prepared
   TFRecord shards (`data/shards.py`) hold the same examples.
2. `shuffle_pass`: pass p over the examples, shuffled by (seed, p).
3. `pack_pretraining_examples`: [CLS] A [SEP] (B [SEP]) rows of `seq_len`,
   then batched within the pass (`pretraining_row_batches.one_pass` is
   where a step between packing and batching goes).
4. `mask_pretraining_batches`: dynamic masks drawn from (seed, batch number).

Every random choice is a stateless function of the seed and the position in
the stream, so the stream does not depend on how many times or by how many
workers the dataset is opened, and a resumed run that skips the batches it
already trained on sees exactly what the uninterrupted run saw.

`classification_dataset` tokenizes and packs labelled single texts or pairs,
or reads long texts in overlapping windows. Every training stream here and in
the tasks (tagging, question answering) is a `training_passes` stream:
numbered passes, each shuffled by (seed, pass).

Both give static [batch, seq_len] shapes unless length bucketing is asked for,
and end in prefetch(AUTOTUNE).

Example:
    >>> documents = tf.data.Dataset.from_tensor_slices(
    ...     tf.ragged.constant([["The cat sat.", "It purred."], ["Dogs bark."]]))
    >>> dataset = pretraining_dataset(documents, tokenizer, seq_len=128,
    ...                               batch_size=32, max_predictions=20, nsp=True,
    ...                               seed=1)
    >>> x, y, sample_weight = next(iter(dataset))
    >>> sorted(x)
    ['mask_positions', 'padding_mask', 'segment_ids', 'token_ids']
    >>> sorted(y), sorted(sample_weight)
    (['mlm', 'nsp'], ['mlm', 'nsp'])
"""

import numpy as np
import tensorflow as tf

from keras_bert_impl.choices import DEFAULT_MASK_RATE
from keras_bert_impl.data.packing import pack_padded_rows, packed_rows_per_batch, unpad
from keras_bert_impl.text.masking import MlmMasker, pair_token_budget, sample_pretraining_pairs
from keras_bert_impl.text.packing import SegmentPacker
from keras_bert_impl.text.windows import pack_windows

AUTOTUNE = tf.data.AUTOTUNE


def pretraining_dataset(
    documents,
    tokenizer,
    *,
    seq_len,
    batch_size,
    max_predictions,
    nsp=False,
    whole_word_masking=False,
    mask_rate=DEFAULT_MASK_RATE,
    seed=None,
    shuffle=True,
    epochs=1,
    start_batch=0,
    short_seq_prob=0.1,
    shuffle_buffer=10_000,
    drop_remainder=True,
    pack=False,
    max_examples_per_row=None,
    masked=True,
):
    """Masked-LM (and optional NSP) batches from documents.

    Args:
        documents: `tf.data.Dataset` whose elements are 1-D string tensors,
            the sentences of one document, in order.
        tokenizer: `keras_bert_impl.text.Tokenizer`.
        seq_len: packed length, [CLS]/[SEP] included.
        batch_size: examples per batch.
        max_predictions: masked tokens per example (outputs padded to it).
        nsp: make A/B pairs with next-sentence labels (50% from another
            document); otherwise each example is one segment of consecutive
            sentences.
        whole_word_masking: mask all pieces of a word together.
        mask_rate: share of each row's tokens to predict (BERT: 0.15), up to
            `max_predictions`.
        seed: makes segments, shuffles and masks reproducible; None draws
            fresh randomness.
        shuffle: shuffle examples (each pass anew).
        epochs: passes over the corpus, each with its own shuffle and masks;
            None repeats forever (for `steps_per_epoch` training).
        start_batch: batches of the stream to skip, e.g. those a resumed run
            already trained on; they are not masked.
        short_seq_prob: chance that a document uses a shorter random target
            length, as BERT does so that fine-tuning on short inputs works.
        shuffle_buffer: shuffle buffer size, in examples.
        drop_remainder: drop the last short batch of each pass (static batch
            dimension, needed on TPU).
        pack: pack several examples (segments, A/B pairs) into each row
            (`keras_bert_impl.data.packing`); `batch_size` counts rows, and
            masks are drawn per row over all its examples' tokens.
        max_examples_per_row: example slots per packed row (default
            `seq_len // 16`).
        masked: False stops before masking (`start_batch` must be 0;
            `max_predictions`, `mask_rate` and `whole_word_masking` go
            unused), for what only counts batches or padding: the masker's
            tracing takes seconds. Elements are then those of
            `pretraining_row_batches`.

    Returns:
        `tf.data.Dataset` of (x, y, sample_weight): x = {"token_ids",
        "segment_ids", "padding_mask", "mask_positions"}, y = {"mlm":
        mask_ids} (+ "nsp": int32 label, 0 = IsNext, 1 = NotNext),
        sample_weight = {"mlm": mask_weights} (+ "nsp": ones). Packed, x also
        has the packed inputs ("example_ids", "position_ids",
        "cls_positions") and "nsp" labels and weights are per example slot.
    """
    check_pretraining_seq_len(seq_len, nsp)
    if not masked and start_batch:
        raise ValueError(f"start_batch={start_batch} needs masked batches.")
    seeds = PretrainingSeeds(seed)
    examples = pretraining_examples(
        documents, tokenizer, seq_len=seq_len, nsp=nsp, short_seq_prob=short_seq_prob,
        seed=seeds.segments,
    ).cache()
    batches = pretraining_row_batches(
        examples, tokenizer, seq_len=seq_len, batch_size=batch_size, nsp=nsp, seeds=seeds,
        shuffle=shuffle, epochs=epochs, shuffle_buffer=shuffle_buffer,
        drop_remainder=drop_remainder, pack=pack, max_examples_per_row=max_examples_per_row,
    )
    if not masked:
        return batches
    return mask_pretraining_batches(
        batches, tokenizer, max_predictions=max_predictions, nsp=nsp, seeds=seeds,
        whole_word_masking=whole_word_masking, mask_rate=mask_rate, start_batch=start_batch,
    )


def pretraining_row_batches(
    examples,
    tokenizer,
    *,
    seq_len,
    batch_size,
    nsp,
    seeds,
    shuffle=True,
    epochs=1,
    shuffle_buffer=10_000,
    drop_remainder=True,
    pack=False,
    max_examples_per_row=None,
):
    """Stages 2-3 of `pretraining_dataset`: each pass's batches of rows, unmasked.

    Args:
        examples: `tf.data.Dataset` of `pretraining_examples` elements (from
            documents or read from prepared shards). Iterated once per pass:
            cache it when making it is costly.
        seeds: `PretrainingSeeds`.
        Others: as `pretraining_dataset`.

    Returns:
        `tf.data.Dataset` of (packed batch {"token_ids", "segment_ids",
        "padding_mask"}, nsp labels), with per-slot nsp weights third and
        the packed inputs in the batch for packed rows.
    """
    packer = SegmentPacker.from_tokenizer(tokenizer, seq_len)

    def one_pass(shuffle_this_pass):
        rows = pack_pretraining_examples(shuffle_this_pass(examples), packer, nsp=nsp)
        if pack:
            rows = pack_padded_rows(
                rows,
                seq_len=seq_len,
                max_examples_per_row=max_examples_per_row or max(1, seq_len // 16),
                pad_id=tokenizer.pad_id,
            )
            # First-fit decreasing emits a window's rows longest examples first.
            rows = shuffle_this_pass(rows)
        return rows.batch(batch_size, drop_remainder=drop_remainder)

    return training_passes(
        one_pass, shuffle_seed=seeds.shuffle, shuffle=shuffle, epochs=epochs,
        shuffle_buffer=shuffle_buffer,
    )


class PretrainingSeeds:
    """The independent seeds of a pretraining stream, all drawn from one seed.

    Attributes:
        segments: seeds the cutting of documents into segments (int).
        shuffle: key of each pass's shuffle seed (int).
        masks: key of each batch's mask seed (int).
    """

    def __init__(self, seed=None):
        self.segments, self.shuffle, self.masks = (
            int(value) for value in np.random.SeedSequence(seed).generate_state(3)
        )
        self.shuffle = _graph_seed(self.shuffle)


def check_pretraining_seq_len(seq_len, nsp):
    if seq_len < 3 + int(nsp):
        raise ValueError(f"seq_len={seq_len} is too short for [CLS] A [SEP]{' B [SEP]' if nsp else ''}")


def pretraining_examples(documents, tokenizer, *, seq_len, nsp, short_seq_prob, seed):
    """Stage 1: documents -> unmasked examples, BERT's create_pretraining_data.

    Each document is cut into segments of consecutive sentences filling
    `seq_len` (a shorter random target with `short_seq_prob`); with `nsp`, into
    A/B pairs where B continues A or (NotNext) comes from the next document of
    the stream; a pair over the budget is cut at either end as in the prepared
    shards (`masking.truncate_pair`). Each document's cuts are drawn from
    (seed, document index).

    Returns:
        `tf.data.Dataset` of dicts {"segment_a", "segment_b": int32 [None]
        token ids (segment_b empty without nsp), "nsp_label": int32}.
    """
    max_num_tokens = pair_token_budget(seq_len, nsp)
    tokenized = documents.map(
        lambda sentences: tokenizer(sentences), num_parallel_calls=AUTOTUNE
    ).enumerate()
    following = tokenized.skip(1).concatenate(tokenized.take(1))

    def build(index, splits, values, other_index, other_splits, other_values):
        instances = sample_pretraining_pairs(
            np.split(values, splits[1:-1]),
            np.split(other_values, other_splits[1:-1]) if index != other_index else [],
            max_num_tokens=max_num_tokens,
            nsp=nsp,
            short_seq_prob=short_seq_prob,
            rng=np.random.default_rng([seed, index]),
        )
        return _flatten_instances(instances)

    def make_examples(first, second):
        (index, document), (other_index, other_document) = first, second
        a_splits, a_values, b_splits, b_values, labels = tf.numpy_function(
            build,
            [index, document.row_splits, document.values,
             other_index, other_document.row_splits, other_document.values],
            [tf.int64, tf.int32, tf.int64, tf.int32, tf.int32],
        )
        return tf.data.Dataset.from_tensor_slices({
            "segment_a": tf.RaggedTensor.from_row_splits(tf.ensure_shape(a_values, [None]), a_splits),
            "segment_b": tf.RaggedTensor.from_row_splits(tf.ensure_shape(b_values, [None]), b_splits),
            "nsp_label": tf.ensure_shape(labels, [None]),
        })

    return tf.data.Dataset.zip(tokenized, following).flat_map(make_examples)


def training_passes(batches_of_pass, *, shuffle_seed, shuffle=True, epochs=1, start_batch=0,
                    shuffle_buffer=10_000):
    """Passes 0, 1, ... of `batches_of_pass`, one after another, each shuffled by (seed, pass).

    The shared frame of every training stream (pretraining, classification,
    tagging, question answering): pass p's order is a function of
    `shuffle_seed` and p only, never of how many times the dataset was opened
    before, so a resumed run that skips the `start_batch` batches it already
    trained on sees exactly what the uninterrupted run saw.

    Args:
        batches_of_pass: `shuffle_this_pass -> batches of one pass`, where
            `shuffle_this_pass(dataset)` shuffles a dataset with this pass's
            seed (the identity without `shuffle`); apply it to the examples
            and to any later stage that reorders them (packed rows). Called
            while tracing a dataset function.
        shuffle_seed: `shuffle_key(seed)` (or `PretrainingSeeds.shuffle`).
        shuffle: shuffle each pass; otherwise every pass has the input order.
        epochs: number of passes; None: endless (for `fit` with `steps_per_epoch`).
        start_batch: batches of the stream to skip, e.g. those a resumed run
            already trained on.
        shuffle_buffer: shuffle buffer size, in elements.

    Returns:
        `tf.data.Dataset` of the passes' batches.

    Example:
        >>> stream = training_passes(lambda shuffle: shuffle(examples).batch(32),
        ...                          shuffle_seed=shuffle_key(0), epochs=None,
        ...                          start_batch=steps_done)
    """

    def one_pass(number):
        if not shuffle:
            return batches_of_pass(lambda dataset: dataset)
        return batches_of_pass(lambda dataset: shuffle_pass(dataset, shuffle_seed, number, shuffle_buffer))

    return _pass_numbers(epochs).flat_map(one_pass).skip(start_batch)


def shuffle_key(seed=None):
    """The `shuffle_seed` of `training_passes` for a user seed (None: fresh randomness)."""
    return _graph_seed(np.random.SeedSequence(seed).generate_state(1)[0])


def _graph_seed(value):
    # Dataset.shuffle reads a (0, op seed) pair as "no seed".
    return int(value) % (2**31 - 1) + 1


def shuffle_pass(examples, shuffle_seed, number, shuffle_buffer=10_000):
    """Stage 2: pass `number` over `examples`, shuffled with (shuffle_seed, number).

    The order depends on the pass number only, not on how often the dataset
    was iterated before. Call it while tracing a dataset function (as
    `training_passes` does): `number` is a tensor there.
    """
    # Dataset.shuffle takes its seed pair from (graph seed, op seed); setting
    # the graph seed of the function being traced (not the process' global
    # one) makes the pair exactly (shuffle_seed, number).
    tf.random.set_seed(shuffle_seed)
    return examples.shuffle(shuffle_buffer, seed=number, reshuffle_each_iteration=False)


def pack_pretraining_examples(examples, packer, *, nsp):
    """Stage 3: each example -> one [CLS] A [SEP] (B [SEP]) row.

    Returns:
        `tf.data.Dataset` of (packed dict {"token_ids", "segment_ids",
        "padding_mask"} int32 [seq_len], nsp_label).
    """

    def pack(example):
        packed = packer(example["segment_a"], example["segment_b"] if nsp else None)
        return packed, example["nsp_label"]

    return examples.map(pack, num_parallel_calls=AUTOTUNE, deterministic=True)


def mask_pretraining_batches(
    batches,
    tokenizer,
    *,
    max_predictions,
    nsp,
    seeds,
    whole_word_masking=False,
    mask_rate=DEFAULT_MASK_RATE,
    start_batch=0,
):
    """Stage 4: dynamic masks, each batch's drawn from (seeds.masks, batch number).

    Args:
        batches: `pretraining_row_batches` output: (packed batch, nsp labels),
            with per-slot nsp weights third for packed rows.
        seeds: `PretrainingSeeds`, as those `batches` were made with.
        start_batch: batches to skip (unmasked), as `pretraining_dataset`.
        Others: as `pretraining_dataset`.

    Returns:
        `tf.data.Dataset` of (x, y, sample_weight), see `pretraining_dataset`.
    """
    masker = MlmMasker.from_tokenizer(
        tokenizer, max_predictions=max_predictions, whole_word=whole_word_masking,
        selection_rate=mask_rate,
    )
    masks_key = tf.constant(seeds.masks, tf.int64)

    def mask(number, batch):
        # Packed rows come with a weight per example slot (0 on empty slots).
        packed, label, *slot_weights = batch
        masked = masker(packed["token_ids"], tf.stack([masks_key, number]))
        x = {
            **packed,
            "token_ids": masked["token_ids"],
            "mask_positions": masked["mask_positions"],
        }
        y = {"mlm": masked["mask_ids"]}
        sample_weight = {"mlm": masked["mask_weights"]}
        if nsp:
            y["nsp"] = label
            sample_weight["nsp"] = slot_weights[0] if slot_weights else tf.ones_like(label, tf.float32)
        return x, y, sample_weight

    # Numbered before skipping: a batch's masks depend on its place in the stream.
    numbered = batches.enumerate().skip(start_batch)
    return numbered.map(mask, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)


def _pass_numbers(epochs):
    return tf.data.Dataset.range(epochs if epochs is not None else np.iinfo(np.int64).max)


def _flatten_instances(instances):
    def splits(arrays):
        return np.cumsum([0] + [len(a) for a in arrays], dtype=np.int64)

    def values(arrays):
        return np.concatenate([np.zeros([0], np.int32)] + list(arrays)).astype(np.int32)

    segments_a = [a for a, _, _ in instances]
    segments_b = [b for _, b, _ in instances]
    labels = np.array([label for _, _, label in instances], np.int32)
    return splits(segments_a), values(segments_a), splits(segments_b), values(segments_b), labels


def classification_dataset(
    examples,
    tokenizer,
    *,
    seq_len,
    batch_size,
    shuffle=True,
    seed=None,
    epochs=1,
    start_batch=0,
    bucket_by_length=False,
    pack=False,
    max_examples_per_row=None,
    drop_remainder=False,
    shuffle_buffer=10_000,
    stride=None,
    max_windows=None,
):
    """(x, y) batches for sentence or sentence-pair classification.

    Args:
        examples: `tf.data.Dataset` of dicts {"text": string, optional
            "text_b": string, "label": int}.
        tokenizer: `keras_bert_impl.text.Tokenizer`.
        seq_len: longest packed length; longer inputs are truncated (the
            longer segment first).
        batch_size: examples per batch.
        shuffle: shuffle examples, pass p with (seed, p) (`training_passes`):
            the dataset gives the same batches each time it is iterated, so
            train several epochs on one dataset of `epochs` passes (or None
            with `fit(steps_per_epoch=...)`), not on one pass fitted again.
        seed: shuffle seed; None draws fresh randomness.
        epochs: passes over the examples; None repeats forever.
        start_batch: batches of the stream to skip, e.g. those a resumed run
            already trained on.
        bucket_by_length: group examples of similar length and pad each batch
            only to its bucket's length (a power of two from 16 up to
            seq_len); batch shapes then vary, so leave it off on TPU.
        pack: pack several examples into each `seq_len` row
            (`keras_bert_impl.data.packing`); a batch then holds about
            `batch_size` examples in fewer rows. Static shapes, so fine on TPU.
        max_examples_per_row: example slots per packed row (default
            `seq_len // 8`).
        drop_remainder: drop the last short batch of each pass (static batch
            dimension).
        shuffle_buffer: shuffle buffer size.
        stride: read each (single) text in overlapping windows of
            `seq_len - 2` tokens whose starts are `stride` tokens apart
            (`text.windows`) instead of truncating it, for a classifier with
            `window_pooling`. Not with `pack` or text pairs.
        max_windows: with `stride`: keep a text's first `max_windows` windows.

    Returns:
        `tf.data.Dataset` of (x, y): x = {"token_ids", "segment_ids",
        "padding_mask"} int32 [batch, seq_len], y = int32 labels [batch].
        Packed: (x, y, sample_weight) with x as `pack_examples` makes it and
        y, sample_weight [batch, max_examples_per_row]. Windowed: x is
        [batch, windows, seq_len], where windows is `max_windows` (static),
        or with `bucket_by_length` the most windows of a text in the batch
        (texts of similar window counts batched together); padding windows
        are all 0.

    Raises:
        ValueError: elements are not dicts with "text" and "label"; `stride`
            with `pack`, text pairs or no `max_windows`.
    """
    windows = _window_settings(stride, max_windows, pack)
    encode = _classification_encoder(examples.element_spec, tokenizer, seq_len, windows)
    shuffle_seed = shuffle_key(seed)

    def encoded(shuffle_this_pass):
        return shuffle_this_pass(examples).map(encode, num_parallel_calls=AUTOTUNE, deterministic=True)

    def passes(batches_of_pass, epochs=epochs, start_batch=start_batch):
        return training_passes(
            batches_of_pass, shuffle_seed=shuffle_seed, shuffle=shuffle, epochs=epochs,
            start_batch=start_batch, shuffle_buffer=shuffle_buffer,
        )

    if windows is not None:
        batches = passes(
            lambda shuffle_this_pass: _window_batches(
                encoded(shuffle_this_pass), tokenizer, seq_len, batch_size, max_windows,
                bucket_by_length, drop_remainder,
            )
        )
    elif pack:
        batches = _packed_batches(
            encoded, passes, tokenizer, seq_len, batch_size, max_examples_per_row, drop_remainder
        )
    elif bucket_by_length:
        batches = passes(
            lambda shuffle_this_pass: _length_bucketed_batches(
                encoded(shuffle_this_pass), tokenizer, seq_len, batch_size, drop_remainder
            )
        )
    else:
        batches = passes(
            lambda shuffle_this_pass: encoded(shuffle_this_pass).batch(
                batch_size, drop_remainder=drop_remainder
            )
        )
    if not (pack or bucket_by_length):  # batches of `batch_size` examples each
        batches = _with_known_length(batches, examples, batch_size, drop_remainder, epochs, start_batch)
    return batches.prefetch(AUTOTUNE)


def _window_settings(stride, max_windows, pack):
    """`(stride, max_windows)`, or None when texts are truncated, not windowed."""
    if stride is None:
        return None
    if pack:
        raise ValueError("classification_dataset: windows (stride) and packing exclude each other.")
    if max_windows is None or max_windows < 1:
        raise ValueError(
            f"classification_dataset: stride needs max_windows >= 1 (the windows kept per text), got {max_windows}."
        )
    return stride, max_windows


def _classification_encoder(spec, tokenizer, seq_len, windows=None):
    """`example -> (x, label)`, x packed and padded to `seq_len` (`windows`:
    `(stride, max_windows)`: x is [text windows, seq_len])."""
    if not isinstance(spec, dict) or "text" not in spec or "label" not in spec:
        raise ValueError(
            f"classification_dataset: examples have element_spec {spec}; expected "
            'dicts with "text", "label" and optionally "text_b"'
        )
    has_pair = "text_b" in spec
    if has_pair and windows is not None:
        raise ValueError(
            "classification_dataset: windows (stride) read single texts; text pairs are truncated instead."
        )
    packer = SegmentPacker.from_tokenizer(tokenizer, seq_len)

    def encode(example):
        segment_a = tokenizer(example["text"][tf.newaxis])
        if windows is not None:
            _, packed = pack_windows(tokenizer, segment_a, seq_len, *windows)
            return packed, tf.cast(example["label"], tf.int32)
        segment_b = tokenizer(example["text_b"][tf.newaxis]) if has_pair else None
        packed = packer(segment_a, segment_b)
        x = {name: value[0] for name, value in packed.items()}
        return x, tf.cast(example["label"], tf.int32)

    return encode


def _packed_batches(encoded, passes, tokenizer, seq_len, batch_size, max_examples_per_row,
                    drop_remainder):
    """Packed rows, each pass's shuffled, in batches of about `batch_size` examples."""

    def rows(shuffle_this_pass):
        packed = pack_padded_rows(
            encoded(shuffle_this_pass),
            seq_len=seq_len,
            max_examples_per_row=max_examples_per_row or max(1, seq_len // 8),
            pad_id=tokenizer.pad_id,
        )
        # First-fit decreasing emits a window's rows longest examples first.
        return shuffle_this_pass(packed)

    # Measured on pass 0 and kept for every pass, so all batches have one shape.
    rows_per_batch = packed_rows_per_batch(passes(rows, epochs=1, start_batch=0), batch_size)
    return passes(
        lambda shuffle_this_pass: rows(shuffle_this_pass).batch(
            rows_per_batch, drop_remainder=drop_remainder
        )
    )


def _with_known_length(batches, examples, batch_size, drop_remainder, epochs, start_batch):
    """`batches` with the length tf.data loses through the passes, where the
    number of examples is known (callers size their epochs and schedules by it)."""
    count = int(examples.cardinality())
    if count < 0 or epochs is None:
        return batches
    per_pass = count // batch_size if drop_remainder else -(-count // batch_size)
    length = max(0, per_pass * epochs - start_batch)
    return batches.apply(tf.data.experimental.assert_cardinality(length))


def _window_batches(encoded, tokenizer, seq_len, batch_size, max_windows, bucket_by_length, drop_remainder):
    """Batches of windowed texts: [batch, windows, seq_len], padding windows all 0.

    Bucketed, texts with 1, 2, 3-4, 5-8... windows are batched apart and each
    batch is padded to its most windows, so short texts do not pay for
    `max_windows`; otherwise every batch has `max_windows` (static shapes).
    """
    padding_values = ({"token_ids": tokenizer.pad_id, "segment_ids": 0, "padding_mask": 0}, 0)
    if not bucket_by_length:
        shapes = ({name: [max_windows, seq_len] for name in padding_values[0]}, [])
        return encoded.padded_batch(batch_size, shapes, padding_values, drop_remainder=drop_remainder)
    boundaries = [2]
    while boundaries[-1] <= max_windows:
        boundaries.append(2 * boundaries[-1] - 1)
    return encoded.bucket_by_sequence_length(
        lambda x, label: tf.shape(x["token_ids"])[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=padding_values,
        drop_remainder=drop_remainder,
    )


def _length_bucketed_batches(encoded, tokenizer, seq_len, batch_size, drop_remainder):
    """Batches padded only to their bucket's length: powers of two from 16 up to `seq_len`."""
    lengths = [16]
    while lengths[-1] < seq_len:
        lengths.append(min(2 * lengths[-1], seq_len))
    # bucket_by_sequence_length pads to (boundary - 1).
    boundaries = [length + 1 for length in lengths]
    padding_values = (
        {"token_ids": tokenizer.pad_id, "segment_ids": 0, "padding_mask": 0},
        0,
    )
    return encoded.map(
        lambda x, label: (unpad(x), label), num_parallel_calls=AUTOTUNE, deterministic=True
    ).bucket_by_sequence_length(
        lambda x, label: tf.shape(x["token_ids"])[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=padding_values,
        pad_to_bucket_boundary=True,
        drop_remainder=drop_remainder,
    )
