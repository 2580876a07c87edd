"""The one precision/recall/F1 formula behind per-class and per-entity scores."""

import numpy as np

from keras_bert_impl.tasks import classification
from keras_bert_impl.tasks.precision_recall import precision_recall_f1


def test_scores_from_counts_and_zero_for_empty_denominators():
    assert precision_recall_f1(3, 4, 6) == {"precision": 0.75, "recall": 0.5, "f1": 0.6, "support": 6}
    assert precision_recall_f1(0, 0, 2) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert precision_recall_f1(0, 3, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_class_scores_count_a_class_the_same_way():
    labels, predictions = np.array([0, 1, 1, 2, 1]), np.array([1, 1, 0, 2, 1])
    assert classification._class_scores(predictions == 1, labels == 1) == precision_recall_f1(2, 3, 3)
