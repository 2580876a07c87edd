"""Precision, recall and F1 from counts, as per-class and per-entity metrics report them."""


def precision_recall_f1(true_positives, predicted, actual):
    """Scores of one class (or entity type) from its counts.

    A score whose denominator is 0 is 0.0 (scikit-learn's and seqeval's
    `zero_division=0`), so a class never predicted or never present scores
    0 rather than failing.

    Args:
        true_positives: predictions that are right.
        predicted: all predictions of the class.
        actual: all true instances of the class (the support).

    Returns:
        dict of `precision`, `recall`, `f1` (fractions) and `support`.

    Example:

    >>> precision_recall_f1(3, 4, 6)
    {'precision': 0.75, 'recall': 0.5, 'f1': 0.6, 'support': 6}
    """
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": int(actual)}
