"""tf.data pipelines that turn text into BERT batches.

`pretraining_dataset` follows BERT's create_pretraining_data: documents are
tokenized once, cut into segments of consecutive sentences (and A/B pairs for
next-sentence prediction), cached, then shuffled, packed and masked on every
pass, so each epoch sees new masks (dynamic masking, as RoBERTa) while a seed
still makes the whole stream reproducible.

`classification_dataset` tokenizes and packs labelled single texts or pairs.

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

from keras_bert_impl.text.masking import MlmMasker, sample_pretraining_pairs
from keras_bert_impl.text.packing import SegmentPacker

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
    seed=None,
    shuffle=True,
    repeat=False,
    short_seq_prob=0.1,
    shuffle_buffer=10_000,
    drop_remainder=True,
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
        seed: makes segments, shuffling and masks reproducible; None draws
            fresh randomness.
        shuffle: shuffle examples (each epoch anew).
        repeat: repeat forever (for `steps_per_epoch` training).
        short_seq_prob: chance that a document uses a shorter random target
            length, as BERT does so that fine-tuning on short inputs works.
        shuffle_buffer: shuffle buffer size, in examples.
        drop_remainder: drop the last short batch (static batch dimension,
            needed on TPU).

    Returns:
        `tf.data.Dataset` of (x, y, sample_weight): x = {"token_ids",
        "segment_ids", "padding_mask", "mask_positions"}, y = {"mlm":
        mask_ids} (+ "nsp": int32 label, 0 = IsNext, 1 = NotNext),
        sample_weight = {"mlm": mask_weights} (+ "nsp": ones).
    """
    if seq_len < 3 + int(nsp):
        raise ValueError(f"seq_len={seq_len} is too short for [CLS] A [SEP]{' B [SEP]' if nsp else ''}")
    packer = SegmentPacker.from_tokenizer(tokenizer, seq_len)
    masker = MlmMasker.from_tokenizer(
        tokenizer, max_predictions=max_predictions, whole_word=whole_word_masking
    )
    max_num_tokens = seq_len - 3 if nsp else seq_len - 2
    base_seed = np.random.SeedSequence(seed).generate_state(1)[0]

    # Each document's sentences as token ids; the next document of the
    # (shuffled) stream supplies NotNext segments, so B is never from A's own
    # document.
    tokenized = documents.map(
        lambda sentences: tokenizer(sentences), num_parallel_calls=AUTOTUNE
    ).enumerate()
    following = tokenized.skip(1).concatenate(tokenized.take(1))

    def make_segments(index, document, other_index, other_document):
        def build(index, splits, values, other_index, other_splits, other_values):
            rng = np.random.default_rng([base_seed, index])
            instances = sample_pretraining_pairs(
                np.split(values, splits[1:-1]),
                np.split(other_values, other_splits[1:-1]) if index != other_index else [],
                max_num_tokens=max_num_tokens,
                nsp=nsp,
                short_seq_prob=short_seq_prob,
                rng=rng,
            )
            return _flatten_instances(instances)

        outputs = tf.numpy_function(
            build,
            [
                index,
                document.row_splits,
                document.values,
                other_index,
                other_document.row_splits,
                other_document.values,
            ],
            [tf.int64, tf.int32, tf.int64, tf.int32, tf.int32],
        )
        a_splits, a_values, b_splits, b_values, labels = outputs
        segment_a = tf.RaggedTensor.from_row_splits(tf.ensure_shape(a_values, [None]), a_splits)
        segment_b = tf.RaggedTensor.from_row_splits(tf.ensure_shape(b_values, [None]), b_splits)
        return tf.data.Dataset.from_tensor_slices((segment_a, segment_b, tf.ensure_shape(labels, [None])))

    segments = tf.data.Dataset.zip(tokenized, following).map(
        lambda first, second: (first[0], first[1], second[0], second[1])
    )
    segments = segments.flat_map(make_segments).cache()
    if shuffle:
        segments = segments.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        segments = segments.repeat()

    def pack(segment_a, segment_b, label):
        packed = packer(segment_a, segment_b if nsp else None)
        return packed, label

    batches = segments.map(pack, num_parallel_calls=AUTOTUNE, deterministic=True).batch(
        batch_size, drop_remainder=drop_remainder
    )
    # One fresh seed per batch, and a different stream on every pass over
    # the dataset: masks change each epoch yet are reproducible from `seed`.
    mask_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def mask(batch, mask_seed):
        packed, label = batch
        masked = masker(packed["token_ids"], mask_seed)
        x = {
            "token_ids": masked["token_ids"],
            "segment_ids": packed["segment_ids"],
            "padding_mask": packed["padding_mask"],
            "mask_positions": masked["mask_positions"],
        }
        y = {"mlm": masked["mask_ids"]}
        sample_weight = {"mlm": masked["mask_weights"]}
        if nsp:
            y["nsp"] = label
            sample_weight["nsp"] = tf.ones_like(label, tf.float32)
        return x, y, sample_weight

    return (
        tf.data.Dataset.zip(batches, mask_seeds)
        .map(mask, num_parallel_calls=AUTOTUNE, deterministic=True)
        .prefetch(AUTOTUNE)
    )


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
    bucket_by_length=False,
    drop_remainder=False,
    shuffle_buffer=10_000,
):
    """(x, y) batches for sentence or sentence-pair classification.

    Args:
        examples: `tf.data.Dataset` of dicts {"text": string, optional
            "text_b": string, "label": int}.
        tokenizer: `keras_bert_impl.text.Tokenizer`.
        seq_len: longest packed length; longer inputs are truncated (the
            longer segment first).
        batch_size: examples per batch.
        shuffle: shuffle examples (each epoch anew).
        seed: shuffle seed.
        bucket_by_length: group examples of similar length and pad each batch
            only to its bucket's length (a power of two from 16 up to
            seq_len); batch shapes then vary, so leave it off on TPU.
        drop_remainder: drop the last short batch (static batch dimension).
        shuffle_buffer: shuffle buffer size.

    Returns:
        `tf.data.Dataset` of (x, y): x = {"token_ids", "segment_ids",
        "padding_mask"} int32 [batch, seq_len], y = int32 labels [batch].

    Raises:
        ValueError: elements are not dicts with "text" and "label".
    """
    spec = examples.element_spec
    if not isinstance(spec, dict) or "text" not in spec or "label" not in spec:
        raise ValueError(
            f"classification_dataset: examples have element_spec {spec}; expected "
            'dicts with "text", "label" and optionally "text_b"'
        )
    has_pair = "text_b" in spec
    packer = SegmentPacker.from_tokenizer(tokenizer, seq_len)
    if shuffle:
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def encode(example):
        segment_a = tokenizer(example["text"][tf.newaxis])
        segment_b = tokenizer(example["text_b"][tf.newaxis]) if has_pair else None
        packed = packer(segment_a, segment_b)
        x = {name: value[0] for name, value in packed.items()}
        return x, tf.cast(example["label"], tf.int32)

    encoded = examples.map(encode, num_parallel_calls=AUTOTUNE, deterministic=True)
    if not bucket_by_length:
        return encoded.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)

    def unpad(x, label):
        length = tf.reduce_sum(x["padding_mask"])
        return {name: value[:length] for name, value in x.items()}, label

    lengths = [16]
    while lengths[-1] < seq_len:
        lengths.append(min(2 * lengths[-1], seq_len))
    # bucket_by_sequence_length pads to (boundary - 1).
    boundaries = [length + 1 for length in lengths]
    padding_values = (
        {"token_ids": tokenizer.pad_id, "segment_ids": 0, "padding_mask": 0},
        0,
    )
    return (
        encoded.map(unpad, num_parallel_calls=AUTOTUNE, deterministic=True)
        .bucket_by_sequence_length(
            lambda x, label: tf.shape(x["token_ids"])[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padding_values=padding_values,
            pad_to_bucket_boundary=True,
            drop_remainder=drop_remainder,
        )
        .prefetch(AUTOTUNE)
    )
