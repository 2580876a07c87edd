"""A training run as a page to look at: `report.html` and its PNGs beside the model.

Everything comes from the files a run leaves in its model directory, so a
report never loads the model or the data:

- `history.json` (pretrain / finetune): one curve per metric, training and
  validation on the same axes;
- `metrics.json` (finetune, or `evaluate --output DIR/metrics.json`): per
  class precision/recall/F1 and the confusion matrix of a classifier, per
  entity type F1 of a token classifier, and the headline figures;
- `config.json`, `tokenizer_config.json`, `labels.json` and `model.keras`'s
  own config: the model kind, sizes, sequence length and labels.

The pictures are drawn with matplotlib's Agg canvas (no display needed).

Example:

>>> write_report("runs/cls")  # doctest: +SKIP
'runs/cls/report.html'
"""

import html
import json
import os
import zipfile

import numpy as np

from keras_bert_impl.io_utils import atomic_path, write_text_atomically
from keras_bert_impl.model_dir import CONFIG_FILE, LABELS_FILE, MODEL_FILE, TOKENIZER_CONFIG_FILE

REPORT_FILE = "report.html"
CURVES_PNG = "report_curves.png"
CONFUSION_PNG = "report_confusion.png"
SCORES_PNG = "report_scores.png"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
DPI = 100


def _read_json(model_dir, name):
    path = os.path.join(model_dir, name)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e}).") from None


def _model_class(model_dir):
    """The Keras class name stored in model.keras, without loading the model."""
    path = os.path.join(model_dir, MODEL_FILE)
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json")).get("class_name")


def read_run(model_dir):
    """The facts a report shows, from the files of a model directory.

    Raises:
        FileNotFoundError: `model_dir` is not a model directory.
        ValueError: one of its JSON files is unreadable.
    """
    if not os.path.isfile(os.path.join(model_dir, CONFIG_FILE)):
        raise FileNotFoundError(f"{model_dir} is not a model directory: {CONFIG_FILE} is missing.")
    return {
        "path": os.path.abspath(model_dir),
        "model_class": _model_class(model_dir),
        "config": _read_json(model_dir, CONFIG_FILE),
        "tokenizer": _read_json(model_dir, TOKENIZER_CONFIG_FILE) or {},
        "labels": _read_json(model_dir, LABELS_FILE),
        "history": _read_json(model_dir, HISTORY_FILE) or {},
        "metrics": _read_json(model_dir, METRICS_FILE) or {},
    }


def _figure(width, height):
    # A bare Figure on the Agg canvas: no pyplot global state, no display.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(figure, path):
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png")


def _curve_names(history):
    """Metric names with a curve, training first ("loss", "accuracy", ...)."""
    return sorted({name.removeprefix("val_") for name in history}, key=lambda n: (n != "loss", n))


