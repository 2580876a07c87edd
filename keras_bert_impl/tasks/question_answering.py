"""Extractive question answering (SQuAD 1.1 / 2.0): `BertQuestionAnswerer`.

Data: SQuAD JSON files or "tfds:squad/v1.1|v2.0" (`data/squad.py`); the
windows, targets and decoding are in-graph (`tasks/qa_features.py`);
metrics: the official exact match and F1 (`tasks/squad_metrics.py`). The
windowing settings and the SQuAD 2.0 no-answer threshold that maximised F1
on the evaluation data are stored in the model directory as
`question_answering.json`, so `evaluate`, `predict`, the Python API and the
SavedModel answer alike. The task interface is in `tasks/__init__.py`.

Example:

>>> answers = answer_questions(model, tokenizer, ["Who wrote it?"],
...                            ["Ada wrote it."])  # doctest: +SKIP
>>> answers[0]["answer"], answers[0]["start_char"]  # doctest: +SKIP
('Ada', 0)
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_bert_impl.data import squad
from keras_bert_impl.model_dir import read_json_settings
from keras_bert_impl.models import BertQuestionAnswerer
from keras_bert_impl.tasks import TaskData, shuffled_training_data
from keras_bert_impl.tasks.arguments import QA_SETTING_FLAGS
from keras_bert_impl.tasks.qa_features import (
    SpanSettings,
    answer_token_positions,
    decode_answers,
    encode_windows,
)
from keras_bert_impl.tasks.squad_metrics import squad_scores

NAME = "question_answering"
MODEL = BertQuestionAnswerer
SETTINGS_FILE = "question_answering.json"


def claims_data(source):
    """SQuAD JSON files and tfds squad datasets are question answering."""
    if isinstance(source, str) and source.startswith("tfds:squad/"):
        return True
    return squad.is_squad_json(source)


def settings_from_args(args):
    """SpanSettings of the flags given; SQuAD's defaults for the others."""
    given = {name: getattr(args, name) for name in QA_SETTING_FLAGS if getattr(args, name) is not None}
    return SpanSettings(seq_len=args.seq_len, **given)


def load_data(args, tokenizer, source, label_names, split, training):
    """Window batches `(inputs, {start_logits, end_logits})`; the examples kept for metrics."""
    examples = squad.squad_examples(source, split)
    if not examples:
        raise ValueError(f"{source}: no questions")
    settings = settings_from_args(args)
    questions = tf.data.Dataset.from_tensor_slices(_example_tensors(examples))
    facts = {"examples": examples, "settings": settings, "tokenizer": tokenizer}

    def to_windows(batch):
        features = encode_windows(tokenizer, batch["question"], batch["context"], settings)
        start, end = answer_token_positions(features, batch["answer_start"], batch["answer_end"])
        return tf.data.Dataset.from_tensor_slices(
            (features.inputs, {"start_logits": start, "end_logits": end})
        )

    def window_batches(ordered_questions):
        return ordered_questions.batch(args.batch_size).flat_map(to_windows).batch(args.batch_size)

    if not training:
        return TaskData(window_batches(questions).prefetch(tf.data.AUTOTUNE), None, examples=facts)

    return shuffled_training_data(
        lambda shuffle_this_pass: window_batches(shuffle_this_pass(questions)),
        seed=args.seed, shuffle_buffer=len(examples), label_names=None, examples=facts,
    )


def _example_tensors(examples):
    """Questions, contexts and the first answer's byte span (0, 0 when none)."""
    starts, ends = [], []
    for example in examples:
        answer = example.answers[0] if example.answers else None
        start = len(example.context[: answer.start].encode("utf-8")) if answer else 0
        starts.append(start)
        ends.append(start + len(answer.text.encode("utf-8")) if answer else 0)
    return {
        "question": [e.question for e in examples],
        "context": [e.context for e in examples],
        "answer_start": np.array(starts, "int64"),
        "answer_end": np.array(ends, "int64"),
    }


def build_model(backbone, label_names, args):
    return BertQuestionAnswerer(backbone)


def answer_function(model, tokenizer, settings, null_threshold=None):
    """A `tf.function` (question, context) -> answers dict, all in-graph.

    Both inputs are string [batch]: one question per context.
    """

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
    def answer(question, context):
        features = encode_windows(tokenizer, question, context, settings)
        logits = model(features.inputs, training=False)
        return decode_answers(
            features, logits["start_logits"], logits["end_logits"], settings, null_threshold
        )

    return answer


def answer_questions(model, tokenizer, questions, contexts, settings=SpanSettings(), null_threshold=None,
                     batch_size=32):
    """Answers each question from its context (the Python API).

    Returns:
        list of dicts: answer, start_char, end_char (Python `str` indices
        into the context), score, no_answer_score.
    """
    answer = answer_function(model, tokenizer, settings, null_threshold)
    results = []
    for begin in range(0, len(questions), batch_size):
        outputs = answer(
            tf.constant(questions[begin : begin + batch_size]), tf.constant(contexts[begin : begin + batch_size])
        )
        outputs = {name: value.numpy() for name, value in outputs.items()}
        for row in range(len(outputs["answer"])):
            results.append({
                "answer": outputs["answer"][row].decode("utf-8", "replace"),
                "start_char": int(outputs["start_char"][row]),
                "end_char": int(outputs["end_char"][row]),
                "score": float(outputs["score"][row]),
                "no_answer_score": float(outputs["no_answer_score"][row]),
            })
    return results


