"""Serving functions of a trained model: raw text in, named tensors out.

`ServingFunctions` wraps a loaded model directory in the functions that
`export_saved_model` writes as SavedModel signatures and that `predict` and
`fill-mask` call directly on a model directory, so both paths compute the
same thing. Every input and output has a name and a variable batch size.

Classifier (`BertClassifier`):

- `serving_default(text)`: `probabilities` float32 [batch, num_classes],
  `label_id` int32 [batch], `label` string [batch] (from labels.json). A
  model fine-tuned with `--stride` reads each text in overlapping windows
  (the stride and window cap in its config) and pools their logits, so a
  long text is classified whole, up to `max_windows` windows.
- `serving_pair(text, text_b)`: the same for sentence pairs. TF Serving
  signatures cannot have optional inputs, so pairs get their own signature.
  Pairs are never windowed: a pair is truncated to one window, as `classify`
  reads it.
- `predict_ids(token_ids, segment_ids, padding_mask)`: the same outputs plus
  `logits`, from int32 [batch, seq] ids packed by the caller (one window
  per row for a windowed model).
- `embed(text)`: `pooled_output` (BERT's tanh([CLS]) vector) and
  `mean_embedding` (sequence output averaged over real tokens, [CLS] and
  [SEP] included), float32 [batch, hidden].

Token classifier (`BertTokenClassifier`), see `tasks/tagging.py`:

- `serving_default(text)`: the entities found, padded to the most in the
  batch: `entity_text`, `entity_type` string, `start_char`, `end_char` int64
  UTF-8 byte offsets into the original text (end exclusive), `score` float32,
  [batch, max_entities], and `entity_count` int32 [batch]. Slots past
  `entity_count` hold "", -1 and 0. Long texts are tagged in overlapping
  windows of `seq_len`, so nothing is cut.
- `tag_words(text)`: every word's `word`, `tag`, `tag_id`, `score`,
  `start_char`, `end_char` [batch, max_words] and `word_count` [batch].
- `predict_ids(token_ids, segment_ids, padding_mask)`: per position
  `logits`, `probabilities` [batch, seq, tags], `tag_id`, `tag` [batch, seq].
- `embed(text)`: as below.

Question answerer (`BertQuestionAnswerer`): `serving_default(question,
context)` and `predict_ids`, see `tasks/question_answering.py`; `embed`.

Pretrained model (`BertPretrainer`):

- `fill_mask(text)` (also `serving_default`): texts with literal "[MASK]"s;
  for each of the first `max_masks` masks, the `top_k` most likely tokens:
  `top_tokens` string and `top_ids` int32 [batch, max_masks, top_k],
  `top_scores` float32 probabilities [batch, max_masks, top_k],
  `mask_positions` int32 [batch, max_masks] (index in the packed sequence)
  and `mask_count` int32 [batch]. Slots past `mask_count` hold "" in
  `top_tokens`, -1 in `top_ids` and `mask_positions`, 0 in `top_scores`;
  masks cut off by truncation or past `max_masks` are not counted.
- `embed(text)`: as above.

Text handling: tokenized in-graph with the model's `Tokenizer`, packed as
[CLS] A [SEP] (B [SEP]) and truncated to `seq_len` tokens (longer text is cut,
never an error), then padded only to the longest text of the batch, so short
requests run short sequences. Empty or whitespace-only text becomes
"[CLS] [SEP]"; invalid UTF-8 bytes are replaced and dropped by the tokenizer.

Example:

>>> serving = ServingFunctions(load_model_dir("runs/cls"))  # doctest: +SKIP
>>> serving.function("serving_default")(tf.constant(["great film"]))["label"]  # doctest: +SKIP
<tf.Tensor: shape=(1,), dtype=string, numpy=array([b'pos'], dtype=object)>
"""

import tensorflow as tf

