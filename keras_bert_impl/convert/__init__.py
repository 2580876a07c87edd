"""Checkpoint interop: one module per format."""

from keras_bert_impl.convert.huggingface import (
    load_huggingface,
    load_huggingface_pretrainer,
    save_huggingface,
)
