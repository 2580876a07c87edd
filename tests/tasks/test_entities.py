"""Entity decoding and metrics equal seqeval's, malformed tag sequences included."""

import random

import pytest
import tensorflow as tf
from support.deps import require

from keras_bert_impl.tasks.entities import TagSet, decode_entities, entity_metrics

seqeval_metrics = require("seqeval.metrics")
seqeval_labeling = require("seqeval.metrics.sequence_labeling")

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
IOBES = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
# Hand-picked: I- without B-, type switches, E-/S- in odd places, empty sentences.
MALFORMED = [
    ["I-PER", "I-PER", "O", "I-LOC"],
    ["B-PER", "I-LOC", "I-LOC", "B-LOC"],
    ["O", "E-PER", "E-PER", "S-LOC", "I-LOC", "E-LOC"],
    ["B-PER", "S-PER", "I-PER", "E-LOC"],
    [],
    ["S-PER"],
]


def _random_sentences(names, rng, count):
    return [[rng.choice(names) for _ in range(rng.randrange(0, 9))] for _ in range(count)]


def _ids(names, sentences):
    return [[names.index(tag) for tag in sentence] for sentence in sentences]


@pytest.mark.parametrize("names", [BIO, IOBES], ids=["BIO", "IOBES"])
def test_decoded_entities_are_seqevals(names):
    rng = random.Random(7)
    sentences = _random_sentences(names, rng, 200) + [s for s in MALFORMED if set(s) <= set(names)]
    tag_set = TagSet(names)
    spans = decode_entities(tag_set, tf.ragged.constant(_ids(names, sentences), tf.int32, ragged_rank=1))
    for row, sentence in enumerate(sentences):
        ours = [
            (tag_set.types[t], f, l)
            for t, f, l in zip(*(spans[k][row].numpy().tolist() for k in ("type", "first", "last")))
        ]
        assert ours == seqeval_labeling.get_entities(sentence), sentence


@pytest.mark.parametrize("names", [BIO, IOBES], ids=["BIO", "IOBES"])
def test_metrics_equal_seqeval_micro_and_per_type(names):
    rng = random.Random(11)
    true = _random_sentences(names, rng, 60) + MALFORMED[:2]
    # Predictions: the truth with a third of the tags redrawn.
    predicted = [[t if rng.random() > 0.3 else rng.choice(names) for t in s] for s in true]
    true = [[t if t in names else "O" for t in s] for s in true]
    predicted = [[t if t in names else "O" for t in s] for s in predicted]
    ours = entity_metrics(TagSet(names), _ids(names, true), _ids(names, predicted))
    assert ours["entity_f1"] == pytest.approx(seqeval_metrics.f1_score(true, predicted), abs=1e-12)
    assert ours["entity_precision"] == pytest.approx(seqeval_metrics.precision_score(true, predicted), abs=1e-12)
    assert ours["entity_recall"] == pytest.approx(seqeval_metrics.recall_score(true, predicted), abs=1e-12)
    assert ours["token_accuracy"] == pytest.approx(seqeval_metrics.accuracy_score(true, predicted), abs=1e-12)
    report = seqeval_metrics.classification_report(true, predicted, output_dict=True, zero_division=0)
    for name, scores in ours["per_type"].items():
        if scores["support"] == 0 and name not in report:
            continue
        for key, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"), ("support", "support")):
            assert scores[key] == pytest.approx(report[name][theirs], abs=1e-12), (name, key)


def test_continuation_tags_and_scheme():
    tags = TagSet(IOBES)
    assert tags.scheme == "IOBES" and TagSet(BIO).scheme == "BIO"
    assert tags.types == ["PER", "LOC"]
    assert IOBES[tags.continuation_id(IOBES.index("S-LOC"))] == "I-LOC"
    assert tags.continuation_id(0) == 0
    with pytest.raises(ValueError, match="I-X"):
        TagSet(["O", "B-X"]).continuation_id(1)
