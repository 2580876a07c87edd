"""Token classification (named entities, parts of speech): `BertTokenClassifier`.

The five pieces of the task (see `tasks/__init__.py` for the interface):

* features: `encode_tagged_words` turns tokenized, tagged sentences into
  windows of packed model inputs with labels; `Tagger` does the same with raw
  text through `Tokenizer.tokenize_with_offsets`. A word's tag goes on its
  first WordPiece (with `label_all_pieces`, later pieces get the I- tag of
  its type); [CLS], [SEP], padding and unlabelled pieces get sample weight 0.
  A sentence longer than `seq_len - 2` pieces is cut into overlapping windows
  (`text.windows`, `stride` pieces apart), and every piece is labelled, and
  later predicted, only in its home window, where it has most context: no
  word is dropped or predicted twice.
* model: `BertTokenClassifier`.
* decode: `word_logits` (each word's logits at its first piece, from the
  piece's home window), then `entities.decode_entities`.
* metrics: `entities.entity_metrics` (equal to `seqeval`'s).
* serving: `Tagger` -> `serving_default` (entities with byte offsets into the
  original text), `tag_words` and `predict_ids`.

In raw text the tagged words are BERT's words (split at whitespace, each
punctuation mark and CJK character a word of its own), the unit CoNLL data
is tokenized in; a data token that BERT splits further ("U.S.") is labelled
on its first piece only.
"""

import json

import tensorflow as tf

from keras_bert_impl.data.tagged import tagged_sentences
from keras_bert_impl.model_dir import read_json_settings
from keras_bert_impl.models import BertTokenClassifier
from keras_bert_impl.tasks import TaskData, shuffled_training_data
from keras_bert_impl.tasks.entities import TagSet, decode_entities, entity_metrics
from keras_bert_impl.text.packing import trim_padding
from keras_bert_impl.text.windows import default_stride, pack_windows
from keras_bert_impl.training.finite_data import expected_end_of_data

NAME = "token_classification"
MODEL = BertTokenClassifier
# The windowing used in training, kept beside the model so that serving,
# `predict` and `inference.tag` window texts the same way.
SETTINGS_FILE = "token_classification.json"
CONLL_SUFFIXES = (".conll", ".bio", ".iob", ".iobes")
TFDS_TAGGING_DATASETS = ("tfds:conll2003", "tfds:wikiann")
NO_LABEL = -1


def claims_data(source):
    """CoNLL files and the tfds NER datasets are token classification."""
    return isinstance(source, str) and (
        source.lower().endswith(CONLL_SUFFIXES) or source.startswith(TFDS_TAGGING_DATASETS)
    )


# Features.


def pieces_of_words(tokenizer, words):
    """WordPiece ids of pre-split words, and the word each piece belongs to.

    Args:
        tokenizer: the model's `Tokenizer`.
        words: string RaggedTensor [batch, (words)].

    Returns:
        `(token_ids, word_ids)`: int32 and int64 RaggedTensors [batch, (pieces)].
        A word that normalises to nothing (only control or zero-width
        characters) becomes one [UNK], so every word gets a prediction.
    """
    pieces = tokenizer.tokenize_words(words.flat_values).merge_dims(1, 2)
    empty = tf.cast(pieces.row_lengths() == 0, tf.int64)
    unknown = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(empty)], tokenizer.unk_id), empty
    )
    pieces = tf.concat([pieces, unknown], axis=1)
    by_sentence = tf.RaggedTensor.from_row_splits(pieces, words.row_splits)
    word_of_piece = by_sentence.values.value_rowids()
    sentence_of_word = by_sentence.value_rowids()
    word_ids = word_of_piece - tf.gather(words.row_splits, tf.gather(sentence_of_word, word_of_piece))
    token_ids = by_sentence.merge_dims(1, 2)
    return token_ids, token_ids.with_flat_values(word_ids)


def first_pieces(word_ids):
    """bool RaggedTensor [batch, (pieces)]: the piece starts its word."""
    values = word_ids.flat_values
    row = word_ids.value_rowids()
    new_row = tf.concat([[True], row[1:] != row[:-1]], axis=0)[: tf.size(row)]
    new_word = tf.concat([[True], values[1:] != values[:-1]], axis=0)[: tf.size(row)]
    return word_ids.with_flat_values(new_row | new_word)


