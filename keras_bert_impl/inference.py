"""The Python face of a trained model: fill in masks, classify, tag, embed texts.

Texts are `str` or UTF-8 `bytes` (invalid bytes are dropped, as the
tokenizer and the SavedModel's signatures do). Each function takes a model
and the `Tokenizer` it was trained with
(`load_model_dir` returns both), tokenizes and packs the texts as training
did ([CLS] A [SEP] (B [SEP]), padding to the longest text of the batch) and
returns plain Python values. Texts are cut at `seq_len` tokens, by default
the length the model was trained at (the tokenizer's `model_max_length`,
which `load_model_dir` sets), as the SavedModel export does, so both give
the same answer for the same text.

Example:

>>> loaded = load_model_dir("runs/pretrain")  # doctest: +SKIP
>>> fill_mask(loaded.model, loaded.tokenizer, "Paris is the [MASK] of France.")  # doctest: +SKIP
[[{'token': 'capital', 'token_id': 3007, 'probability': 0.97}, ...]]
"""

import numpy as np
import tensorflow as tf

from keras_bert_impl.choices import DEFAULT_SEQ_LEN
from keras_bert_impl.layers import MeanPooler
from keras_bert_impl.tasks.classification import text_windows
from keras_bert_impl.tasks.tagging import Tagger, entity_lists
from keras_bert_impl.text import SegmentPacker
from keras_bert_impl.text.masked_text import tokenize_masked_text
from keras_bert_impl.text.vocab import MASK_TOKEN


def _as_list(text_or_texts):
    """(texts, whether a single text was given)."""
    if isinstance(text_or_texts, (str, bytes)):
        return [text_or_texts], True
    texts = list(text_or_texts)
    if not texts:
        raise ValueError("Expected at least one text, got an empty list.")
    return texts, False


def _batches(items, batch_size):
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]


def _string_tensor(texts):
    """Texts as a tf.string tensor; `str` and `bytes` (UTF-8) alike."""
    for text in texts:
        if not isinstance(text, (str, bytes)):
            raise ValueError(
                f"Expected each text as str or UTF-8 bytes, got {type(text).__name__}: {text!r}."
            )
    return tf.constant(texts, dtype=tf.string)


def _token_lists(tokenizer, texts):
    return tokenizer(_string_tensor(texts)).to_list()


def _ragged(lists):
    flat = np.fromiter((i for ids in lists for i in ids), dtype="int32")
    return tf.RaggedTensor.from_row_lengths(flat, [len(ids) for ids in lists])


def _pack(tokenizer, segments_a, segments_b, max_len):
    """Packs token lists, padded to the longest (at most `max_len`)."""
    if segments_b is None:
        lengths, specials = [len(a) for a in segments_a], 2
    else:
        lengths, specials = [len(a) + len(b) for a, b in zip(segments_a, segments_b)], 3
    packer = SegmentPacker.from_tokenizer(tokenizer, min(max_len, max(lengths) + specials))
    if segments_b is None:
        return packer(_ragged(segments_a))
    return packer(_ragged(segments_a), _ragged(segments_b))


def resolve_seq_len(model, tokenizer, seq_len):
    """The sequence length to run `model` at.

    Args:
        model: a backbone, or a model with a `backbone`.
        tokenizer: the model's `Tokenizer`.
        seq_len: the length asked for, or None.

    Returns:
        `seq_len`, else the training length the tokenizer records
        (`model_max_length`), else the default, capped by the model's
        position embeddings.

    Raises:
        ValueError: `seq_len` is below 3 or beyond the position embeddings.
    """
    max_len = getattr(model, "backbone", model).config.max_position_embeddings
    if seq_len is None:
        seq_len = tokenizer.model_max_length or min(DEFAULT_SEQ_LEN, max_len)
    if not 3 <= seq_len <= max_len:
        raise ValueError(
            f"seq_len={seq_len}: expected 3 ([CLS] x [SEP]) to the model's "
            f"max_position_embeddings ({max_len})."
        )
    return seq_len


