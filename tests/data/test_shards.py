"""Prepared shards: BERT's recipe with bounded memory, read back into the masked pipeline."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_impl.data import shards
from keras_bert_impl.data.pipelines import (
    PretrainingSeeds,
    mask_pretraining_batches,
    pretraining_row_batches,
)
from keras_bert_impl.text import Tokenizer

DOCUMENTS, SENTENCES, WORDS = 30, 5, 6


def _word(document, sentence, position):
    return f"d{document}s{sentence}w{position}"


@pytest.fixture(scope="module")
def tokenizer():
    words = [_word(d, s, w) for d in range(DOCUMENTS) for s in range(SENTENCES) for w in range(WORDS)]
    return Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."] + words)


def _documents():
    for d in range(DOCUMENTS):
        yield [" ".join(_word(d, s, w) for w in range(WORDS)) + " ." for s in range(SENTENCES)]


def _document_of(tokenizer, ids):
    tokens = [tokenizer.vocabulary[i] for i in ids]
    return {int(t[1:].split("s")[0]) for t in tokens if t.startswith("d")}


def _read_all(directory):
    return [tf.nest.map_structure(lambda t: t.numpy(), e) for e in shards.read_pretraining_shards(directory)]


def test_shards_follow_berts_recipe(tmp_path, tokenizer):
    output = str(tmp_path / "shards")
    metadata = shards.write_pretraining_shards(
        _documents(), tokenizer, output, seq_len=24, nsp=True, seed=5, num_shards=3,
        document_buffer=4,
    )
    examples = _read_all(output)
    assert len(examples) == metadata["examples"] == sum(metadata["shard_examples"]) > 0
    assert json.loads((tmp_path / "shards" / "metadata.json").read_text())["nsp"] is True
    labels = np.array([e["nsp_label"] for e in examples])
    assert 0.2 < labels.mean() < 0.8, labels.mean()
    for example in examples:
        a, b = example["segment_a"], example["segment_b"]
        assert len(a) and len(b) and len(a) + len(b) <= 24 - 3
        a_docs, b_docs = _document_of(tokenizer, a), _document_of(tokenizer, b)
        assert len(a_docs) == 1
        assert (b_docs == a_docs) == (example["nsp_label"] == 0), (a_docs, b_docs)
    # Reproducible from the seed; a different seed shuffles differently.
    again = str(tmp_path / "again")
    shards.write_pretraining_shards(
        _documents(), tokenizer, again, seq_len=24, nsp=True, seed=5, num_shards=3, document_buffer=4,
    )
    for name in metadata["shards"]:
        assert (tmp_path / "shards" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_document_buffer_bounds_memory():
    pulled = []

    def source():
        for index in range(500):
            pulled.append(index)
            yield [index]

    rng = np.random.default_rng(0)
    order = []
    for document, other in shards._shuffled_with_partners(source(), 20, rng):
        # Documents read but not yet given out: what the buffer holds.
        assert len(pulled) - len(order) <= 20
        assert other is not document
        order.append(document[0])
    assert sorted(order) == list(range(500)) and order != list(range(500))


def test_shards_feed_the_masked_pipeline_and_split_by_worker(tmp_path, tokenizer):
    output = str(tmp_path / "shards")
    shards.write_pretraining_shards(
        _documents(), tokenizer, output, seq_len=24, nsp=False, seed=1, num_shards=4,
    )
    seeds = PretrainingSeeds(0)
    rows = pretraining_row_batches(
        shards.read_pretraining_shards(output), tokenizer, seq_len=24, batch_size=4,
        nsp=False, seeds=seeds, epochs=1,
    )
    batches = mask_pretraining_batches(rows, tokenizer, max_predictions=3, nsp=False, seeds=seeds)
    x, y, w = next(iter(batches))
    assert x["token_ids"].shape == (4, 24) and y["mlm"].shape == (4, 3)
    contexts = [tf.distribute.InputContext(2, i, 2) for i in range(2)]
    halves = [
        {tuple(e["segment_a"]) for e in map(lambda e: tf.nest.map_structure(lambda t: t.numpy(), e),
                                            shards.read_pretraining_shards(output, input_context=c))}
        for c in contexts
    ]
    everything = {tuple(e["segment_a"]) for e in _read_all(output)}
    assert halves[0] | halves[1] == everything and not halves[0] & halves[1]


def test_a_worker_whose_shards_hold_less_than_a_batch_is_an_error(tmp_path, tokenizer):
    output = str(tmp_path / "shards")
    metadata = shards.write_pretraining_shards(
        _documents(), tokenizer, output, seq_len=24, nsp=False, seed=1, num_shards=4,
    )
    first_half = metadata["shard_examples"][0] + metadata["shard_examples"][2]
    context = tf.distribute.InputContext(2, 0, 2)
    shards.read_pretraining_shards(output, input_context=context, batch_size=first_half)
    with pytest.raises(ValueError, match=(
        rf"input pipeline 0 of 2 reads shard-00000-of-00004.tfrecord, "
        rf"shard-00002-of-00004.tfrecord with {first_half} example\(s\), "
        rf"fewer than one batch of {first_half + 1}"
    )):
        shards.read_pretraining_shards(output, input_context=context, batch_size=first_half + 1)


def test_folder_without_metadata_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        shards.load_shards_metadata(str(tmp_path))