def draw_curves(history, path):
    """One panel per metric: training and validation values per epoch."""
    from matplotlib.ticker import MaxNLocator

    names = _curve_names(history)
    figure = _figure(4.5 * len(names), 3.4)
    for axes, name in zip(np.atleast_1d(figure.subplots(1, len(names))), names):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if history.get(key):
                epochs = np.arange(1, len(history[key]) + 1)
                axes.plot(epochs, history[key], marker="o", label=label)
        axes.set(title=name, xlabel="epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    _save(figure, path)


def draw_confusion(matrix, label_names, path):
    """The confusion matrix as a heatmap with the counts written in."""
    matrix = np.asarray(matrix)
    size = max(3.5, 0.6 * len(label_names) + 2)
    figure = _figure(size + 1, size)
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = np.arange(len(label_names))
    axes.set_xticks(ticks, label_names, rotation=45, ha="right")
    axes.set_yticks(ticks, label_names)
    axes.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    for (row, column), count in np.ndenumerate(matrix):
        dark = count > matrix.max() / 2
        axes.text(column, row, str(count), ha="center", va="center", color="white" if dark else "black")
    _save(figure, path)


def draw_scores(scores, title, path):
    """Grouped bars of precision, recall and F1 per class (or entity type)."""
    names = list(scores)
    figure = _figure(max(4.5, 1.1 * len(names) + 2), 3.4)
    axes = figure.subplots()
    positions = np.arange(len(names))
    for offset, measure in zip((-0.27, 0.0, 0.27), ("precision", "recall", "f1")):
        axes.bar(positions + offset, [scores[n][measure] for n in names], width=0.27, label=measure)
    axes.set_xticks(positions, names, rotation=30, ha="right")
    axes.set(ylim=(0, 1.05), title=title)
    axes.legend(loc="lower right")
    axes.grid(axis="y", alpha=0.3)
    _save(figure, path)


def _scores_of(metrics):
    """(per-label scores, what a label is) of a classifier or token classifier, or (None, None)."""
    if "per_class" in metrics:
        return metrics["per_class"], "class"
    if "per_type" in metrics:
        return metrics["per_type"], "entity type"
    return None, None


def draw_figures(run, output_dir):
    """Draws the pictures the run's files allow; returns `{png name: caption}`."""
    figures = {}
    if run["history"]:
        draw_curves(run["history"], os.path.join(output_dir, CURVES_PNG))
        figures[CURVES_PNG] = "Training and validation, per epoch (history.json)"
    scores, kind = _scores_of(run["metrics"])
    if scores:
        draw_scores(scores, f"per {kind}", os.path.join(output_dir, SCORES_PNG))
        figures[SCORES_PNG] = f"Precision, recall and F1 per {kind} (metrics.json)"
    matrix = run["metrics"].get("confusion_matrix")
    if matrix and run["labels"]:
        names = list(run["labels"]) + [str(i) for i in range(len(run["labels"]), len(matrix))]
        draw_confusion(matrix, names, os.path.join(output_dir, CONFUSION_PNG))
        figures[CONFUSION_PNG] = "Confusion matrix: rows true, columns predicted (metrics.json)"
    return figures


_SUMMARY_CONFIG_KEYS = (
    ("num_hidden_layers", "layers"),
    ("hidden_size", "hidden size"),
    ("num_attention_heads", "attention heads"),
    ("intermediate_size", "intermediate size"),
    ("vocab_size", "vocabulary"),
    ("max_position_embeddings", "max positions"),
)
_HEADLINE_METRICS = (
    "accuracy", "loss", "macro_f1", "entity_f1", "entity_precision", "entity_recall",
    "token_accuracy", "examples", "sentences", "words",
)


def _format(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _table(rows, header=None):
    head = "" if header is None else "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_format(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table>{head}{body}</table>"


def _summary_rows(run):
    config, metrics, history = run["config"], run["metrics"], run["history"]
    rows = [("model", run["model_class"] or "unknown")]
    rows += [(label, config[key]) for key, label in _SUMMARY_CONFIG_KEYS if key in config]
    if "model_max_length" in run["tokenizer"]:
        rows.append(("training sequence length", run["tokenizer"]["model_max_length"]))
    if run["labels"]:
        rows.append(("labels", ", ".join(run["labels"])))
    if history:
        rows.append(("epochs", max(len(values) for values in history.values())))
    rows += [(name.replace("_", " "), metrics[name]) for name in _HEADLINE_METRICS if name in metrics]
    return rows


def _evaluation_section(run):
    scores, kind = _scores_of(run["metrics"])
    if not scores:
        return "<p>No metrics.json with per-label scores in this directory.</p>"
    rows = [(name, s["precision"], s["recall"], s["f1"], s["support"]) for name, s in scores.items()]
    return _table(rows, header=(kind, "precision", "recall", "F1", "support"))


_STYLE = """
body { font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; }
th { background: #f3f3f3; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
img { max-width: 100%; }
"""


def report_html(run, figures):
    """The report page of `read_run(...)` showing the PNGs `figures` (names beside it)."""
    pictures = "".join(
        f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for name, caption in figures.items()
    )
    title = f"Training report: {os.path.basename(run['path'])}"
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(run['path'])}</p>"
        f"<h2>Summary</h2>{_table(_summary_rows(run))}"
        f"<h2>Pictures</h2>{pictures or '<p>No history.json or metrics.json to draw.</p>'}"
        f"<h2>Evaluation</h2>{_evaluation_section(run)}"
        f"<h2>Configuration (config.json)</h2>{_table(sorted(run['config'].items()))}"
        "</body></html>\n"
    )


def write_report(model_dir, output_dir=None):
    """Writes `report.html` and its PNGs for a model directory.

    Args:
        model_dir: a model directory (from pretrain, finetune or convert).
        output_dir: where to write; default `model_dir` itself.

    Returns:
        The path of `report.html`.

    Raises:
        FileNotFoundError: not a model directory.
        ValueError: an unreadable JSON file in it.
    """
    run = read_run(model_dir)
    output_dir = output_dir or model_dir
    os.makedirs(output_dir, exist_ok=True)
    figures = draw_figures(run, output_dir)
    path = os.path.join(output_dir, REPORT_FILE)
    write_text_atomically(path, report_html(run, figures))
    return path
