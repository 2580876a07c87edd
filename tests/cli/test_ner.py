"""Token classification through the CLI: finetune, evaluate, export, predict, and the Python API agreeing."""

import argparse
import inspect
import json
import os
import random

import keras
import pytest
from cli_support import run_cli

from keras_bert_impl import BertConfig, BertPretrainer, bert_backbone, tag
from keras_bert_impl.cli import evaluate, export, finetune, predict, run_guarded
from keras_bert_impl.model_dir import load_model_dir, save_model_dir
from keras_bert_impl.tasks import tagging

FIRST = ["ada", "alan", "grace", "linus", "marie", "niels"]
LAST = ["lovelace", "turing", "hopper", "pauling", "curie", "bohr"]
CITIES = ["london", "paris", "oslo", "rome", "lima", "cairo"]
FILLER = ["today", "met", "someone", "from", "and", "visited", "lives", "in", "the", "city", "."]
TEXTS = ["Grace Hopper visited Oslo today.", "Someone from Lima met Alan Turing and Marie Curie."]


def _sentence(rng):
    """Tokens and BIO tags of one synthetic sentence (names are PER, cities LOC)."""
    tokens, tags = [], []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["person", "city", "filler", "filler"])
        if kind == "person":
            tokens += [rng.choice(FIRST).title(), rng.choice(LAST).title()]
            tags += ["B-PER", "I-PER"]
        elif kind == "city":
            tokens.append(rng.choice(CITIES).title())
            tags.append("B-LOC")
        else:
            words = rng.sample(FILLER, 2)
            tokens += words
            tags += ["O"] * len(words)
    return tokens, tags


def _write_conll(path, count, seed):
    rng = random.Random(seed)
    blocks = ["-DOCSTART- -X- O\n"]
    for _ in range(count):
        tokens, tags = _sentence(rng)
        blocks.append("".join(f"{t} NN {g}\n" for t, g in zip(tokens, tags)))
    path.write_text("\n".join(blocks))
    return str(path)


def assert_same_entities(actual, expected):
    """Same entities (text, type, span) in each text, scores equal to 1e-5."""
    strip = lambda texts: [[{k: v for k, v in e.items() if k != "score"} for e in es] for es in texts]  # noqa: E731
    assert strip(actual) == strip(expected)
    scores = lambda texts: [e["score"] for es in texts for e in es]  # noqa: E731
    assert scores(actual) == pytest.approx(scores(expected), abs=1e-5)


def main(*argv):
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    for module in (finetune, evaluate, export, predict):
        module.register(subparsers)
    args = parser.parse_args([str(arg) for arg in argv])
    return run_guarded(args.run, args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *FIRST, *LAST, *CITIES, *FILLER]
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n")
    keras.utils.set_random_seed(0)
    # One layer learns these entities (dev F1 1.0 after 4 epochs), and every
    # trace here (training, predict, export) has half the blocks to build.
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_layers=1, num_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    save_model_dir(str(root / "pretrained"), BertPretrainer(bert_backbone(config)),
                   str(root / "vocab.txt"), lowercase=True, seq_len=16)
    train = _write_conll(root / "train.conll", 240, seed=1)
    dev = _write_conll(root / "dev.conll", 60, seed=2)
    status = main(
        "finetune", "--train", train, "--eval", dev, "--init", root / "pretrained",
        "--output", root / "tagger", "--seq-len", 12, "--stride", 4, "--epochs", 4,
        "--learning-rate", 3e-3, "--batch-size", 16,
    )
    assert status == 0
    return {"root": root, "model": str(root / "tagger"), "dev": dev}


def test_finetune_learns_the_entities_and_evaluate_agrees(trained, tmp_path, monkeypatch):
    with open(os.path.join(trained["model"], "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["entity_f1"] > 0.95, metrics
    assert set(metrics["per_type"]) == {"PER", "LOC"}
    strides = []
    encode = tagging.encode_tagged_words

    def spy(*args, **kwargs):
        strides.append(inspect.signature(encode).bind(*args, **kwargs).arguments["stride"])
        return encode(*args, **kwargs)

    monkeypatch.setattr(tagging, "encode_tagged_words", spy)
    assert main("evaluate", "--model", trained["model"], "--data", trained["dev"],
                "--output", tmp_path / "m.json") == 0
    with open(tmp_path / "m.json") as f:
        assert json.load(f)["entity_f1"] == pytest.approx(metrics["entity_f1"], abs=1e-9)
    assert main("evaluate", "--model", trained["model"], "--data", trained["dev"], "--stride", 3) == 0
    # Windows as trained (--stride 4; --seq-len 12 alone would give 5), unless told.
    assert strides == [4, 3]


def test_predict_on_the_model_dir_equals_the_python_api(trained, capsys):
    loaded = load_model_dir(trained["model"], compile=False)
    api = tag(loaded.model, loaded.tokenizer, TEXTS, loaded.label_names)
    assert [e["text"] for e in api[0]] == ["Grace Hopper", "Oslo"]
    assert [e["type"] for e in api[1]] == ["LOC", "PER", "PER"]
    capsys.readouterr()
    assert main("predict", "--model", trained["model"], "--json", *TEXTS) == 0
    cli = json.loads(capsys.readouterr().out)
    assert_same_entities([result["entities"] for result in cli], api)


@pytest.mark.slow
def test_exported_model_in_a_fresh_process_finds_the_same_entities(trained, capsys):
    saved = trained["root"] / "saved"
    assert main("export", "--model", trained["model"], "--output", saved) == 0
    result = run_cli("predict", "--saved-model", str(saved), "--json", *TEXTS)
    assert result.returncode == 0, result.stderr
    loaded = load_model_dir(trained["model"], compile=False)
    api = tag(loaded.model, loaded.tokenizer, TEXTS, loaded.label_names)
    assert_same_entities([r["entities"] for r in json.loads(result.stdout)], api)


def test_a_bad_tag_is_one_error_line(trained, tmp_path, capsys):
    bad = tmp_path / "bad.conll"
    bad.write_text("Ada B-PER\nLondon LOCATION\n")
    assert main("evaluate", "--model", trained["model"], "--data", bad) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {bad}:2: unknown tag 'LOCATION'; expected one of ['O', ")
    assert error.count("\n") == 1
