"""Question answering through train_tf.py: finetune, evaluate, predict, export; the
Python API, the CLI and the fresh-process SavedModel give the same answers."""

import argparse
import dataclasses
import json
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_bert_impl import BertConfig, BertQuestionAnswerer, bert_backbone
from keras_bert_impl.model_dir import load_model_dir, save_model_dir
from keras_bert_impl.tasks import question_answering as qa

from cli_support import read_json, run_in_process as _run

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "tasks"))
from qa_synthetic import FILLER, VOCAB, squad_json  # noqa: E402

SIZES = ["--seq-len", "64", "--doc-stride", "48", "--max-query-length", "8", "--max-answer-length", "4"]


@pytest.mark.slow
def test_finetune_evaluate_predict_export_agree(tmp_path, capsys):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    train = squad_json(tmp_path / "train.json", 40, seed=1, unanswerable_every=4)
    dev = squad_json(tmp_path / "dev.json", 12, seed=2, unanswerable_every=4)
    model_dir = str(tmp_path / "qa_model")
    assert _run("finetune", "--train", train, "--eval", dev, "--vocab", str(vocab), "--epochs", "1",
                "--batch-size", "16", "--output", model_dir, *SIZES) == 0
    metrics = read_json(os.path.join(model_dir, "metrics.json"))
    assert {"exact_match", "f1", "HasAns_f1", "NoAns_f1", "best_f1_threshold"} <= set(metrics)
    stored = read_json(os.path.join(model_dir, qa.SETTINGS_FILE))
    assert stored["null_threshold"] == metrics["best_f1_threshold"] and stored["doc_stride"] == 48
    assert metrics["threshold"] == 0.0  # nothing stored before finetune ends

    evaluated = tmp_path / "evaluated.json"
    assert _run("evaluate", "--model", model_dir, "--data", dev, "--output", str(evaluated), *SIZES) == 0
    # evaluate scores at the stored (best-F1) threshold.
    assert read_json(evaluated)["threshold"] == stored["null_threshold"]
    assert read_json(evaluated)["f1"] == pytest.approx(metrics["best_f1"])

    long_context = " ".join(FILLER[i % 20] for i in range(10_000)) + " a1 b2 Café."
    context_file = tmp_path / "context.txt"
    context_file.write_text(long_context, encoding="utf-8")
    capsys.readouterr()
    assert _run("predict", "--model", model_dir, "--question", "What is the code?",
                "--context-file", str(context_file), "--json") == 0
    from_cli = json.loads(capsys.readouterr().out)
    assert long_context[from_cli["start_char"]:from_cli["end_char"]] == from_cli["answer"]

    loaded = load_model_dir(model_dir, compile=False)
    settings, threshold = qa.read_settings(model_dir, loaded.seq_len)
    questions = ["What is the code?", ""]
    contexts = [long_context, "w1 a0 b1"]
    from_api = qa.answer_questions(loaded.model, loaded.tokenizer, questions, contexts, settings, threshold)
    assert {k: from_api[0][k] for k in ("answer", "start_char", "end_char")} == {
        k: from_cli[k] for k in ("answer", "start_char", "end_char")}
    assert from_api[0]["score"] == pytest.approx(from_cli["score"], abs=1e-4)

    export_dir = str(tmp_path / "saved" / "qa")
    assert _run("export", "--model", model_dir, "--output", export_dir) == 0
    version = os.path.join(export_dir, "1")
    requests = {"exports": [version], "cases": [
        (version, "serving_default", {"question": np.array(questions, object), "context": np.array(contexts, object)}),
    ]}
    (tmp_path / "requests.pkl").write_bytes(pickle.dumps(requests))
    subprocess.run([sys.executable, os.path.join(TESTS, "serving", "run_exports_fresh.py"),
                    str(tmp_path / "requests.pkl"), str(tmp_path / "results.pkl")], check=True, timeout=300)
    results = pickle.loads((tmp_path / "results.pkl").read_bytes())
    assert not results["imported_package"]
    served = results["outputs"][0]
    for row, api in enumerate(from_api):
        assert served["answer"][row].decode() == api["answer"]
        assert (int(served["start_char"][row]), int(served["end_char"][row])) == (api["start_char"], api["end_char"])
        assert float(served["score"][row]) == pytest.approx(api["score"], abs=1e-4)
    assert sorted(results["signatures"][version]) == ["embed", "predict_ids", "serving_default"]


def test_a_folder_as_context_file_is_one_error_line(tmp_path, capsys):
    status = _run("predict", "--model", str(tmp_path / "qa_model"), "--question", "What?",
                  "--context-file", str(tmp_path))
    assert status == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: [Errno 21] Is a directory: '{tmp_path}'"]


def test_evaluate_windows_as_stored_with_the_model_unless_given_flags(tmp_path, monkeypatch):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    keras.utils.set_random_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    model_dir = str(tmp_path / "qa_model")
    save_model_dir(model_dir, BertQuestionAnswerer(bert_backbone(config)), str(vocab), lowercase=True, seq_len=24)
    trained_with = argparse.Namespace(seq_len=24, doc_stride=5, max_query_length=6, max_answer_length=3, n_best=4)
    for name, content in qa.model_files({}, trained_with).items():  # as finetune saves them
        (tmp_path / "qa_model" / name).write_text(json.dumps(content))
    settings = []

    def spy(model, tokenizer, questions, contexts, span_settings, *args, **kwargs):
        # Only the settings are under test: no answers, no inference.
        settings.append(dataclasses.asdict(span_settings))
        return [{"answer": "", "no_answer_score": 0.0}] * len(questions)

    monkeypatch.setattr(qa, "answer_questions", spy)
    dev = squad_json(tmp_path / "dev.json", 3, seed=2, max_words=30)
    assert _run("evaluate", "--model", model_dir, "--data", dev, "--doc-stride", "7") == 0
    # The flag given wins; the others are the model's, not SQuAD's defaults.
    assert settings == [{**vars(trained_with), "doc_stride": 7}]
