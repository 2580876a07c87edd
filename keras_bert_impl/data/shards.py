"""Prepared pretraining data: TFRecord shards of tokenized, unmasked examples.

`write_pretraining_shards` streams a corpus of any size through BERT's recipe
(create_pretraining_data) with bounded memory:

- documents are shuffled through a buffer of `document_buffer` documents;
- each is cut into segments filling `seq_len` (10% of documents, by default,
  aim at a shorter random length), A/B pairs with next-sentence labels when
  `nsp`, NotNext segments coming from another document of the buffer;
- a pair longer than the budget loses tokens from the front or the back of
  its longer segment, at random;
- each example goes to a random one of `num_shards` files.

Masking stays dynamic: `read_pretraining_shards` gives the examples to
`pipelines.pretraining_row_batches`, whose batches
`pipelines.mask_pretraining_batches` masks anew per pass.
The folder also holds `metadata.json` (sizes, counts, the recipe's settings)
and the `vocab.txt` the ids come from, and is written atomically.

Example:

>>> write_pretraining_shards(documents, tokenizer, "data/wiki",  # doctest: +SKIP
...                          seq_len=128, nsp=True, seed=0)
>>> examples = read_pretraining_shards("data/wiki")  # doctest: +SKIP
"""

import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from keras_bert_impl.data import sources
from keras_bert_impl.io_utils import atomic_path, write_text_atomically
from keras_bert_impl.model_dir import VOCAB_FILE
from keras_bert_impl.text.masking import pair_token_budget, sample_pretraining_pairs
from keras_bert_impl.text.vocab import save_vocab

METADATA_FILE = "metadata.json"
FORMAT = "keras_bert_impl.pretraining_shards.v1"
_SHARD_NAME = "shard-{index:05d}-of-{count:05d}.tfrecord"
# Documents tokenized per TensorFlow call: one call per sentence is slow.
_TOKENIZE_BATCH = 256


def write_pretraining_shards(
    documents,
    tokenizer,
    output_dir,
    *,
    seq_len,
    nsp,
    seed=0,
    num_shards=16,
    short_seq_prob=0.1,
    document_buffer=1000,
):
    """Writes a corpus as TFRecord shards of unmasked pretraining examples.

    Memory holds at most `document_buffer` tokenized documents, whatever the
    corpus size.

    Args:
        documents: iterable of documents, each a list of sentence strings.
        tokenizer: `keras_bert_impl.text.Tokenizer`; its vocabulary is copied
            beside the shards.
        output_dir: the folder to create (replaced if it exists).
        seq_len: packed length the examples are cut for, [CLS]/[SEP] included.
        nsp: make A/B pairs with next-sentence labels.
        seed: makes the shuffles, cuts and truncations reproducible.
        num_shards: number of TFRecord files (at least the number of workers
            that will read them, which split them by file).
        short_seq_prob: share of documents aiming at a shorter random length.
        document_buffer: documents held for shuffling and NotNext sampling.

    Returns:
        The metadata dict written to `metadata.json`.
    """
    if seq_len < 3 + int(nsp):
        raise ValueError(f"--seq-len {seq_len} is too short for [CLS] A [SEP]{' B [SEP]' if nsp else ''}")
    if num_shards < 1 or document_buffer < 2:
        raise ValueError(
            f"num_shards={num_shards}, document_buffer={document_buffer}: expected >= 1 and >= 2"
        )
    max_num_tokens = pair_token_budget(seq_len, nsp)
    rng = np.random.default_rng(seed)
    counts = np.zeros(num_shards, np.int64)
    with atomic_path(output_dir) as temp_dir:
        os.makedirs(temp_dir)
        writers = [
            tf.io.TFRecordWriter(os.path.join(temp_dir, _SHARD_NAME.format(index=i, count=num_shards)))
            for i in range(num_shards)
        ]
        tokenized = _tokenized_documents(documents, tokenizer)
        for document, other in _shuffled_with_partners(tokenized, document_buffer, rng):
            for a, b, label in sample_pretraining_pairs(
                document, other, max_num_tokens=max_num_tokens, nsp=nsp,
                short_seq_prob=short_seq_prob, rng=rng,
            ):
                shard = int(rng.integers(num_shards))
                writers[shard].write(_serialize(a, b, label))
                counts[shard] += 1
        for writer in writers:
            writer.close()
        metadata = _metadata(tokenizer, seq_len, nsp, seed, short_seq_prob, document_buffer, counts)
        if not metadata["examples"]:
            raise ValueError("the corpus gives no training example: it has no text (only blank lines?)")
        save_vocab(tokenizer.vocabulary, os.path.join(temp_dir, VOCAB_FILE))
        write_text_atomically(
            os.path.join(temp_dir, METADATA_FILE), json.dumps(metadata, indent=2, sort_keys=True) + "\n"
        )
    return metadata


