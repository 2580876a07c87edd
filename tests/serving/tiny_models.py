"""Tiny model directories for the serving and CLI tests (seconds to build and export)."""

import os

import keras

from keras_bert_impl import BertClassifier, BertConfig, BertPretrainer, bert_backbone
from keras_bert_impl.model_dir import save_model_dir

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "film", "was", "is",
    "good", "bad", "great", "it", "and", ".", ",", "!", "?", "##s", "##ed", "##ing",
]
LABELS = ["negative", "neutral", "positive"]
SEQ_LEN = 128  # the recorded training length; max_position_embeddings is 512


def make_tiny_model_dir(path, kind, seed=0, seq_len=SEQ_LEN, pooling="pooled", num_layers=2):
    """Saves a randomly initialised tiny "classifier" (reading `pooling`) or "pretrainer" at `path`.

    `num_layers=1` makes exporting and loading it quicker (less to trace).
    """
    keras.utils.set_random_seed(seed)
    os.makedirs(path, exist_ok=True)
    vocab_file = os.path.join(os.path.dirname(path), "vocab.txt")
    with open(vocab_file, "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")
    config = BertConfig.preset(
        "bert_tiny", vocab_size=len(VOCAB), num_layers=num_layers, hidden_size=32, num_heads=2,
        intermediate_size=64,
    )
    if kind == "classifier":
        model = BertClassifier(bert_backbone(config), num_classes=len(LABELS), pooling=pooling)
        labels = LABELS
    else:
        model = BertPretrainer(bert_backbone(config))
        labels = None
    save_model_dir(path, model, vocab_file, lowercase=True, seq_len=seq_len, label_names=labels)
    return path