def evaluate(model, data, null_threshold=None):
    """SQuAD exact match and F1 (fractions); for 2.0 also the breakdown and best threshold.

    The answers are decoded without a threshold. On SQuAD 2.0 data the
    headline `exact_match`/`f1` (and `HasAns_*`/`NoAns_*`) are at
    `null_threshold` (the official script's default 0.0 when None), reported
    as `threshold`; `best_exact_match`/`best_f1` are at the thresholds tuned
    on this very data (`best_*_threshold`), an upper bound. `finetune` stores
    `best_f1_threshold` with the model.
    """
    examples, settings = data.examples["examples"], data.examples["settings"]
    answers = answer_questions(
        model, data.examples["tokenizer"], [e.question for e in examples],
        [e.context for e in examples], settings,
    )
    golds = {e.question_id: [a.text for a in e.answers] for e in examples}
    predictions = {e.question_id: a["answer"] for e, a in zip(examples, answers)}
    if all(golds.values()):
        return squad_scores(golds, predictions)
    no_answer = {e.question_id: a["no_answer_score"] for e, a in zip(examples, answers)}
    threshold = 0.0 if null_threshold is None else null_threshold
    return {**squad_scores(golds, predictions, no_answer, threshold=threshold), "threshold": threshold}


def use_saved_settings(args, model_dir, model):
    """`evaluate`: the window settings not given as flags are the model's."""
    saved = read_settings(model_dir, args.seq_len)[0]
    for name in QA_SETTING_FLAGS:
        if getattr(args, name) is None:
            setattr(args, name, getattr(saved, name))


def evaluate_options(model_dir, seq_len):
    """`evaluate`'s keyword arguments for a saved model: its stored threshold."""
    return {"null_threshold": read_settings(model_dir, seq_len)[1]}


def print_metrics(metrics):
    at = f" at no-answer threshold {metrics['threshold']:.4f}" if "threshold" in metrics else ""
    print(
        f"eval exact match {metrics['exact_match']:.4f}  F1 {metrics['f1']:.4f}{at}  "
        f"({metrics['total']} questions)"
    )
    for prefix in ("HasAns", "NoAns"):
        if f"{prefix}_total" in metrics:
            print(
                f"  {prefix}: exact match {metrics[prefix + '_exact_match']:.4f}  "
                f"F1 {metrics[prefix + '_f1']:.4f}  ({metrics[prefix + '_total']})"
            )
    if "best_f1" in metrics:
        print(
            f"  best F1 {metrics['best_f1']:.4f} at threshold {metrics['best_f1_threshold']:.4f} "
            "(tuned on this data: an upper bound; finetune stores this threshold)"
        )


def model_files(metrics, args):
    """The settings and threshold saved beside the model."""
    settings = dataclasses.asdict(settings_from_args(args))
    settings.pop("seq_len")  # the model directory records it already
    return {SETTINGS_FILE: {**settings, "null_threshold": metrics.get("best_f1_threshold")}}


def read_settings(model_dir, seq_len):
    """(SpanSettings, null_threshold) saved in a model directory.

    A directory without the file (a converted checkpoint) gets SQuAD's
    defaults and no threshold (always answers).
    """
    saved = read_json_settings(model_dir, SETTINGS_FILE)
    if not saved:
        return SpanSettings(seq_len=seq_len), None
    threshold = saved.pop("null_threshold")
    return SpanSettings(seq_len=seq_len, **saved), threshold


def serving_signatures(serving):
    """The question answerer's signatures for `serving.ServingFunctions`.

    - `serving_default(question, context)`: string [batch] each; returns
      `answer` string, `start_char`, `end_char` int64 (characters into the
      context; 0, 0 for no answer), `score` and `no_answer_score` float32
      [batch]. The context is windowed in the graph, so any length works.
    - `predict_ids(token_ids, segment_ids, padding_mask)`: `start_logits`,
      `end_logits` float32 [batch, seq] for clients that pack windows
      themselves.
    """
    settings, threshold = read_settings(serving.model_dir_path, serving.seq_len)
    answer = answer_function(serving.model, serving.tokenizer, settings, threshold).python_function
    text = [tf.TensorSpec([None], tf.string, name=name) for name in ("question", "context")]
    ids = [tf.TensorSpec([None, None], tf.int32, name=n) for n in ("token_ids", "segment_ids", "padding_mask")]

    def predict_ids(token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        return serving.model(inputs, training=False)

    return {"serving_default": (answer, text), "predict_ids": (predict_ids, ids)}
