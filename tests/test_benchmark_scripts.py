"""Benchmark scripts checked where CI runs: gpu.sh on CPU at toy sizes, the QA benchmark's data."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPU_SCRIPT = os.path.join(REPO, "benchmarks", "gpu.sh")


def test_gpu_script_is_valid_bash():
    subprocess.run(["bash", "-n", GPU_SCRIPT], check=True)


def test_gpu_script_runs_at_toy_sizes(tmp_path):
    # The xla mode is left out to keep CI short: the packed mode compiles with XLA too.
    subprocess.run(
        ["bash", GPU_SCRIPT, "--skip-install", "--out", str(tmp_path), "--tiny", "--modes", "graph,packed"],
        check=True, env={**os.environ, "PYTHON": sys.executable}, capture_output=True,
    )
    with open(tmp_path / "gpu.json") as f:
        results = json.load(f)
    assert results["peak_gflops"] > 0
    graph, packed = results["rows"]
    assert graph["mode"] == "graph" and graph["batch_size"] == 8
    assert graph["sequences_per_s"] > 0 and graph["mfu"] > 0
    # Packed rows run where the package has packed inputs, and say why not elsewhere.
    assert packed["mode"] == "packed"
    assert packed.get("sequences_per_s", 0) > 0 or "no packed inputs" in packed["unavailable"]
    assert "| bert_tiny | graph" in (tmp_path / "gpu.log").read_text()


def test_qa_benchmark_questions_point_at_their_answers(tmp_path):
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    import qa_finetune

    train_file, eval_file, counts = qa_finetune.write_squad_files(str(tmp_path), 40)
    pages = {}
    for split, path in (("train", train_file), ("eval", eval_file)):
        with open(path, encoding="utf-8") as f:
            pages[split] = json.load(f)["data"][0]["paragraphs"]
        assert sum(len(p["qas"]) for p in pages[split]) == counts[split] > 0
        for page in pages[split]:
            for question in page["qas"]:
                answer = question["answers"][0]
                start = answer["answer_start"]
                assert page["context"][start:start + len(answer["text"])] == answer["text"]
                assert page["context"].count(answer["text"]) == 1
    # Evaluation pages come from modules training never saw.
    modules = {split: {q["id"].split(".")[0] for p in pages[split] for q in p["qas"]} for split in pages}
    assert not modules["train"] & modules["eval"]