def window_labels(windows, piece_labels, seq_len):
    """Labels and sample weights aligned with `pack_windows` rows.

    A piece is labelled only in its home window; [CLS], [SEP], padding and
    pieces labelled `NO_LABEL` get weight 0.
    """
    labels = windows.take(piece_labels)
    labels = labels.with_flat_values(
        tf.where(windows.is_home.flat_values, labels.flat_values, tf.cast(NO_LABEL, labels.dtype))
    ).merge_dims(0, 1)
    cls = tf.fill([labels.nrows(), 1], tf.cast(NO_LABEL, labels.dtype))
    dense = tf.concat([cls, labels], axis=1).to_tensor(NO_LABEL, shape=[None, seq_len])
    return tf.maximum(dense, 0), tf.cast(dense != NO_LABEL, tf.float32)


def encode_tagged_words(tokenizer, words, tag_ids, tag_set, seq_len, stride, label_all_pieces=False):
    """Model inputs, labels and weights of tagged sentences, one row per window.

    Args:
        tokenizer: the model's `Tokenizer`.
        words: string RaggedTensor [sentences, (words)].
        tag_ids: int RaggedTensor [sentences, (words)].
        tag_set: `TagSet` of the ids.
        seq_len: packed length.
        stride: pieces between window starts.
        label_all_pieces: label later pieces with the word's I- tag.

    Returns:
        dict: "inputs" (model inputs [rows, seq_len]), "labels" int32 and
        "weights" float32 [rows, seq_len], "windows" and "word_ids" (for
        `word_logits`).
    """
    token_ids, word_ids = pieces_of_words(tokenizer, words)
    tags = tf.gather(tf.cast(tag_ids, tf.int32), word_ids, batch_dims=1)
    first = first_pieces(word_ids)
    if label_all_pieces:
        continuation = tf.constant([tag_set.continuation_id(i) for i in range(len(tag_set.tag_names))])
        later = tf.gather(continuation, tags.flat_values)
    else:
        later = tf.fill(tf.shape(tags.flat_values), NO_LABEL)
    piece_labels = tags.with_flat_values(tf.where(first.flat_values, tags.flat_values, later))
    windows, inputs = pack_windows(tokenizer, token_ids, seq_len, stride)
    labels, weights = window_labels(windows, piece_labels, seq_len)
    return {"inputs": inputs, "labels": labels, "weights": weights, "windows": windows, "word_ids": word_ids}


# Decode.


def word_logits(logits, windows, word_ids):
    """Each word's logits: those of its first piece, in that piece's home window.

    Args:
        logits: [total windows, seq_len, num_tags], rows as `pack_windows`.
        windows: the `TokenWindows`.
        word_ids: int RaggedTensor [batch, (pieces)].

    Returns:
        float RaggedTensor [batch, (words), num_tags].
    """
    home = windows.home.flat_values
    piece_row = word_ids.value_rowids()
    window = tf.gather(windows.starts.row_starts(), piece_row) + tf.cast(home, tf.int64)
    piece_index = tf.range(tf.size(piece_row, tf.int64)) - tf.gather(word_ids.row_splits, piece_row)
    position = piece_index - tf.cast(tf.gather(windows.starts.values, window), tf.int64) + 1
    piece_logits = tf.gather_nd(logits, tf.stack([window, position], axis=1))
    first = first_pieces(word_ids).flat_values
    return tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(piece_logits, first), tf.boolean_mask(piece_row, first), nrows=word_ids.nrows()
    )


# The task interface.


def load_data(args, tokenizer, source, label_names, split, training):
    """Windows of tagged sentences; shuffled by (seed, pass) and labelled as asked when `training`.

    Evaluation data labels first pieces only, so each word is scored once.
    """
    if args.stride is not None and args.stride < 1:
        raise ValueError(f"--stride must be positive, got {args.stride}.")
    data = tagged_sentences(
        source, tag_names=label_names, split=split,
        tokens_column=args.tokens_column, tags_column=args.tags_column,
    )
    tag_set = TagSet(data.tag_names)
    label_all = training and args.label_all_pieces
    if label_all:
        tag_set = TagSet(_with_inside_tags(data.tag_names))
    stride = args.stride or default_stride(args.seq_len)
    encoded = encode_tagged_words(
        tokenizer,
        tf.ragged.constant(data.tokens, dtype=tf.string),
        tf.ragged.constant(data.tags, dtype=tf.int32, ragged_rank=1),
        tag_set, args.seq_len, stride, label_all_pieces=label_all,
    )
    windows = tf.data.Dataset.from_tensor_slices((encoded["inputs"], encoded["labels"], encoded["weights"]))
    if not training:
        batches = windows.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)
        return TaskData(batches, tag_set.tag_names, examples=(data, encoded))

    return shuffled_training_data(
        lambda shuffle_this_pass: shuffle_this_pass(windows).batch(args.batch_size),
        seed=args.seed, shuffle_buffer=len(encoded["labels"]), label_names=tag_set.tag_names,
        examples=(data, encoded),
    )


