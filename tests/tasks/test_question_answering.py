"""Extractive QA end to end: windows, targets, decoding to the original text, learning."""

import argparse

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.fuzz import HealthCheck, given, st
from support.fuzz import settings as hypothesis_settings
from support.passes import assert_exact_passes

from qa_synthetic import VOCAB, squad_json

from keras_bert_impl import BertConfig, bert_backbone
from keras_bert_impl.data.squad import squad_examples
from keras_bert_impl.tasks import question_answering as qa
from keras_bert_impl.tasks.qa_features import (
    SpanSettings,
    answer_token_positions,
    decode_answers,
    encode_windows,
)
from keras_bert_impl.text import Tokenizer

TOKENIZER = Tokenizer(VOCAB)
SETTINGS = SpanSettings(seq_len=24, doc_stride=6, max_query_length=6, max_answer_length=4, n_best=5)
# One layer learns the synthetic task in two epochs; each trace of the model
# (fit, every evaluate) costs more with depth.
CONFIG = BertConfig.preset(
    "bert_tiny", vocab_size=len(VOCAB), num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64,
    max_position_embeddings=24,
)


def _answers_from_targets(questions, contexts, answer_spans):
    """Decodes one-hot logits at the targets: the round trip of features and decoding."""
    starts = tf.constant([len(c[:s].encode()) for c, (s, _) in zip(contexts, answer_spans)], tf.int64)
    ends = tf.constant([len(c[:e].encode()) for c, (_, e) in zip(contexts, answer_spans)], tf.int64)
    features = encode_windows(TOKENIZER, questions, contexts, SETTINGS)
    start, end = answer_token_positions(features, starts, ends)
    return start, end, decode_answers(
        features, tf.one_hot(start, SETTINGS.seq_len) * 5, tf.one_hot(end, SETTINGS.seq_len) * 5, SETTINGS
    )


def test_targets_far_past_the_first_window_decode_to_the_original_text():
    context = " ".join(["w1"] * 40) + " Café a2 b3 naïve w2."
    begin = context.index("a2")
    start, end, answers = _answers_from_targets(["What is the code?"], [context], [(begin, begin + 5)])
    assert np.count_nonzero(start) >= 1 and np.count_nonzero(start == 0) >= 3  # [CLS] elsewhere
    assert answers["answer"].numpy()[0].decode() == "a2 b3"
    assert (answers["start_char"].numpy()[0], answers["end_char"].numpy()[0]) == (begin, begin + 5)
    # The span is cut from the original bytes: case and accents kept.
    _, _, answers = _answers_from_targets(["q"], [context], [(begin - 5, begin + 5)])
    assert answers["answer"].numpy()[0].decode() == "Café a2 b3"


def test_empty_context_and_no_answer_threshold():
    features = encode_windows(TOKENIZER, ["what", ""], ["", "w1 w2"], SETTINGS)
    logits = tf.zeros([features.token_index.shape[0], SETTINGS.seq_len])
    answers = decode_answers(features, logits, logits, SETTINGS)
    assert answers["answer"].numpy().tolist() == [b"", b"w1"]
    assert answers["score"].numpy()[0] < -1e8
    null_favoured = decode_answers(features, logits + tf.one_hot([0, 0], SETTINGS.seq_len) * 9, logits,
                                   SETTINGS, null_threshold=1.0)
    assert null_favoured["answer"].numpy().tolist() == [b"", b""]
    assert null_favoured["no_answer_score"].numpy()[1] == pytest.approx(9.0)


words = st.sampled_from(["w1", "a0", "b1", "Café", "naïve", "?", "x", "中", "\u0301", " ", "\n", "ǅ", "\x00"])
texts = st.lists(words, max_size=60).map(" ".join) | st.text(max_size=80)


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=texts, context=texts, seed=st.integers(0, 2**16))
def test_fuzz_answer_is_always_the_context_slice(question, context, seed):
    features = encode_windows(TOKENIZER, [question], [context], SETTINGS)
    rng = np.random.default_rng(seed)
    shape = (features.token_index.shape[0], SETTINGS.seq_len)
    answers = decode_answers(features, rng.normal(size=shape).astype("float32"),
                             rng.normal(size=shape).astype("float32"), SETTINGS)
    start, end = int(answers["start_char"][0]), int(answers["end_char"][0])
    assert context[start:end] == answers["answer"].numpy()[0].decode("utf-8")
    assert 0 <= start <= end <= len(context)


def _args(**overrides):
    values = dict(seq_len=SETTINGS.seq_len, doc_stride=SETTINGS.doc_stride, max_query_length=SETTINGS.max_query_length,
                  max_answer_length=SETTINGS.max_answer_length, n_best=SETTINGS.n_best, batch_size=32, seed=0)
    return argparse.Namespace(**{**values, **overrides})


def test_tiny_model_learns_answers_beyond_the_first_window(tmp_path):
    keras.utils.set_random_seed(0)
    train = qa.load_data(_args(), TOKENIZER, squad_json(tmp_path / "train.json", 300, seed=1), None, "train", True)
    evaluation = qa.load_data(_args(), TOKENIZER, squad_json(tmp_path / "dev.json", 60, seed=2), None, "train", False)
    model = qa.build_model(bert_backbone(CONFIG), None, _args())
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(train.dataset, epochs=2, verbose=0)
    metrics = qa.evaluate(model, evaluation)
    assert metrics["exact_match"] > 0.9, metrics
    far = [e for e in squad_examples(str(tmp_path / "dev.json")) if e.answers[0].start > 60]
    assert len(far) > 10  # answers past the first window (about 8 words) are common


def test_squad2_headline_is_at_the_given_threshold_and_the_tuned_one_apart(tmp_path):
    keras.utils.set_random_seed(0)
    evaluation = qa.load_data(
        _args(), TOKENIZER, squad_json(tmp_path / "dev.json", 12, seed=2, unanswerable_every=3), None, "train", False
    )
    model = qa.build_model(bert_backbone(CONFIG), None, _args())
    default = qa.evaluate(model, evaluation)
    assert default["threshold"] == 0.0
    assert {"best_exact_match", "best_f1", "best_f1_threshold"} <= set(default)
    at_best = qa.evaluate(model, evaluation, null_threshold=default["best_f1_threshold"])
    assert at_best["threshold"] == default["best_f1_threshold"]
    assert at_best["f1"] == pytest.approx(default["best_f1"])


def test_training_passes_are_a_function_of_seed_and_pass(tmp_path):
    train = qa.load_data(_args(batch_size=4), TOKENIZER, squad_json(tmp_path / "train.json", 12, seed=3),
                         None, "train", True)
    assert_exact_passes(train)