def fill_mask(model, tokenizer, text_or_texts, top_k=5, batch_size=32, seq_len=None):
    """Predicts the tokens behind each "[MASK]" in the text(s).

    Args:
        model: a `BertPretrainer`.
        tokenizer: the model's `Tokenizer`.
        text_or_texts: one text or a list of texts (`str`, or UTF-8 `bytes`
            whose invalid bytes the tokenizer drops), each with one or more
            literal "[MASK]" (e.g. "the sky is [MASK] .").
        top_k: how many candidates to return per mask.
        batch_size: texts per model call.
        seq_len: most tokens per text, [CLS] and [SEP] included; default
            the training length (`tokenizer.model_max_length`).

    Returns:
        For each text, one list per "[MASK]" (in text order) of `top_k`
        candidates `{"token", "token_id", "probability"}`, most probable
        first; for a single text (a string), just that text's list.

    Raises:
        ValueError: a text has no "[MASK]", or is longer than `seq_len`
            once tokenized (a mask could be cut off).

    Example:

    >>> fill_mask(model, tokenizer, "the sky is [MASK] .", top_k=2)  # doctest: +SKIP
    [[{'token': 'blue', 'token_id': 9, 'probability': 0.91},
      {'token': 'grey', 'token_id': 17, 'probability': 0.04}]]
    """
    _check_fill_mask_model(model, top_k)
    texts, single = _as_list(text_or_texts)
    max_len = resolve_seq_len(model, tokenizer, seq_len)
    token_lists = _masked_token_lists(tokenizer, texts, max_len)
    top_k = min(top_k, tokenizer.vocab_size)
    results = []
    for batch in _batches(token_lists, batch_size):
        inputs, positions = _pack_with_mask_positions(tokenizer, batch, max_len)
        probabilities = tf.nn.softmax(model(inputs, training=False)["mlm"]).numpy()
        for row, row_positions in enumerate(positions):
            results.append(
                [
                    _top_tokens(tokenizer, probabilities[row, slot], top_k)
                    for slot in range(len(row_positions))
                ]
            )
    return results[0] if single else results


def _check_fill_mask_model(model, top_k):
    if not hasattr(model, "mlm_head"):
        raise ValueError(
            f"fill_mask needs a model with a masked-LM head (a BertPretrainer), got "
            f"{type(model).__name__}."
        )
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}.")


def _masked_token_lists(tokenizer, texts, max_len):
    """Token ids of each text, mask id for each "[MASK]"; each must have a mask and fit."""
    token_lists = tokenize_masked_text(tokenizer, _string_tensor(texts)).to_list()
    for text, ids in zip(texts, token_lists):
        if tokenizer.mask_id not in ids:
            raise ValueError(f"No {MASK_TOKEN} in the text {text!r}; fill_mask needs at least one.")
        if len(ids) + 2 > max_len:
            raise ValueError(
                f"The text {text[:60]!r}... has {len(ids)} tokens; with [CLS] and "
                f"[SEP] it exceeds seq_len={max_len}, and a {MASK_TOKEN} could be cut off."
            )
    return token_lists


def _pack_with_mask_positions(tokenizer, token_lists, max_len):
    """(model inputs with `mask_positions`, each row's mask positions)."""
    inputs = _pack(tokenizer, token_lists, None, max_len)
    positions = [np.flatnonzero(row == tokenizer.mask_id) for row in inputs["token_ids"].numpy()]
    mask_positions = np.zeros((len(token_lists), max(map(len, positions))), "int32")
    for row, row_positions in enumerate(positions):
        mask_positions[row, : len(row_positions)] = row_positions
    return {**inputs, "mask_positions": tf.constant(mask_positions)}, positions


def _top_tokens(tokenizer, probabilities, top_k):
    best = np.argsort(-probabilities, kind="stable")[:top_k]
    return [
        {
            "token": tokenizer.vocabulary[i],
            "token_id": int(i),
            "probability": float(probabilities[i]),
        }
        for i in best
    ]


