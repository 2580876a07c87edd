"""Extractive QA in the graph: question + context -> windows -> answer spans.

One function makes the model inputs and one decodes the model outputs; the
training pipeline, evaluation, the Python API and the serving signature all
call these two, so they give the same answers.

Features: the question's tokens (cut to `max_query_length`) and windows of
the context's tokens (`text/windows.py`, stride `doc_stride`), each packed as
`[CLS] question [SEP] window [SEP]` to `seq_len`. Beside the inputs, every
packed position knows which context token it holds (-1 for the rest) and
whether this window is that token's home.

Decoding, per window (BERT's `run_squad.py` rules): the `n_best` highest
start logits among context tokens in their home window and the `n_best`
highest end logits among context tokens are paired; a pair is a candidate
when end >= start and it spans at most `max_answer_length` tokens. The score
of a span is start + end logit, the best candidate over all windows of a
question wins, and the no-answer score is the smallest [CLS] start + end over
the windows. The answer is cut from the ORIGINAL context bytes by the
tokens' offsets, never rebuilt from tokens.

Offsets inside the graph are UTF-8 bytes; `start_char`/`end_char` count
characters, so Python's `context[start_char:end_char]` is the answer.

Example:

>>> features = encode_windows(tokenizer, ["Who?"], ["Ada wrote it."], seq_len=32)
>>> outputs = model(features.inputs)
>>> decode_answers(features, outputs["start_logits"], outputs["end_logits"])["answer"]
"""

import dataclasses
from typing import NamedTuple

import tensorflow as tf

from keras_bert_impl.choices import QA_SPAN_DEFAULTS
from keras_bert_impl.text.offsets import tokenize_with_offsets
from keras_bert_impl.text.packing import SegmentPacker
from keras_bert_impl.text.windows import make_windows

# The score of a question whose windows hold no candidate span (an empty
# context): finite, so that it passes through JSON, and below any real score.
NO_SPAN_SCORE = -1e9


@dataclasses.dataclass(frozen=True)
class SpanSettings:
    """The windowing and decoding settings, SQuAD's defaults."""

    seq_len: int = QA_SPAN_DEFAULTS["seq_len"]
    doc_stride: int = QA_SPAN_DEFAULTS["doc_stride"]
    max_query_length: int = QA_SPAN_DEFAULTS["max_query_length"]
    max_answer_length: int = QA_SPAN_DEFAULTS["max_answer_length"]
    n_best: int = QA_SPAN_DEFAULTS["n_best"]

    def __post_init__(self):
        if self.seq_len < self.max_query_length + 4:
            raise ValueError(
                f"seq_len {self.seq_len} leaves no room for the context after a question of "
                f"max_query_length {self.max_query_length} tokens and 3 special tokens"
            )
        for name in ("doc_stride", "max_query_length", "max_answer_length", "n_best"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


class WindowFeatures(NamedTuple):
    """Model inputs of every window of a batch of questions, and how to map back.

    Attributes:
        inputs: dict of int32 [windows, seq_len]: token_ids, segment_ids,
            padding_mask.
        example_index: int64 [windows]: the question each window belongs to.
        token_index: int32 [windows, seq_len]: the context token at each
            position, -1 outside the context.
        is_home: bool [windows, seq_len]: the token's home window is this one.
        token_start, token_end: int64 RaggedTensor [batch, (tokens)]: byte
            span of each context token in its context.
        contexts: string [batch]: the contexts as given.
    """

    inputs: dict
    example_index: tf.Tensor
    token_index: tf.Tensor
    is_home: tf.Tensor
    token_start: tf.RaggedTensor
    token_end: tf.RaggedTensor
    contexts: tf.Tensor


def encode_windows(tokenizer, questions, contexts, settings=SpanSettings()):
    """Windows of `[CLS] question [SEP] context window [SEP]`, in-graph.

    Args:
        tokenizer: the model's `Tokenizer`.
        questions, contexts: string [batch].
        settings: `SpanSettings`.

    Returns:
        `WindowFeatures`; every context token lies in at least one window and
        every question has at least one window (an empty context gives one).
    """
    questions = tf.convert_to_tensor(questions, tf.string)
    contexts = tf.convert_to_tensor(contexts, tf.string)
    question_ids = tokenizer(questions)[:, : settings.max_query_length]
    context = tokenize_with_offsets(tokenizer, contexts)
    window_len = settings.seq_len - 3 - tf.cast(question_ids.row_lengths(), tf.int32)
    windows = make_windows(context["token_ids"].row_lengths(), window_len, settings.doc_stride)
    window_questions = tf.gather(question_ids, windows.example_index)
    packer = SegmentPacker.from_tokenizer(tokenizer, settings.seq_len)
    inputs = packer(window_questions, windows.take(context["token_ids"]).merge_dims(0, 1))
    context_offset = 2 + window_questions.row_lengths()
    return WindowFeatures(
        inputs=inputs,
        example_index=windows.example_index,
        token_index=_place_in_rows(windows.positions.merge_dims(0, 1), context_offset, -1, settings.seq_len),
        is_home=_place_in_rows(windows.is_home.merge_dims(0, 1), context_offset, False, settings.seq_len),
        token_start=context["start"],
        token_end=context["end"],
        contexts=contexts,
    )


def _place_in_rows(values, offsets, fill, seq_len):
    """[rows, seq_len]: each ragged row of `values` shifted right by its offset."""
    prefix = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(offsets)], tf.constant(fill, values.dtype)), offsets
    )
    return tf.concat([prefix, values], axis=1).to_tensor(fill, shape=[None, seq_len])


