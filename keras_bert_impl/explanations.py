"""Integrated gradients: how much each word of a text moved a classifier's answer.

For a `BertClassifier` the explained score is the logit of one label; for a
`BertTokenClassifier` it is, per predicted entity, the sum of the logits of
the entity's tags at its words' first pieces (the logits the tagger decodes),
so the words around an entity get their share too.

The attribution of a word piece is its share of the change in the target
logit between a baseline input and the real one, integrated along the
straight line between their token embeddings (Sundararajan et al., 2017,
"Axiomatic Attribution for Deep Networks"). Position and segment embeddings
stay as they are, and so do [CLS] and [SEP]; the baseline replaces each word
piece's token embedding by that of [PAD] ("pad", the default) or by zeros
("zero"). The path runs through the token embeddings, before the embedding
LayerNorm: scaling a normalised vector does not change it, so a path of
normalised vectors from zero would jump at its start. A word's attribution
is the sum over its word pieces.

Completeness: the word attributions sum to `logit - baseline_logit`, up to
the error of the integral, reported as `delta`. The integral uses
Gauss-Legendre nodes, exact for polynomials of degree < 2 * steps, so it
needs far fewer model calls than a Riemann sum for the same error.

Example:

>>> loaded = load_model_dir("runs/cls")  # doctest: +SKIP
>>> explain(loaded.model, loaded.tokenizer, "a great film", label_names=loaded.label_names)  # doctest: +SKIP
{'text': 'a great film', 'label': 'pos', 'label_id': 1, 'logit': 2.1,
 'baseline_logit': -0.3, 'delta': 0.004,
 'words': [{'word': 'a', 'attribution': 0.1}, {'word': 'great', ...}, ...]}
"""

import collections

import keras
import numpy as np
import tensorflow as tf

from keras_bert_impl import inference
from keras_bert_impl.choices import DEFAULT_EXPLAIN_STEPS
from keras_bert_impl.models import BertClassifier, BertTokenClassifier
from keras_bert_impl.tasks.entities import TagSet, decode_entities
from keras_bert_impl.text import SegmentPacker
from keras_bert_impl.text.tokenizer import split_words

BASELINES = ("pad", "zero")
# Interpolation points per model call: bounds memory at bert_base sizes.
POINTS_PER_CALL = 16

_EXPLAINABLE = (BertClassifier, BertTokenClassifier)

_Integral = collections.namedtuple("_Integral", "token_attribution value baseline_value")
# One text on its way through the model: its words, the word of each token
# (-1 for [CLS]/[SEP]), token vectors -> logits, and the two path ends.
_TextPath = collections.namedtuple("_TextPath", "text words word_of_token logits_of vectors baseline_vectors")


def explain(
    model,
    tokenizer,
    text_or_texts,
    target=None,
    label_names=None,
    baseline="pad",
    steps=DEFAULT_EXPLAIN_STEPS,
    seq_len=None,
):
    """Integrated-gradients attribution of each word to a label or to each entity.

    Args:
        model: a `BertClassifier` or a `BertTokenClassifier`.
        tokenizer: the model's `Tokenizer`.
        text_or_texts: one text or a list of texts (str or UTF-8 bytes).
        target: classifier: the label to explain, an id or a name from
            `label_names`, or None for each text's predicted label. Token
            classifier: an entity type to explain only those entities, or
            None for all.
        label_names: names of the label ids (a token classifier's tags, e.g.
            "O", "B-PER"); default "0", "1", ... (a token classifier needs
            its tags).
        baseline: "pad" ([CLS] [PAD] ... [PAD] [SEP]) or "zero" (zero token
            embeddings for the word pieces).
        steps: integration points; more is slower and more exact.
        seq_len: most tokens per text, [CLS] and [SEP] included; default the
            training length (`tokenizer.model_max_length`), as `classify`.
            Words cut off are not listed (and not tagged). A classifier
            trained with windows is explained on texts of one window only:
            its label for a longer text pools windows, which one path of
            integration cannot follow, so such a text is an error.

    Returns:
        For each text, a dict. Classifier: "text", "label", "label_id",
        "logit" (the target logit), "baseline_logit", "words" (a list of
        `{"word", "attribution"}` in text order; words are normalised as the
        tokenizer sees them, e.g. lower-cased) and "delta" (sum of the
        attributions minus `logit - baseline_logit`). Token classifier:
        "text" and "entities", a list of the same dicts with "label" the
        entity type, "entity" its words, "first_word" and "last_word", and
        "logit" the entity's summed tag logits. For a single text, just its
        dict.

    Raises:
        ValueError: another model, an unknown target or baseline,
            `steps` < 1, or a text longer than one window of a windowed
            classifier.

    Example:

    >>> explain(model, tokenizer, "a great film", steps=20)["words"][1]  # doctest: +SKIP
    {'word': 'great', 'attribution': 1.73}
    """
    if not isinstance(model, _EXPLAINABLE):
        raise ValueError(
            f"explain needs a BertClassifier or BertTokenClassifier, got {type(model).__name__}."
        )
    if baseline not in BASELINES:
        raise ValueError(f"baseline={baseline!r}; expected one of {BASELINES}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps={steps!r}: expected a positive integer.")
    label_names = _label_names(model, label_names)
    if isinstance(model, BertTokenClassifier):
        explain_text = _entity_explainer(label_names, target, steps)
    else:
        explain_text = _label_explainer(label_names, target, steps)
    single = isinstance(text_or_texts, (str, bytes))
    texts = [text_or_texts] if single else list(text_or_texts)
    seq_len = inference.resolve_seq_len(model, tokenizer, seq_len)
    results = [explain_text(_text_path(model, tokenizer, text, seq_len, baseline)) for text in texts]
    return results[0] if single else results