def _split_pairs(texts):
    """(first segments, second segments or None) of texts or (a, b) pairs."""
    pairs = [not isinstance(t, (str, bytes)) for t in texts]
    if not any(pairs):
        return list(texts), None
    if not all(pairs) or any(len(t) != 2 for t in texts):
        raise ValueError(
            "Expected every text to be a string, or every text an (a, b) pair; got a mix."
        )
    return [a for a, _ in texts], [b for _, b in texts]


def _packed_batches(tokenizer, texts, max_len, batch_size):
    firsts, seconds = _split_pairs(texts)
    for start in range(0, len(firsts), batch_size):
        stop = start + batch_size
        a = _token_lists(tokenizer, firsts[start:stop])
        b = None if seconds is None else _token_lists(tokenizer, seconds[start:stop])
        yield _pack(tokenizer, a, b, max_len)


def classify(model, tokenizer, text_or_texts, label_names=None, batch_size=32, seq_len=None,
             stride=None, max_windows=None):
    """Classifies texts (or text pairs) with a `BertClassifier`.

    Args:
        model: a `BertClassifier`.
        tokenizer: the model's `Tokenizer`.
        text_or_texts: a text, a list of texts, or a list of `(a, b)` pairs.
        label_names: names of the label ids (a model directory's
            `label_names`); default "0", "1", ...
        batch_size: texts per model call.
        seq_len: most tokens per text (pair), [CLS] and [SEP] included; longer
            text is truncated (or windowed). Default: the training length
            (`tokenizer.model_max_length`).
        stride: read single texts in overlapping windows of `seq_len`
            whose starts are `stride` tokens apart, and pool their logits
            (`tasks.classification.TextWindows`, which the export's
            `serving_default` runs too). A classifier trained with windows
            always reads so; default: the stride it was trained with
            (`tasks.classification.window_settings_of`).
        max_windows: with windows: the windows kept per text, the rest of
            a text is cut (default: the model's, as in training).
            Text pairs are never windowed: a pair is truncated to
            `seq_len`, one window, as the export's `serving_pair` does.

    Returns:
        For each text, `{"label", "label_id", "probabilities": {name: p}}`;
        for a single text, just that dict.

    Example:

    >>> classify(model, tokenizer, "a great film", ["neg", "pos"])  # doctest: +SKIP
    {'label': 'pos', 'label_id': 1, 'probabilities': {'neg': 0.02, 'pos': 0.98}}
    """
    num_classes = getattr(model, "num_classes", None)
    if num_classes is None:
        raise ValueError(f"classify needs a BertClassifier, got {type(model).__name__}.")
    label_names = [str(i) for i in range(num_classes)] if label_names is None else list(label_names)
    if len(label_names) != num_classes:
        raise ValueError(
            f"{len(label_names)} label names {label_names} for a classifier with "
            f"{num_classes} classes."
        )
    texts, single = _as_list(text_or_texts)
    max_len = resolve_seq_len(model, tokenizer, seq_len)
    results = []
    for logits in _classifier_logits(model, tokenizer, texts, max_len, batch_size, stride, max_windows):
        probabilities = tf.nn.softmax(logits).numpy()
        for row in probabilities:
            best = int(row.argmax())
            results.append(
                {
                    "label": label_names[best],
                    "label_id": best,
                    "probabilities": {name: float(p) for name, p in zip(label_names, row)},
                }
            )
    return results[0] if single else results


def _classifier_logits(model, tokenizer, texts, max_len, batch_size, stride, max_windows):
    """Each batch's logits: texts truncated, or pooled over their windows."""
    windows = text_windows(model, tokenizer, max_len, stride, max_windows)
    if windows is not None and _split_pairs(texts)[1] is None:
        for batch in _batches(texts, batch_size):
            yield windows.logits(_string_tensor(batch))
        return
    for inputs in _packed_batches(tokenizer, texts, max_len, batch_size):
        # A windowed classifier's call takes [batch, windows, seq]; `logits` one row each.
        yield model(inputs, training=False) if model.window_pooling is None else tf.cast(model.logits(inputs), tf.float32)


