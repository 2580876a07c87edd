"""Classification metrics of a trained classifier on a labelled dataset."""

import numpy as np


def evaluate_classifier(classifier, dataset, label_names):
    """Returns accuracy, mean loss and per-class precision/recall/F1.

    Args:
        classifier: a compiled or uncompiled `BertClassifier`.
        dataset: batches of `(inputs, label_ids)`.
        label_names: names of the classes, index = label id.

    Returns:
        A JSON-ready dict: `accuracy`, `loss` (mean cross-entropy), `examples`,
        `macro_f1` and `per_class` {name: {precision, recall, f1, support}}.
    """
    labels = [np.asarray(batch_labels) for _, batch_labels in dataset]
    if not labels:
        raise ValueError("The evaluation data is empty.")
    labels = np.concatenate(labels)
    # One predict call, not predict_on_batch per batch: under MirroredStrategy
    # only predict splits and gathers the batches correctly.
    logits = np.asarray(
        classifier.predict(dataset.map(lambda inputs, _: inputs), verbose=0),
        dtype="float64",
    )
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    predictions = logits.argmax(axis=-1)
    per_class = {}
    for index, name in enumerate(label_names):
        true_positive = int(np.sum((predictions == index) & (labels == index)))
        predicted = int(np.sum(predictions == index))
        support = int(np.sum(labels == index))
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = dict(precision=precision, recall=recall, f1=f1, support=support)
    return {
        "accuracy": float(np.mean(predictions == labels)),
        "loss": float(-np.mean(log_probs[np.arange(len(labels)), labels])),
        "examples": int(len(labels)),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "per_class": per_class,
    }
