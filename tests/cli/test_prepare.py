"""`train_tf.py prepare` writes shards that `pretrain --data` trains on."""

import json
import os

import pytest

from cli_support import read_json, run_in_process

pytestmark = pytest.mark.slow

TINY = ["--preset", "bert_tiny", "--num-layers", "1", "--seq-len", "32", "--batch-size", "4"]


def test_prepare_then_pretrain_on_the_shards(tmp_path, capsys, corpus_file):
    # Every word of the corpus is one vocabulary piece; which vocabulary does not matter here.
    vocab = tmp_path / "vocab.txt"
    words = sorted({w for line in open(corpus_file) for w in line.split()})
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    data = tmp_path / "shards"
    assert run_in_process("prepare", "--corpus", corpus_file, "--vocab", str(vocab), "--output", str(data),
                          "--seq-len", "32", "--nsp", "--num-shards", "2") == 0
    metadata = json.loads((data / "metadata.json").read_text())
    assert metadata["nsp"] and metadata["seq_len"] == 32 and metadata["examples"] > 4
    assert sorted(os.listdir(data)) == sorted(metadata["shards"] + ["metadata.json", "vocab.txt"])

    output = tmp_path / "run"
    assert run_in_process("pretrain", "--data", str(data), "--nsp", "--steps", "2",
                          "--checkpoint-every", "1", "--output", str(output), *TINY) == 0
    assert len(read_json(output / "history.json")["nsp_loss"]) == 2

    capsys.readouterr()
    assert run_in_process("pretrain", "--data", str(data), "--steps", "1", "--output",
                          str(tmp_path / "bad"), *TINY) == 2
    assert "prepared with nsp=True" in capsys.readouterr().err