def answer_token_positions(features, answer_start, answer_end):
    """Training targets: the packed start/end position of the answer per window.

    Args:
        features: `WindowFeatures`.
        answer_start, answer_end: int64 [batch]: the answer's byte span in its
            context; answer_end <= answer_start means no answer.

    Returns:
        (start, end) int32 [windows]: positions in the packed row, or 0 (the
        [CLS]) where the window does not hold the whole answer.
    """
    token_start, token_end = features.token_start, features.token_end
    row = tf.cast(features.example_index, tf.int32)
    begin = tf.gather(answer_start, token_start.value_rowids())
    end = tf.gather(answer_end, token_start.value_rowids())
    overlaps = (token_end.values > begin) & (token_start.values < end)
    first = _segment_extreme(overlaps, token_start, tf.math.unsorted_segment_min)
    last = _segment_extreme(overlaps, token_start, tf.math.unsorted_segment_max)
    first_in_row, last_in_row = tf.gather(first, row), tf.gather(last, row)
    index = features.token_index
    start_hit = tf.equal(index, first_in_row[:, tf.newaxis])
    end_hit = tf.equal(index, last_in_row[:, tf.newaxis])
    found = tf.reduce_any(start_hit, axis=1) & tf.reduce_any(end_hit, axis=1) & (first_in_row >= 0)
    start = tf.where(found, tf.argmax(tf.cast(start_hit, tf.int32), axis=1, output_type=tf.int32), 0)
    end = tf.where(found, tf.argmax(tf.cast(end_hit, tf.int32), axis=1, output_type=tf.int32), 0)
    return start, end


def _segment_extreme(mask, tokens, reduce):
    """First/last token index per question among `mask`ed tokens, -1 if none."""
    positions = tf.cast(tf.ragged.range(tokens.row_lengths()).values, tf.int32)
    rows = tf.cast(tokens.value_rowids(), tf.int32)
    nrows = tf.cast(tokens.nrows(), tf.int32)
    picked = reduce(tf.boolean_mask(positions, mask), tf.boolean_mask(rows, mask), nrows)
    has_any = tf.math.unsorted_segment_max(tf.cast(mask, tf.int32), rows, nrows) > 0
    return tf.where(has_any, picked, -1)


