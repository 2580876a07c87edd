"""SQuAD EM/F1: hand-worked cases and a separately written reference of the official rules."""

import math
import random
import string

import pytest

from keras_bert_impl.tasks.squad_metrics import (
    exact_match,
    f1_score,
    normalize_answer,
    squad_scores,
)


def test_normalisation_hand_worked():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_answer("theatre at the Ann") == "theatre at ann"
    assert normalize_answer("  «Café»  ") == "«café»"  # only ASCII punctuation goes


def test_f1_hand_worked():
    # prediction words {red, big, house}, gold {big, red, barn}: 2 common.
    assert f1_score("the red big house", "a big red barn") == pytest.approx(2 / 3)
    # Words count as a multiset: one of the two "dog"s is common.
    assert f1_score("dog dog", "dog") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert f1_score("", "") == 1.0 and f1_score("", "x") == 0.0
    assert f1_score("", "", version="1.1") == 0.0
    assert exact_match("The Answer.", "answer") == 1.0


def test_dataset_scores_with_unanswerable_questions_and_threshold():
    golds = {"a": ["Paris", "paris, France"], "b": [], "c": ["1990"]}
    predictions = {"a": "Paris France", "b": "", "c": "in 1990s"}
    scores = squad_scores(golds, predictions)
    # a matches "paris, France" exactly once normalised; c shares no word with 1990.
    assert scores["exact_match"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx((1 + 1 + 0) / 3)
    assert scores["HasAns_total"] == 2 and scores["NoAns_exact_match"] == 1.0
    # With no-answer scores: "c" is above threshold 0 so predicted null (wrong).
    scores = squad_scores(golds, {"a": "Paris", "b": "x", "c": "1990"}, {"a": -2.0, "b": 1.0, "c": 0.5})
    assert scores["exact_match"] == pytest.approx(2 / 3)
    assert scores["best_exact_match"] == 1.0 and 0.5 <= scores["best_exact_match_threshold"] < 1.0


def test_missing_prediction_is_named():
    with pytest.raises(ValueError, match="q2"):
        squad_scores({"q1": ["a"], "q2": ["b"]}, {"q1": "a"})


# A reference restated from the published rules, written apart from the module.
def _reference_normalise(text):
    kept = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return [word for word in kept.split() if word not in ("a", "an", "the")]


def _reference_question(prediction, golds, na_score, threshold):
    unanswerable = not golds
    kept = [g for g in golds if _reference_normalise(g)] or [""]
    if na_score is not None and na_score > threshold:
        return float(unanswerable), float(unanswerable)
    best_em = best_f1 = 0.0
    p = _reference_normalise(prediction)
    for gold in kept:
        g = _reference_normalise(gold)
        best_em = max(best_em, float(p == g))
        if not p or not g:
            best_f1 = max(best_f1, float(p == g))
            continue
        remaining, same = list(g), 0
        for word in p:
            if word in remaining:
                remaining.remove(word)
                same += 1
        if same:
            precision, recall = same / len(p), same / len(g)
            best_f1 = max(best_f1, 2 * precision * recall / (precision + recall))
    return best_em, best_f1


def _reference_best(golds, predictions, na_scores, metric_index):
    # Try every candidate threshold (each score, and below all) exhaustively.
    candidates = sorted(set(na_scores.values()))
    options = [(min(candidates) - 1.0)] + candidates
    best_value, best_threshold = -1.0, None
    for threshold in options:
        total = sum(
            _reference_question(predictions[q], golds[q], na_scores[q], threshold)[metric_index] for q in golds
        )
        if total > best_value + 1e-12:
            best_value, best_threshold = total, threshold
    return best_value / len(golds), best_threshold


def _random_dataset(rng):
    words = ["the", "a", "cat", "Cat.", "dog", "an", "red", ",", "big!", "house", "1990"]
    phrase = lambda: " ".join(rng.choice(words) for _ in range(rng.randint(0, 4)))  # noqa: E731
    golds, predictions, na = {}, {}, {}
    for index in range(30):
        qid = f"q{index}"
        golds[qid] = [] if rng.random() < 0.3 else [phrase() for _ in range(rng.randint(1, 3))]
        predictions[qid] = phrase()
        na[qid] = rng.uniform(-3, 3)  # distinct, as real model scores are
    return golds, predictions, na


@pytest.mark.parametrize("seed", range(5))
def test_equal_to_reference_of_the_official_rules(seed):
    golds, predictions, na = _random_dataset(random.Random(seed))
    threshold = 0.3
    scores = squad_scores(golds, predictions, na, threshold=threshold, version="2.0")
    reference = [_reference_question(predictions[q], golds[q], na[q], threshold) for q in golds]
    assert scores["exact_match"] == pytest.approx(sum(r[0] for r in reference) / len(golds))
    assert scores["f1"] == pytest.approx(sum(r[1] for r in reference) / len(golds))
    for index, name in enumerate(("exact_match", "f1")):
        best, _ = _reference_best(golds, predictions, na, index)
        assert scores[f"best_{name}"] == pytest.approx(best)
        at_found = squad_scores(golds, predictions, na, threshold=scores[f"best_{name}_threshold"])
        assert at_found[name] == pytest.approx(best)
        assert not math.isnan(scores[f"best_{name}_threshold"])
