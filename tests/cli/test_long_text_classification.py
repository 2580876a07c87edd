"""Long texts classified in windows through the CLI: the label lies past the first window.

A synthetic task whose label is decided only by the LAST words of a text far
longer than `--seq-len` (the start is label-independent filler): a tiny model
learns it with `--stride` (windows, logits pooled) and stays at chance
without (truncation never shows it the label word). The windowed model's
settings are in its config, and `evaluate`, the export's raw-text
`serving_default` and `kbi.classify` read texts longer than the window cap
the same way, with no window flags given.
"""

import json
import os
import random

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_support import run_in_process

from keras_bert_impl import BertConfig, BertPretrainer, bert_backbone, classify
from keras_bert_impl.model_dir import load_model_dir, save_model_dir

FILLER = ["the", "cat", "dog", "sat", "on", "a", "mat", "and", "ran", "to", "it", "was", "there", "then"]
LABEL_WORDS = {"negative": "awful", "positive": "lovely"}
SEQ_LEN = 16  # windows of 14 tokens; texts have 23 to 28
STRIDE, MAX_WINDOWS = 7, 3  # 3 windows cover 28 tokens
LABEL_REPEATS = 3


def _write_texts(path, count, seed):
    """JSONL texts: 20-25 filler words, then 3 times the word that decides the label."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(count):
            label = rng.choice(sorted(LABEL_WORDS))
            words = [rng.choice(FILLER) for _ in range(rng.randint(20, 25))] + [LABEL_WORDS[label]] * LABEL_REPEATS
            f.write(json.dumps({"text": " ".join(words), "label": label}) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("long_text")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *FILLER, *LABEL_WORDS.values()]
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n")
    keras.utils.set_random_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_layers=2, num_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    save_model_dir(str(root / "pretrained"), BertPretrainer(bert_backbone(config)),
                   str(root / "vocab.txt"), lowercase=True, seq_len=SEQ_LEN)
    return {
        "root": root,
        "train": _write_texts(root / "train.jsonl", 256, seed=1),
        "dev": _write_texts(root / "dev.jsonl", 128, seed=2),
    }


def _finetune(data, output, *window_flags):
    status = run_in_process(
        "finetune", "--train", data["train"], "--eval", data["dev"], "--init", str(data["root"] / "pretrained"),
        "--output", str(data["root"] / output), "--seq-len", str(SEQ_LEN), "--epochs", "8",
        "--learning-rate", "3e-3", "--batch-size", "16", *window_flags,
    )
    assert status == 0
    with open(data["root"] / output / "metrics.json") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def windowed(data):
    metrics = _finetune(data, "windowed", "--stride", str(STRIDE), "--max-windows", str(MAX_WINDOWS))
    return {"metrics": metrics, "model": str(data["root"] / "windowed")}


@pytest.mark.slow
def test_the_end_of_a_long_text_is_learned_with_windows_only(data, windowed):
    assert windowed["metrics"]["accuracy"] > 0.9, windowed["metrics"]
    truncated = _finetune(data, "truncated")
    assert truncated["accuracy"] < 0.65, truncated  # the majority class is 57% of the dev texts


def test_windows_are_stored_with_the_model_and_evaluate_reads_them(data, windowed, tmp_path):
    model = load_model_dir(windowed["model"], compile=False).model
    assert (model.window_pooling, model.window_stride, model.max_windows) == ("mean", STRIDE, MAX_WINDOWS)
    assert run_in_process("evaluate", "--model", windowed["model"], "--data", data["dev"],
                          "--output", str(tmp_path / "m.json")) == 0
    with open(tmp_path / "m.json") as f:
        assert json.load(f)["accuracy"] == pytest.approx(windowed["metrics"]["accuracy"], abs=1e-9)


def _probabilities(results, label_names):
    return np.array([[result["probabilities"][name] for name in label_names] for result in results])


def test_evaluate_classify_and_the_export_read_texts_past_the_window_cap_alike(data, windowed, tmp_path):
    # 39 tokens: 5 windows of stride 7, of which the model reads its first MAX_WINDOWS.
    long_texts = {label: " ".join(["the cat sat"] * 12 + [word] * LABEL_REPEATS) for label, word in LABEL_WORDS.items()}
    texts = [*long_texts.values(), "lovely", ""]
    loaded = load_model_dir(windowed["model"], compile=False)
    api = _probabilities(classify(loaded.model, loaded.tokenizer, texts, loaded.label_names), loaded.label_names)
    every_window = classify(loaded.model, loaded.tokenizer, texts[:2], loaded.label_names, max_windows=5)
    assert np.abs(api[:2] - _probabilities(every_window, loaded.label_names)).max() > 1e-3  # the cap matters
    saved = data["root"] / "saved"
    assert run_in_process("export", "--model", windowed["model"], "--output", str(saved)) == 0
    served = tf.saved_model.load(str(saved / "1")).signatures["serving_default"](text=tf.constant(texts))
    np.testing.assert_allclose(served["probabilities"].numpy(), api, atol=1e-5)
    assert [label.decode() for label in served["label"].numpy()] == [loaded.label_names[row.argmax()] for row in api]
    with open(tmp_path / "long.jsonl", "w") as f:
        f.writelines(json.dumps({"text": text, "label": label}) + "\n" for label, text in long_texts.items())
    assert run_in_process("evaluate", "--model", windowed["model"], "--data", str(tmp_path / "long.jsonl"),
                          "--output", str(tmp_path / "m.json")) == 0
    with open(tmp_path / "m.json") as f:
        evaluated = json.load(f)
    label_ids = [loaded.label_names.index(label) for label in long_texts]
    assert evaluated["loss"] == pytest.approx(-np.mean(np.log(api[[0, 1], label_ids])), abs=1e-4)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--window-pooling", "max"], "--window-pooling max: {model} pools its windows by the mean"),
        (["--pooling", "mean"], "--pooling mean: {model} was fine-tuned with --pooling pooled (part of the model)"),
        (["--seq-len", "8"], "--seq-len 8: {model} was trained with windows (stride 7, stored with the model)"),
        (["--text-b-column", "b"], "--text-b-column: {model} was trained with windows (stride 7, stored with the model)"),
    ],
)
def test_evaluate_errors_name_the_stored_window_settings(data, windowed, flags, message, capsys):
    status = run_in_process("evaluate", "--model", windowed["model"], "--data", data["dev"], *flags)
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith(f"error: {message.format(model=windowed['model'])}") and error.count("\n") == 1, error


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--stride", "0"], "--stride 0: expected 1 to 13"),
        (["--stride", "14"], "--stride 14: expected 1 to 13"),
        (["--stride", "4", "--max-windows", "0"], "--max-windows must be at least 1, got 0."),
        (["--max-windows", "2"], "--max-windows needs --stride"),
        (["--stride", "4", "--text-b-column", "b"], "--stride windows single texts"),
    ],
)
def test_bad_window_settings_are_one_error_line(data, flags, message, capsys):
    status = run_in_process(
        "finetune", "--train", data["train"], "--eval", data["dev"], "--init", str(data["root"] / "pretrained"),
        "--output", str(data["root"] / "bad"), "--seq-len", str(SEQ_LEN), *flags,
    )
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith(f"error: {message}") and error.count("\n") == 1, error
    assert not os.path.exists(data["root"] / "bad")