def tag(model, tokenizer, text_or_texts, tag_names, batch_size=32, seq_len=None, stride=None):
    """Named entities (or other tagged spans) in raw texts, with a `BertTokenClassifier`.

    Runs the same TensorFlow functions as the exported `serving_default`
    signature (`tasks.tagging.Tagger`), so both find the same entities. Long
    texts are tagged in overlapping windows of `seq_len`, never cut.

    Args:
        model: a `BertTokenClassifier`.
        tokenizer: the model's `Tokenizer`.
        text_or_texts: a text or a list of texts.
        tag_names: the model's tags (a model directory's `label_names`).
        batch_size: texts per model call.
        seq_len: window length, [CLS] and [SEP] included; default the
            training length (`tokenizer.model_max_length`).
        stride: pieces between window starts; default half a window. A
            model directory's training stride is
            `tasks.tagging.read_stride(model_dir, seq_len)`, which `predict`
            and the export use.

    Returns:
        For each text, a list of entities `{"text", "type", "start", "end",
        "score"}`, where `start`/`end` are UTF-8 byte offsets into the text
        (`text.encode()[start:end]` is the entity); for a single text, just
        its list.

    Example:

    >>> tag(model, tokenizer, "Ada Lovelace was born in London.", tag_names)  # doctest: +SKIP
    [{'text': 'Ada Lovelace', 'type': 'PER', 'start': 0, 'end': 12, 'score': 0.98},
     {'text': 'London', 'type': 'LOC', 'start': 25, 'end': 31, 'score': 0.99}]
    """
    texts, single = _as_list(text_or_texts)
    tagger = Tagger(model, tokenizer, tag_names, resolve_seq_len(model, tokenizer, seq_len), stride)
    results = []
    for batch in _batches(texts, batch_size):
        outputs = tagger.entities(tf.constant(batch, dtype=tf.string))
        outputs = {name: value.numpy() for name, value in outputs.items()}
        results.extend(result["entities"] for result in entity_lists(batch, outputs))
    return results[0] if single else results


POOLINGS = ("pooled", "cls", "mean")


def embed(model, tokenizer, text_or_texts, pooling="mean", batch_size=32, seq_len=None):
    """Fixed-size vectors of texts (or text pairs) from the backbone.

    Args:
        model: a `BertBackbone` or any model with a `.backbone`.
        tokenizer: the model's `Tokenizer`.
        text_or_texts: a text, a list of texts, or a list of `(a, b)` pairs.
        pooling: "mean" (average of the real tokens' final hidden states),
            "cls" (the [CLS] hidden state) or "pooled" (BERT's pooled output,
            trained by NSP).
        batch_size: texts per model call.
        seq_len: most tokens per text (pair), [CLS] and [SEP] included; longer
            text is truncated. Default: the training length
            (`tokenizer.model_max_length`).

    Returns:
        float32 numpy array `[num_texts, hidden_size]` (`[hidden_size]` for
        a single text).

    Example:

    >>> embed(backbone, tokenizer, ["a cat", "a dog"]).shape  # doctest: +SKIP
    (2, 128)
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling={pooling!r}; expected one of {POOLINGS}.")
    backbone = getattr(model, "backbone", model)
    texts, single = _as_list(text_or_texts)
    max_len = resolve_seq_len(backbone, tokenizer, seq_len)
    vectors = []
    mean_pooler = MeanPooler(dtype="float32")
    for inputs in _packed_batches(tokenizer, texts, max_len, batch_size):
        outputs = backbone(inputs, training=False)
        if pooling == "pooled":
            vectors.append(outputs["pooled_output"].numpy())
        elif pooling == "cls":
            vectors.append(outputs["sequence_output"][:, 0].numpy())
        else:
            vectors.append(mean_pooler(outputs["sequence_output"], inputs["padding_mask"]).numpy())
    vectors = np.concatenate(vectors).astype("float32")
    return vectors[0] if single else vectors


def __getattr__(name):
    """`explain` is re-exported here: explaining a prediction is part of the Python
    face of a model. Resolved on first use, because `explanations` imports this
    module for its text helpers, and either may be imported first."""
    if name == "explain":
        from keras_bert_impl.explanations import explain

        return explain
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
