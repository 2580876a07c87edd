"""Entities from BIO / IOBES tag sequences, in-graph, and entity-level metrics.

Decoding follows the CoNLL evaluation conventions as `seqeval` implements
them in its default mode, for both schemes at once: a non-"O" tag starts an
entity when it is B- or S-, when the tag before it is "O", E- or S-, or when
the type changes; it continues the entity before it otherwise. So an I-
without a B- starts an entity, and every non-"O" word belongs to exactly one
entity. One function serves training metrics, the Python API and the
SavedModel, so all three find the same entities.

Example:

>>> tags = TagSet(["O", "B-PER", "I-PER", "B-LOC"])
>>> spans = decode_entities(tags, tf.ragged.constant([[1, 2, 0, 3], [2]]))
>>> spans["type"], spans["first"], spans["last"]
(<tf.RaggedTensor [[0, 1], [0]]>, <tf.RaggedTensor [[0, 3], [0]]>,
 <tf.RaggedTensor [[1, 3], [0]]>)
>>> tags.types
['PER', 'LOC']
"""

import tensorflow as tf

from keras_bert_impl.data.tagged import OUTSIDE
from keras_bert_impl.tasks.precision_recall import precision_recall_f1

_PREFIXES = "OBIES"


class TagSet:
    """The tags of a model, split into prefix and entity type.

    Args:
        tag_names: tags as the model's labels ("O", "B-PER", ...).

    Attributes:
        tag_names: the tags, id = index.
        types: entity types in order of first appearance.
        scheme: "IOBES" if any tag is E- or S-, else "BIO".
    """

    def __init__(self, tag_names):
        self.tag_names = list(tag_names)
        self.types = []
        for name in self.tag_names:
            entity_type = name[2:]
            if name != OUTSIDE and entity_type not in self.types:
                self.types.append(entity_type)
        self.scheme = "IOBES" if any(name[:2] in ("E-", "S-") for name in self.tag_names) else "BIO"
        # Per tag id: prefix code (index in "OBIES") and type id (-1 for O).
        self.prefix_codes = [_PREFIXES.index(name[0]) for name in self.tag_names]
        self.type_ids = [-1 if name == OUTSIDE else self.types.index(name[2:]) for name in self.tag_names]

    def continuation_id(self, tag_id):
        """The tag of a word's later pieces: I- of its type, "O" for "O"."""
        name = self.tag_names[tag_id]
        if name == OUTSIDE:
            return tag_id
        inside = "I-" + name[2:]
        if inside not in self.tag_names:
            raise ValueError(f"labelling every piece needs the tag {inside!r}, which the tags {self.tag_names} lack")
        return self.tag_names.index(inside)


def decode_entities(tag_set, tag_ids):
    """The entities of tag sequences, in-graph.

    Args:
        tag_set: the `TagSet` of the ids.
        tag_ids: int RaggedTensor [batch, (words)].

    Returns:
        dict of int64 RaggedTensor [batch, (entities)], in text order:
        "type" (index in `tag_set.types`), "first" and "last" (word
        indices, inclusive).
    """
    ids = tf.cast(tag_ids.flat_values, tf.int32)
    prefix = tf.gather(tf.constant(tag_set.prefix_codes, tf.int32), ids)
    entity_type = tf.gather(tf.constant(tag_set.type_ids, tf.int32), ids)
    row = tag_ids.value_rowids()
    first_in_row = tf.concat([[True], row[1:] != row[:-1]], axis=0)[: tf.size(row)]
    previous_prefix = tf.where(first_in_row, 0, tf.roll(prefix, 1, axis=0))
    previous_type = tf.where(first_in_row, -1, tf.roll(entity_type, 1, axis=0))
    outside, begin, end, single = (_PREFIXES.index(p) for p in "OBES")
    inside_entity = prefix != outside
    starts = inside_entity & (
        (prefix == begin)
        | (prefix == single)
        | (previous_prefix == outside)
        | (previous_prefix == end)
        | (previous_prefix == single)
        | (previous_type != entity_type)
    )
    entity_of_word = tf.boolean_mask(tf.cumsum(tf.cast(starts, tf.int64)) - 1, inside_entity)
    count = tf.reduce_sum(tf.cast(starts, tf.int64))
    word_in_row = tf.range(tf.size(row, tf.int64)) - tf.gather(tag_ids.row_splits, row)
    words = tf.boolean_mask(word_in_row, inside_entity)
    entity_rows = tf.boolean_mask(row, starts)
    values = {
        "type": tf.cast(tf.boolean_mask(entity_type, starts), tf.int64),
        "first": tf.math.unsorted_segment_min(words, entity_of_word, count),
        "last": tf.math.unsorted_segment_max(words, entity_of_word, count),
    }
    nrows = tag_ids.nrows()
    return {
        name: tf.RaggedTensor.from_value_rowids(value, entity_rows, nrows=nrows)
        for name, value in values.items()
    }


def entity_metrics(tag_set, true_tags, predicted_tags):
    """Entity precision, recall and F1 (micro and per type) and word accuracy.

    Args:
        tag_set: `TagSet` of the ids.
        true_tags, predicted_tags: lists of sentences of tag ids.

    Returns:
        JSON-ready dict: `entity_precision`, `entity_recall`, `entity_f1`,
        `token_accuracy` (fraction of words tagged right), `sentences`,
        `words` and `per_type` {type: {precision, recall, f1, support}}.
    """
    true_entities = _entity_set(tag_set, true_tags)
    predicted_entities = _entity_set(tag_set, predicted_tags)
    words = sum(len(sentence) for sentence in true_tags)
    right = sum(t == p for ts, ps in zip(true_tags, predicted_tags) for t, p in zip(ts, ps))
    per_type = {}
    for index, name in enumerate(tag_set.types):
        per_type[name] = _scores(
            {e for e in true_entities if e[1] == index}, {e for e in predicted_entities if e[1] == index}
        )
    overall = _scores(true_entities, predicted_entities)
    return {
        "entity_precision": overall["precision"],
        "entity_recall": overall["recall"],
        "entity_f1": overall["f1"],
        "token_accuracy": right / words if words else 0.0,
        "sentences": len(true_tags),
        "words": words,
        "per_type": per_type,
    }


def _entity_set(tag_set, sentences):
    spans = decode_entities(tag_set, tf.ragged.constant(sentences, dtype=tf.int32, ragged_rank=1))
    rows = spans["type"].value_rowids().numpy().tolist()
    columns = zip(rows, *(spans[name].flat_values.numpy().tolist() for name in ("type", "first", "last")))
    return set(columns)


def _scores(true_entities, predicted_entities):
    return precision_recall_f1(
        len(true_entities & predicted_entities), len(predicted_entities), len(true_entities)
    )