from keras_bert_impl.choices import DEFAULT_MAX_MASKS, DEFAULT_TOP_K
from keras_bert_impl.layers import MeanPooler
from keras_bert_impl.models import (
    BertClassifier,
    BertPretrainer,
    BertQuestionAnswerer,
    BertTokenClassifier,
)
from keras_bert_impl.tasks import classification, question_answering, tagging
from keras_bert_impl.text import SegmentPacker
from keras_bert_impl.text.masked_text import tokenize_masked_text
from keras_bert_impl.text.packing import trim_padding

CLASSIFIER = "classifier"
PRETRAINER = "pretrainer"
QUESTION_ANSWERER = "question_answerer"
TOKEN_CLASSIFIER = "token_classifier"


def _text_spec(name):
    return tf.TensorSpec([None], tf.string, name=name)


def _ids_spec(name):
    return tf.TensorSpec([None, None], tf.int32, name=name)


class ServingFunctions:
    """The serving signatures of one model directory.

    Args:
        model_dir: a loaded `ModelDir` holding a `BertClassifier` or a
            `BertPretrainer`.
        seq_len: most tokens per packed text, [CLS] and [SEP] included;
            default the length the model was trained at (`model_dir.seq_len`).
        max_masks: `fill_mask` predicts the first `max_masks` masks of a text.
        top_k: `fill_mask` returns this many tokens per mask.

    Raises:
        ValueError: an unsupported model, or sizes out of range.
    """

    def __init__(
        self,
        model_dir,
        seq_len=None,
        max_masks=DEFAULT_MAX_MASKS,
        top_k=DEFAULT_TOP_K,
    ):
        model = model_dir.model
        config = model_dir.config
        if seq_len is None:
            seq_len = model_dir.seq_len
        if not 3 <= seq_len <= config.max_position_embeddings:
            raise ValueError(
                f"seq_len={seq_len}: expected 3 to the model's "
                f"max_position_embeddings ({config.max_position_embeddings})."
            )
        if max_masks < 1:
            raise ValueError(f"max_masks={max_masks}: expected at least 1.")
        if not 1 <= top_k <= config.vocab_size:
            raise ValueError(f"top_k={top_k}: expected 1 to the vocabulary size ({config.vocab_size}).")
        if isinstance(model, (BertClassifier, BertTokenClassifier)):
            self.kind = CLASSIFIER if isinstance(model, BertClassifier) else TOKEN_CLASSIFIER
            names = model_dir.label_names or [str(i) for i in range(model.num_classes)]
            if len(names) != model.num_classes:
                raise ValueError(
                    f"{model_dir.path}: labels.json has {len(names)} labels, "
                    f"the model has {model.num_classes} classes."
                )
            self.label_names = list(names)
        elif isinstance(model, BertPretrainer):
            self.kind = PRETRAINER
            self.label_names = None
        elif isinstance(model, BertQuestionAnswerer):
            self.kind = QUESTION_ANSWERER
            self.label_names = None
        else:
            raise ValueError(
                f"{model_dir.path}: expected a BertClassifier, BertTokenClassifier, "
                f"BertQuestionAnswerer or BertPretrainer, "
                f"got {type(model).__name__}."
            )
        self.model = model
        self.model_dir_path = model_dir.path
        self.tokenizer = model_dir.tokenizer
        self.seq_len = int(seq_len)
        self.max_masks = int(max_masks)
        self.top_k = int(top_k)
        self._packer = SegmentPacker.from_tokenizer(self.tokenizer, self.seq_len)
        self._text_windows = None
        if self.kind == CLASSIFIER:  # None: texts are truncated
            self._text_windows = classification.text_windows(model, self.tokenizer, self.seq_len)
        self._functions = {}

    @property
    def signatures(self):
        """`{name: (python function, input signature)}` for this model kind."""
        text = [_text_spec("text")]
        embed = (self._embed, text)
        if self.kind == CLASSIFIER:
            return {
                "serving_default": (self._classify_text, text),
                "serving_pair": (self._classify_pair, [*text, _text_spec("text_b")]),
                "predict_ids": (
                    self._classify_ids,
                    [_ids_spec(n) for n in ("token_ids", "segment_ids", "padding_mask")],
                ),
                "embed": embed,
            }
        if self.kind == TOKEN_CLASSIFIER:
            return {**tagging.serving_signatures(self), "embed": embed}
        if self.kind == QUESTION_ANSWERER:
            return {**question_answering.serving_signatures(self), "embed": embed}
        fill_mask = (self._fill_mask, text)
        return {"serving_default": fill_mask, "fill_mask": fill_mask, "embed": embed}

    def function(self, name):
        """The signature `name` as a `tf.function` (traced once per process)."""
        if name not in self._functions:
            if name not in self.signatures:
                raise ValueError(
                    f"No signature {name!r} for a {self.kind}; "
                    f"expected one of {sorted(self.signatures)}."
                )
            fn, input_signature = self.signatures[name]
            self._functions[name] = tf.function(fn, input_signature=input_signature)
        return self._functions[name]

    # Text to model inputs.

    def pack_texts(self, text, text_b=None):
        """The model inputs the raw-text signatures build from `text` (and `text_b`).

        Returns:
            dict of int32 "token_ids", "segment_ids", "padding_mask", each
            [batch, longest packed text].
        """
        segments = [self.tokenizer(t) for t in (text, text_b) if t is not None]
        return self._pack(*segments)

    def _pack(self, *segments):
        return trim_padding(self._packer(*segments))

    # Classifier.

    def _logits(self, inputs):
        # A pooled-output classifier runs its last block at [CLS] only.
        return tf.cast(self.model.logits(inputs), tf.float32)

    def _classifier_outputs(self, logits):
        label_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {
            "probabilities": tf.nn.softmax(logits),
            "label_id": label_id,
            "label": tf.gather(tf.constant(self.label_names), label_id),
        }

    def _classify_text(self, text):
        if self._text_windows is not None:
            return self._classifier_outputs(self._text_windows.logits(text))
        return self._classifier_outputs(self._logits(self._pack(self.tokenizer(text))))

    def _classify_pair(self, text, text_b):
        inputs = self._pack(self.tokenizer(text), self.tokenizer(text_b))
        return self._classifier_outputs(self._logits(inputs))

    def _classify_ids(self, token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        logits = self._logits(inputs)
        return {**self._classifier_outputs(logits), "logits": logits}

    # Both kinds.

    def _embed(self, text):
        inputs = self._pack(self.tokenizer(text))
        encoded = self.model.backbone(inputs, training=False)
        return {
            "pooled_output": tf.cast(encoded["pooled_output"], tf.float32),
            "mean_embedding": MeanPooler(dtype="float32")(encoded["sequence_output"], inputs["padding_mask"]),
        }

    # Pretrainer.

    def _fill_mask(self, text):
        inputs = self._pack(tokenize_masked_text(self.tokenizer, text))
        token_ids = inputs["token_ids"]
        positions = tf.broadcast_to(tf.range(tf.shape(token_ids)[1]), tf.shape(token_ids))
        mask_positions = tf.ragged.boolean_mask(positions, token_ids == self.tokenizer.mask_id)
        mask_positions = mask_positions[:, : self.max_masks]
        mask_count = tf.cast(mask_positions.row_lengths(), tf.int32)
        mask_positions = mask_positions.to_tensor(default_value=0, shape=[None, self.max_masks])
        logits = self.model({**inputs, "mask_positions": mask_positions}, training=False)["mlm"]
        scores, ids = tf.math.top_k(tf.nn.softmax(tf.cast(logits, tf.float32)), k=self.top_k)
        valid = tf.sequence_mask(mask_count, self.max_masks)[:, :, tf.newaxis]
        return {
            "top_tokens": tf.where(valid, self.tokenizer.id_to_token(ids), ""),
            "top_ids": tf.where(valid, ids, -1),
            "top_scores": tf.where(valid, scores, 0.0),
            "mask_positions": tf.where(valid[:, :, 0], mask_positions, -1),
            "mask_count": mask_count,
        }