def vocabulary_digest(tokens):
    """SHA-256 of a vocabulary, to check that shards and a model share one."""
    return hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()


def load_shards_metadata(directory):
    """Reads and checks `directory/metadata.json`.

    Raises:
        FileNotFoundError / ValueError: naming the folder, when it was not
            written by `write_pretraining_shards` or misses shards.
    """
    path = os.path.join(directory, METADATA_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"{directory}: no {METADATA_FILE}; expected a folder written by `train_tf.py prepare`"
        )
    with tf.io.gfile.GFile(path) as f:
        try:
            metadata = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: format {metadata.get('format')!r}; expected {FORMAT!r}")
    missing = [name for name in metadata["shards"] if not tf.io.gfile.exists(os.path.join(directory, name))]
    if missing:
        raise FileNotFoundError(f"{directory}: shard files missing: {', '.join(missing)}")
    return metadata


def read_pretraining_shards(directory, *, input_context=None, batch_size=None):
    """The examples of prepared shards, as `pipelines.pretraining_examples` gives them.

    Args:
        directory: a folder written by `write_pretraining_shards`.
        input_context: a `tf.distribute.InputContext`; its input pipeline
            reads only its share of the shard files.
        batch_size: the batch size these examples are cut into, dropping the
            remainder: their share must fill one batch, or an endless stream
            of them would loop forever on empty passes.

    Raises:
        ValueError: the pipeline's share of the examples is less than
            `batch_size`, or it has no shard file.

    Returns:
        `tf.data.Dataset` of {"segment_a", "segment_b" int32 [None],
        "nsp_label" int32}, in a fixed order (shuffle it per pass).
    """
    metadata = load_shards_metadata(directory)
    indices = _pipeline_shards(directory, metadata, input_context)
    if batch_size is not None:
        _check_fills_a_batch(directory, metadata, indices, input_context, batch_size)
    files = [os.path.join(directory, metadata["shards"][i]) for i in indices]
    features = {
        "segment_a": tf.io.RaggedFeature(tf.int64),
        "segment_b": tf.io.RaggedFeature(tf.int64),
        "nsp_label": tf.io.FixedLenFeature([], tf.int64),
    }

    def parse(record):
        example = tf.io.parse_single_example(record, features)
        return {name: tf.cast(value, tf.int32) for name, value in example.items()}

    return (
        tf.data.Dataset.from_tensor_slices(files)
        .interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8))
        .map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    )


def _pipeline_shards(directory, metadata, input_context):
    """Indices of the shard files the input pipeline of `input_context` reads."""
    count = len(metadata["shards"])
    if input_context is None or input_context.num_input_pipelines == 1:
        return list(range(count))
    pipelines = input_context.num_input_pipelines
    if count < pipelines:
        raise ValueError(
            f"{directory} has {count} shard(s) for {pipelines} "
            "workers; run prepare with --num-shards at least the number of workers"
        )
    return list(range(input_context.input_pipeline_id, count, pipelines))


def _check_fills_a_batch(directory, metadata, indices, input_context, batch_size):
    # Shards get examples at random, so one worker's share can be small.
    examples = sum(metadata["shard_examples"][i] for i in indices)
    if examples >= batch_size:
        return
    names = ", ".join(metadata["shards"][i] for i in indices)
    reader = (
        f"input pipeline {input_context.input_pipeline_id} of {input_context.num_input_pipelines}"
        if input_context is not None else "this run"
    )
    raise ValueError(
        f"{directory}: {reader} reads {names} with {examples} example(s), fewer than one "
        f"batch of {batch_size}; lower --batch-size, or run prepare on more text or with "
        "fewer --num-shards"
    )


