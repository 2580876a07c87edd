"""Hugging Face BertForTokenClassification in and out: logits equal to transformers' to 1e-5, tags kept."""

import argparse
import json

import numpy as np

from support.hf import random_hf_model, torch, transformers
from support.parity import bert_batch, encoder_inputs, max_error
from test_google import HF_CONFIG

from keras_bert_impl import (
    BertTokenClassifier,
    huggingface_label_names,
    load_huggingface_task,
    save_huggingface_task,
)
from keras_bert_impl.cli import convert, run_guarded
from keras_bert_impl.model_dir import load_model_dir

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _logits(hf_model, batch):
    with torch.no_grad():
        return hf_model(
            input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
        ).logits.numpy()


def test_token_classifier_loads_with_its_tags_and_saves_back(tmp_path):
    id2label = dict(enumerate(TAGS))
    hf_model = random_hf_model(
        transformers.BertForTokenClassification,
        {**HF_CONFIG, "num_labels": len(TAGS), "id2label": id2label, "label2id": {v: k for k, v in id2label.items()}},
    )
    batch = bert_batch(HF_CONFIG["vocab_size"])
    expected = _logits(hf_model, batch)
    hf_model.save_pretrained(tmp_path / "hf")

    model = load_huggingface_task(str(tmp_path / "hf"))
    assert type(model) is BertTokenClassifier
    assert huggingface_label_names(str(tmp_path / "hf")) == TAGS
    assert max_error(model.predict_on_batch(encoder_inputs(batch)), expected) < 1e-5

    save_huggingface_task(model, str(tmp_path / "out"), label_names=TAGS)
    with open(tmp_path / "out" / "config.json") as f:
        assert json.load(f)["architectures"] == ["BertForTokenClassification"]
    reloaded = transformers.BertForTokenClassification.from_pretrained(tmp_path / "out").eval()
    assert reloaded.config.id2label == id2label
    np.testing.assert_allclose(_logits(reloaded, batch), expected, atol=1e-5)


def test_convert_cli_keeps_the_tags_both_ways(tmp_path):
    hf_model = random_hf_model(
        transformers.BertForTokenClassification,
        {**HF_CONFIG, "num_labels": len(TAGS), "id2label": dict(enumerate(TAGS))},
    )
    hf_model.save_pretrained(tmp_path / "hf")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(HF_CONFIG["vocab_size"] - 5)]
    (tmp_path / "hf" / "vocab.txt").write_text("\n".join(vocab) + "\n")
    parser = argparse.ArgumentParser()
    convert.register(parser.add_subparsers())

    def run(*argv):
        args = parser.parse_args(["convert", *map(str, argv)])
        return run_guarded(args.run, args)

    assert run("--from", "hf", "--to", "keras", tmp_path / "hf", tmp_path / "dir") == 0
    loaded = load_model_dir(str(tmp_path / "dir"))
    assert type(loaded.model) is BertTokenClassifier and loaded.label_names == TAGS
    assert run("--from", "keras", "--to", "hf", tmp_path / "dir", tmp_path / "back") == 0
    reloaded = transformers.BertForTokenClassification.from_pretrained(tmp_path / "back").eval()
    batch = bert_batch(HF_CONFIG["vocab_size"])
    assert [reloaded.config.id2label[i] for i in range(len(TAGS))] == TAGS
    np.testing.assert_allclose(_logits(reloaded, batch), _logits(hf_model, batch), atol=1e-5)
