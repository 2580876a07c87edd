"""TF Serving export: versioned SavedModels with named text signatures and warmup requests."""

from keras_bert_impl.serving.export import (
    existing_versions,
    export_saved_model,
    next_version,
)
from keras_bert_impl.serving.signatures import ServingFunctions
from keras_bert_impl.serving.warmup import read_warmup_file, warmup_requests
