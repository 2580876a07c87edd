"""Long texts classified in windows through the CLI: the label lies past the first window.

A synthetic task whose label is decided only by the LAST words of a text far
longer than `--seq-len` (the start is label-independent filler): a tiny model
learns it with `--stride` (windows, logits pooled) and stays at chance
without (truncation never shows it the label word). The windowed model's
settings are stored with it, and `evaluate`, the export's raw-text
`serving_default` and `kbi.classify` read long texts the same way.
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
from keras_bert_impl.tasks import classification

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
    with open(os.path.join(windowed["model"], classification.SETTINGS_FILE)) as f:
        assert json.load(f) == {"stride": STRIDE, "max_windows": MAX_WINDOWS}
    assert load_model_dir(windowed["model"], compile=False).model.window_pooling == "mean"
    assert run_in_process("evaluate", "--model", windowed["model"], "--data", data["dev"],
                          "--output", str(tmp_path / "m.json")) == 0
    with open(tmp_path / "m.json") as f:
        assert json.load(f)["accuracy"] == pytest.approx(windowed["metrics"]["accuracy"], abs=1e-9)


def test_the_export_classifies_a_long_text_as_the_python_api(data, windowed):
    saved = data["root"] / "saved"
    assert run_in_process("export", "--model", windowed["model"], "--output", str(saved)) == 0
    texts = [" ".join(["the cat sat"] * 7 + [word] * LABEL_REPEATS) for word in LABEL_WORDS.values()] + ["lovely", ""]
    served = tf.saved_model.load(str(saved / "1")).signatures["serving_default"](text=tf.constant(texts))
    loaded = load_model_dir(windowed["model"], compile=False)
    api = classify(loaded.model, loaded.tokenizer, texts, loaded.label_names,
                   stride=STRIDE, max_windows=MAX_WINDOWS)
    expected = np.array([[result["probabilities"][name] for name in loaded.label_names] for result in api])
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    # The served labels are the API's; whether the model learned the task is
    # the dev-accuracy test's (two hand-made texts depend on the training draw).
    assert [label.decode() for label in served["label"].numpy()] == [result["label"] for result in api]


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
