"""Checkpoint interop: one module per format."""

from keras_bert_impl.convert.google import load_google_checkpoint, save_google_checkpoint
from keras_bert_impl.convert.huggingface import (
    load_huggingface,
    load_huggingface_pretrainer,
    save_huggingface,
)
from keras_bert_impl.convert.keras_hub import (
    from_keras_hub,
    load_keras_hub_preset,
    save_keras_hub_preset,
    to_keras_hub,
)
from keras_bert_impl.convert.task_heads import (
    huggingface_label_names,
    load_google_task,
    load_huggingface_task,
    save_huggingface_task,
)
