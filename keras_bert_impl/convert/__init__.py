"""Checkpoint interop: one module per format."""

from keras_bert_impl.convert.google import load_google_checkpoint, save_google_checkpoint
from keras_bert_impl.convert.huggingface import (
    load_huggingface,
    load_huggingface_pretrainer,
    save_huggingface,
)
