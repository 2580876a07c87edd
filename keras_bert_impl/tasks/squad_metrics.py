"""SQuAD exact match and F1, by the rules of the official evaluation scripts.

The rules (SQuAD v1.1 `evaluate-v1.1.py` and v2.0 `evaluate-v2.0.py`):

- Answers are normalised before comparison: lower case, ASCII punctuation
  (Python's `string.punctuation`) removed, the words "a", "an", "the"
  removed, whitespace collapsed.
- Exact match is 1 when the normalised strings are equal; F1 is the
  harmonic mean of precision and recall of the normalised words (as a
  multiset). A question scores its best over its gold answers.
- v2.0: a question without gold answers is unanswerable; gold answers that
  normalise to nothing are dropped (gold "" when none is left); F1 with an empty side is 1 when
  both are empty, else 0. A prediction is "no answer" when its no-answer
  score is above the threshold. `HasAns_*` and `NoAns_*` split the totals,
  and `best_*` are the scores at the threshold that maximises them.
- v1.1: F1 with an empty side is 0 (the only difference for answerable
  questions).

Scores here are fractions (the scripts print percentages). The scripts are
not a library, hence this module; every rule above is tested against a
separately written reference.

Example:

>>> squad_scores({"q1": ["the Eiffel Tower"]}, {"q1": "Eiffel tower"})
{'exact_match': 1.0, 'f1': 1.0, 'total': 1}
"""

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
    """Lower case, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction, gold):
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction, gold, version="2.0"):
    """Word-overlap F1 of two answers after normalisation."""
    predicted_words = normalize_answer(prediction).split()
    gold_words = normalize_answer(gold).split()
    if version == "2.0" and not (predicted_words and gold_words):
        return float(predicted_words == gold_words)
    common = sum((collections.Counter(predicted_words) & collections.Counter(gold_words)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted_words), common / len(gold_words)
    return 2 * precision * recall / (precision + recall)


def squad_scores(gold_answers, predictions, no_answer_scores=None, threshold=0.0, version=None):
    """Exact match and F1 over a dataset, as the official scripts compute them.

    Args:
        gold_answers: dict question id -> list of gold answer texts (empty for
            an unanswerable SQuAD 2.0 question).
        predictions: dict question id -> predicted text ("" for no answer).
            Every question needs one.
        no_answer_scores: optional dict question id -> how much more the model
            believes in "no answer" (null score minus best span score); a
            question whose score is above `threshold` is predicted
            unanswerable, and `best_*` scores and thresholds are added.
        threshold: see `no_answer_scores`.
        version: "1.1" or "2.0"; None picks "2.0" when any question is
            unanswerable.

    Returns:
        dict with `exact_match`, `f1` (fractions) and `total`; with
        unanswerable questions also `HasAns_*` / `NoAns_*`; with
        `no_answer_scores` also `best_exact_match`, `best_exact_match_threshold`,
        `best_f1`, `best_f1_threshold`.

    Raises:
        ValueError: naming questions without a prediction.
    """
    missing = sorted(set(gold_answers) - set(predictions))
    if missing:
        raise ValueError(f"no prediction for {len(missing)} question(s), e.g. ids {missing[:5]}")
    has_answer = {qid: bool(answers) for qid, answers in gold_answers.items()}
    if version is None:
        version = "1.1" if all(has_answer.values()) else "2.0"
    exact, f1 = _raw_scores(gold_answers, predictions, version)
    if no_answer_scores is not None:
        exact_at, f1_at = (
            _with_no_answer_threshold(raw, no_answer_scores, has_answer, threshold) for raw in (exact, f1)
        )
    else:
        exact_at, f1_at = exact, f1
    result = _summary(exact_at, f1_at, list(gold_answers))
    if version == "2.0":
        for prefix, wanted in (("HasAns", True), ("NoAns", False)):
            subset = [qid for qid in gold_answers if has_answer[qid] == wanted]
            if subset:
                result.update({f"{prefix}_{k}": v for k, v in _summary(exact_at, f1_at, subset).items()})
    if no_answer_scores is not None:
        for name, raw in (("exact_match", exact), ("f1", f1)):
            best, best_threshold = best_no_answer_threshold(raw, no_answer_scores, has_answer)
            result[f"best_{name}"] = best
            result[f"best_{name}_threshold"] = best_threshold
    return result


def _raw_scores(gold_answers, predictions, version):
    exact, f1 = {}, {}
    for qid, answers in gold_answers.items():
        if version == "1.1":
            golds = list(answers) or [""]
        else:
            golds = [a for a in answers if normalize_answer(a)] or [""]
        exact[qid] = max(exact_match(predictions[qid], gold) for gold in golds)
        f1[qid] = max(f1_score(predictions[qid], gold, version) for gold in golds)
    return exact, f1


def _with_no_answer_threshold(scores, no_answer_scores, has_answer, threshold):
    return {
        qid: float(not has_answer[qid]) if no_answer_scores[qid] > threshold else score
        for qid, score in scores.items()
    }


def _summary(exact, f1, question_ids):
    total = len(question_ids)
    return {
        "exact_match": sum(exact[qid] for qid in question_ids) / total,
        "f1": sum(f1[qid] for qid in question_ids) / total,
        "total": total,
    }


def best_no_answer_threshold(scores, no_answer_scores, has_answer):
    """The no-answer threshold that maximises a score, and that score.

    Starts from "no answer" everywhere and answers questions in increasing
    order of no-answer score, keeping the best running total: the official
    script's search (equal scores are taken one question at a time, as
    there). Answering a question changes the total by its score minus its
    score as "no answer"; the script instead counts -1 for any non-empty
    prediction to an unanswerable question, even one that normalises to ""
    (such as "the") and so scores 1 once answered; here the search and the
    scores at its threshold always agree.

    Args:
        scores: dict question id -> score of the predicted (non-null) answer.
        no_answer_scores: dict question id -> no-answer score.
        has_answer: dict question id -> whether the question is answerable.

    Returns:
        (best score as a fraction, threshold): predict "no answer" when a
        question's no-answer score is above the threshold.
    """
    running = best = sum(not answerable for answerable in has_answer.values())
    # The script starts at 0.0, which means "no answer everywhere" only for
    # its probabilities in [0, 1]; score differences can be negative.
    best_threshold = min(no_answer_scores.values()) - 1.0
    for qid in sorted(no_answer_scores, key=no_answer_scores.get):
        if qid not in scores:
            continue
        running += scores[qid] - float(not has_answer[qid])
        if running > best:
            best, best_threshold = running, no_answer_scores[qid]
    return best / len(scores), best_threshold
