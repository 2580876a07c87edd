"""`train_tf.py prepare` writes shards that `pretrain --data` trains on."""

import json
import os

import pytest

from cli_support import read_json, run_cli

pytestmark = pytest.mark.slow

TINY = ["--preset", "bert_tiny", "--seq-len", "32", "--batch-size", "4"]


def test_prepare_then_pretrain_on_the_shards(tmp_path, corpus_file):
    pretrained = tmp_path / "vocab_source"
    first = run_cli("pretrain", "--corpus", corpus_file, "--vocab-size", "200", "--steps", "1",
                    "--output", str(pretrained), *TINY)
    assert first.returncode == 0, first.stderr[-3000:]
    data = tmp_path / "shards"
    prepared = run_cli("prepare", "--corpus", corpus_file, "--vocab", str(pretrained / "vocab.txt"),
                       "--output", str(data), "--seq-len", "32", "--nsp", "--num-shards", "2")
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    metadata = json.loads((data / "metadata.json").read_text())
    assert metadata["nsp"] and metadata["seq_len"] == 32 and metadata["examples"] > 4
    assert sorted(os.listdir(data)) == sorted(metadata["shards"] + ["metadata.json", "vocab.txt"])

    output = tmp_path / "run"
    trained = run_cli("pretrain", "--data", str(data), "--nsp", "--steps", "2",
                      "--checkpoint-every", "1", "--output", str(output), *TINY)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert len(read_json(output / "history.json")["nsp_loss"]) == 2

    mismatch = run_cli("pretrain", "--data", str(data), "--steps", "1", "--output",
                       str(tmp_path / "bad"), *TINY)
    assert mismatch.returncode == 2
    assert "prepared with nsp=True" in mismatch.stderr