def _tokenized_documents(documents, tokenizer):
    """Yields each document as a list of int32 id arrays, one per sentence."""
    block = []
    for document in documents:
        block.append(list(document))
        if len(block) == _TOKENIZE_BATCH:
            yield from _tokenize_block(block, tokenizer)
            block = []
    if block:
        yield from _tokenize_block(block, tokenizer)


def _tokenize_block(block, tokenizer):
    sentences = [sentence for document in block for sentence in document]
    ids = tokenizer(tf.constant(sentences, tf.string))
    flat = np.split(ids.flat_values.numpy().astype(np.int32), ids.row_splits.numpy()[1:-1])
    start = 0
    for document in block:
        sentence_ids = [s for s in flat[start : start + len(document)] if len(s)]
        start += len(document)
        if sentence_ids:
            yield sentence_ids


def _shuffled_with_partners(documents, buffer_size, rng):
    """Yields (document, other document) in an order shuffled through a buffer.

    The other document, where NotNext segments come from, is another one of
    the buffer ([] when the corpus has a single document).
    """
    buffer = []
    for document in documents:
        buffer.append(document)
        if len(buffer) >= buffer_size:
            yield _pop_random(buffer, rng)
    rng.shuffle(buffer)
    last = []
    while buffer:
        document = buffer.pop()
        yield document, (buffer[int(rng.integers(len(buffer)))] if buffer else last)
        last = document


def _pop_random(buffer, rng):
    index = int(rng.integers(len(buffer)))
    buffer[index], buffer[-1] = buffer[-1], buffer[index]
    document = buffer.pop()
    return document, buffer[int(rng.integers(len(buffer)))]


def _serialize(segment_a, segment_b, label):
    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    return tf.train.Example(features=tf.train.Features(feature={
        "segment_a": ints(segment_a), "segment_b": ints(segment_b), "nsp_label": ints([label]),
    })).SerializeToString()


def _metadata(tokenizer, seq_len, nsp, seed, short_seq_prob, document_buffer, counts):
    return {
        "format": FORMAT,
        "seq_len": seq_len,
        "nsp": nsp,
        "lowercase": tokenizer.lowercase,
        "vocab_size": tokenizer.vocab_size,
        "vocab_sha256": vocabulary_digest(tokenizer.vocabulary),
        "seed": seed,
        "short_seq_prob": short_seq_prob,
        "document_buffer": document_buffer,
        "examples": int(counts.sum()),
        "shards": [_SHARD_NAME.format(index=i, count=len(counts)) for i in range(len(counts))],
        "shard_examples": [int(c) for c in counts],
    }


def stream_corpus_documents(source, *, text_feature="text", split="train"):
    """Yields a corpus' documents (lists of sentences) one at a time.

    Unlike `sources.pretraining_documents`, local files (and `gs://` ones,
    through `tf.io.gfile`) are read line by line, so memory holds one
    document whatever the file size. `tfds:` and the embedded corpus stream
    through their tf.data pipelines.

    Args:
        source: path, glob or list of them, "tfds:NAME" or "embedded".
        text_feature, split: for tfds sources, as `sources.pretraining_documents`.
    """
    if source == sources.EMBEDDED_SOURCE or (isinstance(source, str) and source.startswith(sources.TFDS_PREFIX)):
        dataset = sources.pretraining_documents(source, text_feature=text_feature, split=split)
        for sentences in dataset.as_numpy_iterator():
            yield [sentence.decode("utf-8", "replace") for sentence in sentences]
        return
    for path in sources.resolve_files(source):  # the same paths and errors as training
        yield from _text_file_documents(path)


def _text_file_documents(path):
    """The BERT convention: a sentence per line, a blank line between documents."""
    document = []
    with tf.io.gfile.GFile(path, "rb") as f:
        for line in f:
            sentence = line.decode("utf-8", "replace").strip()
            if sentence:
                document.append(sentence)
            elif document:
                yield document
                document = []
    if document:
        yield document