def _with_inside_tags(tag_names):
    """`tag_names` plus any I- tag that later pieces of B-/E-/S- words need."""
    inside = [f"I-{name[2:]}" for name in tag_names if name != "O"]
    return tag_names + [name for name in dict.fromkeys(inside) if name not in tag_names]


def build_model(backbone, label_names, args):
    return BertTokenClassifier(backbone, num_classes=len(label_names))


def evaluate(model, data):
    """Entity and word metrics of `model` on `TaskData` from `load_data`."""
    sentences, encoded = data.examples
    with expected_end_of_data():
        logits = model.predict(data.dataset.map(lambda inputs, *_: inputs), verbose=0)
    words = word_logits(tf.constant(logits), encoded["windows"], encoded["word_ids"])
    predicted = words.with_flat_values(tf.argmax(words.flat_values, axis=-1)).to_list()
    return entity_metrics(TagSet(data.label_names), sentences.tags, predicted)


def print_metrics(metrics):
    print(
        f"eval entity F1 {metrics['entity_f1']:.4f}  precision {metrics['entity_precision']:.4f}  "
        f"recall {metrics['entity_recall']:.4f}  token accuracy {metrics['token_accuracy']:.4f}  "
        f"({metrics['sentences']} sentences, {metrics['words']} words)"
    )
    for name, values in metrics["per_type"].items():
        print(f"  {name:>20}: F1 {values['f1']:.4f}  (support {values['support']})")


def print_predictions(texts, outputs, as_json):
    """`predict`'s output: each text's entities (text, type, byte span, score)."""
    results = entity_lists(texts, outputs)
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    for result in results:
        print(result["text"])
        for entity in result["entities"]:
            print(
                f"  {entity['type']:>8}  {entity['start']:>5}-{entity['end']:<5} "
                f"{entity['score']:.3f}  {entity['text']}"
            )


def entity_lists(texts, outputs):
    """`serving_default` outputs as `[{"text", "entities": [{...}]}]` Python values."""
    results = []
    for row, text in enumerate(texts):
        entities = [
            {
                "text": outputs["entity_text"][row][i].decode("utf-8", "replace"),
                "type": outputs["entity_type"][row][i].decode("utf-8"),
                "start": int(outputs["start_char"][row][i]),
                "end": int(outputs["end_char"][row][i]),
                "score": float(outputs["score"][row][i]),
            }
            for i in range(int(outputs["entity_count"][row]))
        ]
        results.append({"text": text, "entities": entities})
    return results


# Serving.


