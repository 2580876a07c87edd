"""BERT for Keras 3 on TensorFlow.

The public names are re-exported here (see the README for a tour):

>>> import keras_bert_impl as kbi
>>> kbi.BertConfig.preset("bert_tiny").num_layers
2

They load on first use (PEP 562 `__getattr__`), so importing the package
or `keras_bert_impl.cli` does not import TensorFlow: `train_tf.py --help`
answers at once. To add a public name, add it under its module in
`_EXPORTS`; `tests/test_public_api.py` checks that each one imports and that
the README's code uses only names that do.
"""

import importlib
import os

# Keras reads the backend once, at import; this package is TensorFlow-only.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

_EXPORTS = {
    "keras_bert_impl.config": ("PRESETS", "BertConfig"),
    "keras_bert_impl.models": (
        "BertBackbone",
        "BertClassifier",
        "BertPretrainer",
        "BertQuestionAnswerer",
        "BertTokenClassifier",
        "bert_backbone",
    ),
    "keras_bert_impl.text": ("Tokenizer", "SegmentPacker", "MlmMasker", "learn_vocab"),
    "keras_bert_impl.model_dir": ("ModelDir", "load_model_dir", "save_model_dir"),
    "keras_bert_impl.inference": ("classify", "embed", "fill_mask", "tag"),
    "keras_bert_impl.explanations": ("explain",),
    "keras_bert_impl.explanation_views": ("explanation_html", "format_explanation"),
    "keras_bert_impl.serving": ("export_saved_model",),
    "keras_bert_impl.convert": (
        "load_huggingface",
        "load_huggingface_pretrainer",
        "save_huggingface",
        "load_google_checkpoint",
        "save_google_checkpoint",
        "from_keras_hub",
        "load_keras_hub_preset",
        "save_keras_hub_preset",
        "to_keras_hub",
        "load_google_task",
        "load_huggingface_task",
        "huggingface_label_names",
        "save_huggingface_task",
    ),
    "keras_bert_impl.training.optimization": ("WarmupLinearDecay", "create_optimizer"),
    "keras_bert_impl.tasks.qa_features": ("SpanSettings",),
    "keras_bert_impl.tasks.question_answering": ("answer_questions",),
    "keras_bert_impl.tasks.squad_metrics": ("squad_scores",),
    "keras_bert_impl.data.squad": ("squad_examples",),
    "keras_bert_impl.text.windows": ("make_windows",),
    "keras_bert_impl.data.packing": ("pack_examples", "packing_efficiency"),
}

_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'keras_bert_impl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
