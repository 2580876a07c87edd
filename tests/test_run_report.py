"""`train_tf.py report`: report.html and PNGs that render, for a classifier and a token classifier."""

import argparse
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from keras_bert_impl.cli import report, run_guarded
from keras_bert_impl.run_report import CONFUSION_PNG, CURVES_PNG, REPORT_FILE, SCORES_PNG
from serving.tiny_models import LABELS, make_tiny_model_dir  # tests/ is on sys.path (conftest.py)

HISTORY = {
    "loss": [1.1, 0.8, 0.6],
    "accuracy": [0.4, 0.6, 0.75],
    "val_loss": [1.0, 0.85, 0.8],
    "val_accuracy": [0.45, 0.6, 0.65],
}
CLASSIFIER_METRICS = {
    "accuracy": 0.65, "loss": 0.8, "examples": 20, "macro_f1": 0.61,
    "per_class": {
        "negative": {"precision": 0.7, "recall": 0.7, "f1": 0.7, "support": 10},
        "neutral": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2},
        "positive": {"precision": 0.6, "recall": 0.75, "f1": 0.667, "support": 8},
    },
    "confusion_matrix": [[7, 0, 3], [1, 0, 1], [2, 0, 6]],
}
TAGGER_METRICS = {
    "entity_f1": 0.5, "entity_precision": 0.5, "entity_recall": 0.5, "token_accuracy": 0.9,
    "sentences": 4, "words": 30,
    "per_type": {
        "LOC": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 4},
        "PER": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 2},
    },
}


def _report(*argv):
    parser = argparse.ArgumentParser()
    report.register(parser.add_subparsers())
    args = parser.parse_args(["report", *map(str, argv)])
    return run_guarded(args.run, args)


def _write_json(path, values):
    path.write_text(json.dumps(values))


def _check_png(path, min_size):
    """Opens the PNG: at least `min_size` pixels, and drawn on (not one flat colour)."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1], image.size
        pixels = np.asarray(image.convert("RGB"))
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 20  # lines, bars, text, colour map
    assert (pixels.min(axis=-1) < 128).mean() > 0.005  # some dark ink: axes and text


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "classifier"
    make_tiny_model_dir(str(path), "classifier")
    _write_json(path / "history.json", HISTORY)
    _write_json(path / "metrics.json", CLASSIFIER_METRICS)
    return path


def test_classifier_report_has_curves_scores_confusion_and_config(classifier_dir, capsys):
    assert _report("--model", classifier_dir) == 0
    assert capsys.readouterr().out.strip() == f"wrote {classifier_dir / REPORT_FILE}"
    _check_png(classifier_dir / CURVES_PNG, (800, 300))  # two panels: loss, accuracy
    _check_png(classifier_dir / SCORES_PNG, (400, 300))
    _check_png(classifier_dir / CONFUSION_PNG, (400, 300))
    page = (classifier_dir / REPORT_FILE).read_text()
    for png in (CURVES_PNG, SCORES_PNG, CONFUSION_PNG):
        assert f'<img src="{png}"' in page
    assert "<td>model</td><td>BertClassifier</td>" in page
    assert "<td>labels</td><td>negative, neutral, positive</td>" in page
    assert "<td>epochs</td><td>3</td>" in page
    assert re.search(r"<td>neutral</td><td>0\.0000</td><td>0\.0000</td><td>0\.0000</td><td>2</td>", page)
    assert "<td>hidden_size</td><td>32</td>" in page  # the configuration table


def test_token_classifier_report_shows_per_type_scores(tmp_path):
    path = tmp_path / "tagger"
    make_tiny_model_dir(str(path), "pretrainer")  # the report reads files only
    _write_json(path / "metrics.json", TAGGER_METRICS)
    out = tmp_path / "elsewhere"
    assert _report("--model", path, "--output", out) == 0
    _check_png(out / SCORES_PNG, (400, 300))
    assert not (out / CURVES_PNG).exists() and not (out / CONFUSION_PNG).exists()
    page = (out / REPORT_FILE).read_text()
    assert "<th>entity type</th>" in page and "<td>entity f1</td><td>0.5000</td>" in page


def test_not_a_model_dir_and_bad_json_are_one_line_errors(tmp_path, classifier_dir, capsys):
    assert _report("--model", tmp_path) == 2
    assert "is not a model directory: config.json is missing" in capsys.readouterr().err
    broken = tmp_path / "broken"
    make_tiny_model_dir(str(broken), "classifier")
    (broken / "history.json").write_text("{not json")
    assert _report("--model", broken) == 2
    assert "history.json: not valid JSON" in capsys.readouterr().err


def test_classification_metrics_carry_the_confusion_matrix(classifier_dir):
    import tensorflow as tf

    from keras_bert_impl import tasks
    from keras_bert_impl.model_dir import load_model_dir

    loaded = load_model_dir(str(classifier_dir), compile=False)
    inputs = {name: np.ones((6, 5), "int32") for name in ("token_ids", "segment_ids", "padding_mask")}
    labels = np.array([0, 1, 2, 2, 1, 0], "int32")
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
    metrics = tasks.get("classification").evaluate(loaded.model, tasks.TaskData(dataset, LABELS))
    matrix = np.array(metrics["confusion_matrix"])
    # Identical inputs: one predicted class takes every example, row by true label.
    assert matrix.shape == (3, 3) and matrix.sum() == 6
    assert (matrix.sum(axis=1) == [2, 2, 2]).all() and (matrix.sum(axis=0) == 6).sum() == 1
    assert [metrics["per_class"][name]["support"] for name in LABELS] == [2, 2, 2]