class Tagger:
    """Raw text in, tagged words and entities out, all in TensorFlow ops.

    The serving signatures, `predict` and `inference.tag` all call these
    functions, so they find the same entities. Offsets are UTF-8 byte
    offsets into the input string (see `text.offsets`), end exclusive.

    Args:
        model: a `BertTokenClassifier`.
        tokenizer: its `Tokenizer`.
        tag_names: its tags, id = index.
        seq_len: packed window length.
        stride: pieces between window starts (default half a window).
    """

    def __init__(self, model, tokenizer, tag_names, seq_len, stride=None):
        if len(tag_names) != model.num_classes:
            raise ValueError(f"{len(tag_names)} tag names for a model with {model.num_classes} tags.")
        self.model = model
        self.tokenizer = tokenizer
        self.tag_set = TagSet(tag_names)
        self.seq_len = int(seq_len)
        self.stride = int(stride or default_stride(seq_len))

    def _logits(self, inputs):
        return tf.cast(self.model(inputs, training=False), tf.float32)

    def _tagged_words(self, text):
        pieces = self.tokenizer.tokenize_with_offsets(text)
        windows, inputs = pack_windows(self.tokenizer, pieces["token_ids"], self.seq_len, self.stride)
        logits = word_logits(self._logits(trim_padding(inputs)), windows, pieces["word_ids"])
        probabilities = tf.nn.softmax(logits.flat_values)
        first = first_pieces(pieces["word_ids"])
        last = tf.concat([first[:, 1:], tf.ones_like(first[:, :1])], axis=1)
        return {
            "tag_id": logits.with_flat_values(tf.argmax(probabilities, axis=-1, output_type=tf.int32)),
            "score": logits.with_flat_values(tf.reduce_max(probabilities, axis=-1)),
            "start_char": tf.ragged.boolean_mask(pieces["start"], first),
            "end_char": tf.ragged.boolean_mask(pieces["end"], last),
        }

    def tag_words(self, text):
        """Per word: `word` (its text), `tag`, `tag_id`, `score`, `start_char`,
        `end_char`, each [batch, max words], and `word_count` [batch]."""
        words = self._tagged_words(text)
        tags = words["tag_id"].with_flat_values(tf.gather(self.tag_set.tag_names, words["tag_id"].flat_values))
        return {
            "word": _padded(_slices(text, words["start_char"], words["end_char"]), ""),
            "tag": _padded(tags, ""),
            "tag_id": _padded(words["tag_id"], -1),
            "score": _padded(words["score"], 0.0),
            "start_char": _padded(words["start_char"], -1),
            "end_char": _padded(words["end_char"], -1),
            "word_count": tf.cast(words["tag_id"].row_lengths(), tf.int32),
        }

    def entities(self, text):
        """Per entity: `entity_text`, `entity_type`, `start_char`, `end_char`,
        `score` (mean tag probability of its words), each [batch, max
        entities], and `entity_count` [batch]. Padding: "", -1, 0."""
        words = self._tagged_words(text)
        spans = decode_entities(self.tag_set, words["tag_id"])
        first, last = (spans[k].with_flat_values(_global_word(words["tag_id"], spans[k])) for k in ("first", "last"))
        start = first.with_flat_values(tf.gather(words["start_char"].flat_values, first.flat_values))
        end = last.with_flat_values(tf.gather(words["end_char"].flat_values, last.flat_values))
        total = tf.concat([[0.0], tf.cumsum(words["score"].flat_values)], axis=0)
        mean = (tf.gather(total, last.flat_values + 1) - tf.gather(total, first.flat_values)) / tf.cast(
            last.flat_values - first.flat_values + 1, tf.float32
        )
        types = spans["type"].with_flat_values(tf.gather(self.tag_set.types, spans["type"].flat_values))
        return {
            "entity_text": _padded(_slices(text, start, end), ""),
            "entity_type": _padded(types, ""),
            "start_char": _padded(start, -1),
            "end_char": _padded(end, -1),
            "score": _padded(first.with_flat_values(mean), 0.0),
            "entity_count": tf.cast(spans["type"].row_lengths(), tf.int32),
        }

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        """Per position of packed ids: `logits`, `probabilities`, `tag_id`, `tag`."""
        logits = self._logits({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask})
        tag_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits),
            "tag_id": tag_id,
            "tag": tf.gather(tf.constant(self.tag_set.tag_names), tag_id),
        }


def model_files(metrics, args):
    """The window stride saved beside the model."""
    return {SETTINGS_FILE: {"stride": args.stride or default_stride(args.seq_len)}}


def read_stride(model_dir, seq_len):
    """The stride a model directory was trained with; half a window when it
    has none saved (a converted checkpoint)."""
    stride = read_json_settings(model_dir, SETTINGS_FILE).get("stride")
    return default_stride(seq_len) if stride is None else int(stride)


def use_saved_settings(args, model_dir, model):
    """`evaluate`: without --stride, window as the model was trained."""
    if args.stride is None:
        args.stride = read_stride(model_dir, args.seq_len)


def serving_signatures(serving):
    """The token classifier's signatures for `serving.ServingFunctions`."""
    stride = read_stride(serving.model_dir_path, serving.seq_len)
    tagger = Tagger(serving.model, serving.tokenizer, serving.label_names, serving.seq_len, stride)
    text = [tf.TensorSpec([None], tf.string, name="text")]
    ids = [tf.TensorSpec([None, None], tf.int32, name=n) for n in ("token_ids", "segment_ids", "padding_mask")]
    return {
        "serving_default": (tagger.entities, text),
        "tag_words": (tagger.tag_words, text),
        "predict_ids": (tagger.predict_ids, ids),
    }


def _global_word(words, index_in_row):
    """Flat word index of per-row word indices."""
    return tf.gather(words.row_splits, index_in_row.value_rowids()) + index_in_row.flat_values


def _slices(text, start, end):
    """Byte slices `text[row][start:end]` of ragged spans."""
    row_text = tf.gather(text, start.value_rowids())
    return start.with_flat_values(
        tf.strings.substr(row_text, start.flat_values, end.flat_values - start.flat_values)
    )


def _padded(ragged, fill):
    return ragged.to_tensor(default_value=tf.cast(fill, ragged.dtype))