def _label_names(model, label_names):
    if label_names is None:
        if isinstance(model, BertTokenClassifier):
            raise ValueError("explaining a token classifier needs its tags (label_names).")
        return [str(i) for i in range(model.num_classes)]
    if len(label_names) != model.num_classes:
        raise ValueError(
            f"{len(label_names)} label names {list(label_names)} for a model with "
            f"{model.num_classes} classes."
        )
    return list(label_names)


def _target_id(target, label_names):
    if isinstance(target, str):
        if target not in label_names:
            raise ValueError(f"target={target!r} is not one of the labels {label_names}.")
        return label_names.index(target)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not (
        0 <= target < len(label_names)
    ):
        raise ValueError(f"target={target!r}: expected a label name or an id 0 to {len(label_names) - 1}.")
    return int(target)


def _text_path(model, tokenizer, text, seq_len, baseline):
    if getattr(model, "window_pooling", None) is not None:
        _check_one_window(tokenizer, text, seq_len)
    words, inputs, word_of_token = _pack_words(tokenizer, text, seq_len)
    logits_of = _logits_from_token_vectors(model, inputs["segment_ids"], inputs["padding_mask"])
    vectors, baseline_vectors = _token_vectors(model, tokenizer, inputs, baseline)
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return _TextPath(text, words, word_of_token, logits_of, vectors, baseline_vectors)


def _check_one_window(tokenizer, text, seq_len):
    pieces = int(tokenizer(tf.constant([text], dtype=tf.string)).row_lengths()[0])
    if pieces > seq_len - 2:
        raise ValueError(
            f"explain: a text of {pieces} word pieces is more than one window ({seq_len - 2}) of a "
            "classifier trained with windows, whose label pools its windows; explanations cover "
            "one window only. Explain a shorter passage of it."
        )


def _label_explainer(label_names, target, steps):
    """A function _TextPath -> the classifier's explanation of one text."""
    target_id = None if target is None else _target_id(target, label_names)

    def explain_text(path):
        logits = path.logits_of(path.vectors)[0]
        label_id = int(tf.argmax(logits)) if target_id is None else target_id
        selection = tf.one_hot(label_id, len(label_names))
        return {
            "text": path.text,
            "label": label_names[label_id],
            "label_id": label_id,
            **_attributions(path, _integrated_gradients(path, selection, steps)),
        }

    return explain_text


def _entity_explainer(tag_names, target, steps):
    """A function _TextPath -> the token classifier's explanation of each entity of one text."""
    tag_set = TagSet(tag_names)
    if target is not None and target not in tag_set.types:
        raise ValueError(f"target={target!r} is not one of the entity types {tag_set.types}.")

    def explain_text(path):
        # Each word is tagged at its first piece, as the tagger decodes.
        first_piece = np.array([np.flatnonzero(path.word_of_token == w)[0] for w in range(len(path.words))])
        tag_ids = tf.argmax(path.logits_of(path.vectors)[0], axis=-1).numpy()[first_piece]
        entities = decode_entities(tag_set, tf.ragged.constant([tag_ids.tolist()], dtype=tf.int32))
        explanations = []
        for entity_type, first, last in zip(*(entities[k][0].numpy() for k in ("type", "first", "last"))):
            if target is not None and tag_set.types[entity_type] != target:
                continue
            selection = np.zeros(path.vectors.shape[1:2] + (len(tag_names),), "float32")
            selection[first_piece[first : last + 1], tag_ids[first : last + 1]] = 1.0
            explanations.append({
                "entity": " ".join(path.words[first : last + 1]),
                "label": tag_set.types[entity_type],
                "first_word": int(first),
                "last_word": int(last),
                **_attributions(path, _integrated_gradients(path, tf.constant(selection), steps)),
            })
        return {"text": path.text, "entities": explanations}

    return explain_text


def _pack_words(tokenizer, text, seq_len):
    """(words, model inputs [1, tokens], word index of each token, -1 for [CLS]/[SEP])."""
    text = tf.constant([text], dtype=tf.string)
    pieces = tokenizer.tokenize_words(text)[0]
    words = [w.decode("utf-8") for w in split_words(text, tokenizer.lowercase)[0].numpy()]
    word_of_piece = np.repeat(np.arange(len(words)), pieces.row_lengths().numpy())[: seq_len - 2]
    flat_pieces = pieces.flat_values[: seq_len - 2]
    packer = SegmentPacker.from_tokenizer(tokenizer, len(word_of_piece) + 2)
    inputs = packer(tf.RaggedTensor.from_tensor(flat_pieces[tf.newaxis]))
    word_of_token = np.concatenate([[-1], word_of_piece, [-1]])
    return words[: word_of_token.max() + 1], inputs, word_of_token