def decode_answers(features, start_logits, end_logits, settings=SpanSettings(), null_threshold=None):
    """The best answer of each question over its windows, in-graph.

    Args:
        features: the `WindowFeatures` the logits were computed on.
        start_logits, end_logits: float [windows, seq_len].
        settings: `SpanSettings` (max_answer_length, n_best).
        null_threshold: predict no answer when the no-answer score exceeds
            the best span score by more than this (SQuAD 2.0); None always
            answers (SQuAD 1.1).

    Returns:
        dict of [batch] tensors: "answer" (string, "" for no answer),
        "start_char", "end_char" (int64, into the context; 0, 0 for no
        answer), "score" (best span score), "no_answer_score" (null score
        minus best span score).
    """
    span_score, span_start, span_end = _best_span_per_window(features, start_logits, end_logits, settings)
    batch = tf.shape(features.contexts, out_type=tf.int64)[0]
    best_score = tf.math.unsorted_segment_max(span_score, features.example_index, batch)
    null_score = tf.math.unsorted_segment_min(start_logits[:, 0] + end_logits[:, 0], features.example_index, batch)
    best_window = _first_window_with(span_score, best_score, features.example_index, batch)
    first_token = _token_at(features.token_index, best_window, tf.gather(span_start, best_window))
    last_token = _token_at(features.token_index, best_window, tf.gather(span_end, best_window))
    has_span = best_score > NO_SPAN_SCORE
    no_answer = ~has_span
    if null_threshold is not None:
        no_answer |= null_score - best_score > null_threshold
    byte_start = _token_offset(features.token_start, first_token, no_answer)
    byte_end = _token_offset(features.token_end, last_token, no_answer)
    return {
        "answer": tf.strings.substr(features.contexts, byte_start, byte_end - byte_start),
        "start_char": _chars_before(features.contexts, byte_start),
        "end_char": _chars_before(features.contexts, byte_end),
        "score": tf.where(has_span, best_score, NO_SPAN_SCORE),
        "no_answer_score": tf.where(has_span, null_score - best_score, 0.0),
    }


def _best_span_per_window(features, start_logits, end_logits, settings):
    """(score, start position, end position) of each window's best span."""
    in_context = features.token_index >= 0
    masked_start = tf.where(in_context & features.is_home, start_logits, -float("inf"))
    masked_end = tf.where(in_context, end_logits, -float("inf"))
    n_best = tf.minimum(settings.n_best, tf.shape(start_logits)[1])
    start_top, start_at = tf.math.top_k(masked_start, n_best)
    end_top, end_at = tf.math.top_k(masked_end, n_best)
    length = end_at[:, tf.newaxis, :] - start_at[:, :, tf.newaxis] + 1
    valid = (length >= 1) & (length <= settings.max_answer_length)
    valid &= tf.math.is_finite(start_top)[:, :, tf.newaxis] & tf.math.is_finite(end_top)[:, tf.newaxis, :]
    pair_score = tf.where(valid, start_top[:, :, tf.newaxis] + end_top[:, tf.newaxis, :], NO_SPAN_SCORE)
    flat = tf.reshape(pair_score, [tf.shape(pair_score)[0], -1])
    best = tf.argmax(flat, axis=1, output_type=tf.int32)
    score = tf.reduce_max(flat, axis=1)
    start = tf.gather(start_at, best // n_best, batch_dims=1)
    end = tf.gather(end_at, best % n_best, batch_dims=1)
    return score, start, end


def _token_at(token_index, window, position):
    return tf.gather(tf.gather(token_index, window), position[:, tf.newaxis], batch_dims=1)[:, 0]


def _token_offset(offsets, token, no_answer):
    """Byte offset of each question's `token` in its context; 0 for no answer."""
    padded = tf.concat([offsets.values, [0]], axis=0)
    flat = tf.where(no_answer | (token < 0), tf.size(offsets.values, tf.int64), offsets.row_starts() + tf.cast(token, tf.int64))
    return tf.gather(padded, flat)


def _first_window_with(window_score, best_score, example_index, batch):
    """Index of the first window of each question that reaches its best score."""
    window = tf.range(tf.shape(window_score, out_type=tf.int64)[0])
    is_best = tf.equal(window_score, tf.gather(best_score, example_index))
    candidates = tf.where(is_best, window, tf.int64.max)
    return tf.math.unsorted_segment_min(candidates, example_index, batch)


def _chars_before(strings, byte_offsets):
    """Characters in the first `byte_offsets` bytes of each string."""
    prefix = tf.strings.substr(strings, tf.zeros_like(byte_offsets), byte_offsets)
    return tf.cast(tf.strings.length(prefix, unit="UTF8_CHAR"), tf.int64)