def _word_piece_mask(tokenizer, token_ids):
    """[1, tokens, 1] float: 1 for word pieces, 0 for [CLS] and [SEP]."""
    special = (token_ids == tokenizer.cls_id) | (token_ids == tokenizer.sep_id)
    return tf.cast(~special, tf.float32)[:, :, None]


def _token_vectors(model, tokenizer, inputs, baseline):
    """(token embeddings of the input, of the baseline), each [1, tokens, hidden]."""
    table = model.backbone.embeddings.token_embedding
    vectors = tf.cast(table(inputs["token_ids"]), tf.float32)
    if baseline == "zero":
        baseline_vectors = tf.zeros_like(vectors)
    else:
        baseline_vectors = tf.cast(table(tf.fill(tf.shape(inputs["token_ids"]), tokenizer.pad_id)), tf.float32)
    # [CLS] and [SEP] are the same in both, so the words share the whole change.
    is_word = _word_piece_mask(tokenizer, inputs["token_ids"])
    return vectors, is_word * baseline_vectors + (1 - is_word) * vectors


def _logits_from_token_vectors(model, segment_ids, padding_mask):
    """A function token vectors [n, tokens, hidden] -> the head's logits, for one text.

    What the embedding layer does after its token lookup (add position and
    segment embeddings, normalise; dropout is off at inference) is repeated
    here, because the layer only takes ids; tests/test_explain.py checks
    that this gives the layer's own output. The rest is the backbone's own
    graph, cut after the embedding layer, and the model's head.
    """
    backbone = model.backbone
    embed = backbone.embeddings
    # The packed inputs stay optional inputs of the cut graph (passed as None:
    # an explanation is of one plain row), since the blocks and pooler take them.
    packed = [backbone.input[name] for name in ("example_ids", "cls_positions")]
    encoder = keras.Model([embed.output, backbone.input["padding_mask"], *packed], backbone.output)
    seq_len = segment_ids.shape[1]
    # Under a mixed policy the variable is float32 and the lookup's output bfloat16 or float16.
    position_and_segment = tf.cast(embed.position_embeddings[None, :seq_len], tf.float32) + tf.cast(
        embed.segment_embedding(segment_ids), tf.float32
    )

    def logits_of(token_vectors):
        count = tf.shape(token_vectors)[0]
        embeddings = embed.layer_norm(token_vectors + position_and_segment)
        mask = tf.repeat(padding_mask, count, axis=0)
        encoded = encoder([embeddings, mask, None, None], training=False)
        return tf.cast(_head_logits(model, encoded, mask), tf.float32)

    return logits_of


def _head_logits(model, encoded, padding_mask):
    """The model's head on the backbone's outputs `encoded` of plain rows."""
    if isinstance(model, BertClassifier):
        return model.logits_of_encoded(encoded, {"padding_mask": padding_mask})
    return model.get_layer("token_classification_head")(encoded["sequence_output"], training=False)


def _integrated_gradients(path, selection, steps):
    """The `_Integral` of the score `sum(logits * selection)` from the baseline to the input."""

    def score_of(vectors):
        logits = path.logits_of(vectors)
        return tf.reduce_sum(logits * selection, axis=tf.range(1, tf.rank(logits)))

    nodes, weights = np.polynomial.legendre.leggauss(steps)
    # Gauss-Legendre on [-1, 1] moved to [0, 1].
    alphas, weights = (nodes + 1) / 2, weights / 2
    difference = path.vectors - path.baseline_vectors
    average_gradient = tf.zeros_like(path.vectors[0])
    for start in range(0, steps, POINTS_PER_CALL):
        alpha = tf.constant(alphas[start : start + POINTS_PER_CALL], tf.float32)[:, None, None]
        points = path.baseline_vectors + alpha * difference
        with tf.GradientTape() as tape:
            tape.watch(points)
            scores = score_of(points)
        gradients = tape.gradient(scores, points)
        step_weights = tf.constant(weights[start : start + POINTS_PER_CALL], tf.float32)
        average_gradient += tf.einsum("s,sth->th", step_weights, gradients)
    attribution = tf.reduce_sum(difference[0] * average_gradient, axis=-1)
    return _Integral(
        attribution.numpy(), float(score_of(path.vectors)[0]), float(score_of(path.baseline_vectors)[0])
    )


def _attributions(path, integral):
    """The score at both ends, each word's attribution and the completeness error."""
    word_attribution = np.zeros(len(path.words))
    is_word = path.word_of_token >= 0
    np.add.at(word_attribution, path.word_of_token[is_word], integral.token_attribution[is_word])
    return {
        "logit": integral.value,
        "baseline_logit": integral.baseline_value,
        "words": [
            {"word": word, "attribution": float(value)} for word, value in zip(path.words, word_attribution)
        ],
        "delta": float(integral.token_attribution.sum() - (integral.value - integral.baseline_value)),
    }
