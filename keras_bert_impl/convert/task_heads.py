"""Fine-tuned checkpoints in: question answering, sequence and token classification heads.

A fine-tuned BERT checkpoint is the encoder plus one output layer, stored
`[outputs, hidden]` in both formats:

| format | question answering (2 outputs) | classification (num_labels) |
|---|---|---|
| Hugging Face | `qa_outputs.weight/bias` (`BertForQuestionAnswering`) | `classifier.weight/bias` (`BertForSequenceClassification`) |
| Google TF1 | `cls/squad/output_weights/output_bias` (`run_squad.py`) | `output_weights`, `output_bias` (`run_classifier.py`) |

The loaders find which head a checkpoint has and return a
`BertQuestionAnswerer` or a `BertClassifier` with every tensor mapped. Hugging
Face's `BertForTokenClassification` stores its head under the same
`classifier.*` names; its `config.json` `architectures` tells it apart, and
it loads as a `BertTokenClassifier`, its tag names in `id2label`
(`huggingface_label_names`); `save_huggingface_task` writes one back.
Hugging Face's `BertForQuestionAnswering` and `BertForTokenClassification`
have no pooler; those models do not use it, so it keeps its initial weights.

Example:

>>> answerer = load_huggingface_task("bert-finetuned-squad/")  # doctest: +SKIP
>>> classifier = load_google_task("run_classifier_output/")  # doctest: +SKIP
"""

import json
import os
import shutil

import tensorflow as tf

from keras_bert_impl.config import BertConfig
from keras_bert_impl.convert import google, huggingface
from keras_bert_impl.convert.bert_layout import model_mappings, output_layer_mappings
from keras_bert_impl.convert.tensor_mapping import assign_from_tensors, tensors_from_keras
from keras_bert_impl.io_utils import atomic_path, write_text_atomically
from keras_bert_impl.models import (
    BertClassifier,
    BertQuestionAnswerer,
    BertTokenClassifier,
    bert_backbone,
)

# (kernel, bias) names of each format's heads.
_HUGGINGFACE_HEADS = {
    BertQuestionAnswerer: ("qa_outputs.weight", "qa_outputs.bias"),
    BertClassifier: ("classifier.weight", "classifier.bias"),
}
_GOOGLE_HEADS = {
    BertQuestionAnswerer: ("cls/squad/output_weights", "cls/squad/output_bias"),
    BertClassifier: ("output_weights", "output_bias"),
}
_HEAD_LAYERS = {
    BertQuestionAnswerer: "span_head",
    BertClassifier: "classification_head",
    BertTokenClassifier: "token_classification_head",
}
_HUGGINGFACE_ARCHITECTURES = {
    BertQuestionAnswerer: "BertForQuestionAnswering",
    BertClassifier: "BertForSequenceClassification",
    BertTokenClassifier: "BertForTokenClassification",
}


def load_huggingface_task(path):
    """Loads a Hugging Face `BertForQuestionAnswering`, `BertForSequenceClassification`
    or `BertForTokenClassification`.

    Args:
        path: folder with `config.json` and the weights.

    Returns:
        A `BertQuestionAnswerer`, `BertClassifier` or `BertTokenClassifier`
        (with as many classes as the checkpoint's `classifier.weight` has
        rows); `huggingface_label_names(path)` gives the label names.
    """
    tensors = huggingface.read_huggingface_tensors(path)
    config = BertConfig.from_json_file(os.path.join(path, "config.json"))
    scheme = huggingface.huggingface_scheme(huggingface.find_encoder_root(tensors, path))
    token_level = _HUGGINGFACE_ARCHITECTURES[BertTokenClassifier] in _read_config(path).get("architectures", [])
    return _load(
        tensors, config, scheme, _HUGGINGFACE_HEADS, path, ignored=huggingface.NON_WEIGHT_BUFFERS, token_level=token_level
    )


def huggingface_label_names(path):
    """The label names of a Hugging Face task folder (`id2label`, by id), or None."""
    id2label = _read_config(path).get("id2label")
    if not id2label:
        return None
    return [id2label[key] for key in sorted(id2label, key=int)]


def save_huggingface_task(model, path, vocab_file=None, label_names=None):
    """Writes a task model as a Hugging Face `BertFor...` folder `transformers` loads.

    Args:
        model: a `BertTokenClassifier`, `BertClassifier` or `BertQuestionAnswerer`.
        path: the folder to create; it must not exist.
        vocab_file: the vocabulary to copy beside the weights.
        label_names: written as `id2label` / `label2id` (classifiers).
    """
    from safetensors.numpy import save_file

    if os.path.exists(path):
        raise FileExistsError(f"{path} already exists; choose a new folder.")
    if isinstance(model, BertClassifier) and model.pooling != "pooled":
        raise ValueError(
            f"A classifier with pooling={model.pooling!r} has no Hugging Face form: "
            "BertForSequenceClassification reads the pooled [CLS] output. Export it as a SavedModel."
        )
    task = type(model)
    # Token and sequence classifiers share the `classifier.*` names.
    kernel_name, bias_name = _HUGGINGFACE_HEADS[BertClassifier if task is BertTokenClassifier else task]
    head = model.get_layer(_HEAD_LAYERS[task]).dense
    mappings = model_mappings(model, huggingface.huggingface_scheme("bert"))
    if task is not BertClassifier:  # transformers builds these without a pooler
        mappings = [m for m in mappings if "pooler" not in m.sources[0]]
    tensors = tensors_from_keras(mappings + output_layer_mappings(head, kernel_name, bias_name))
    config = {**model.backbone.config.to_huggingface_dict(), "architectures": [_HUGGINGFACE_ARCHITECTURES[task]]}
    if label_names is not None:
        config["id2label"] = {str(i): name for i, name in enumerate(label_names)}
        config["label2id"] = {name: i for i, name in enumerate(label_names)}
    with atomic_path(path) as temp:
        os.makedirs(temp)
        write_text_atomically(os.path.join(temp, "config.json"), json.dumps(config, indent=2) + "\n")
        save_file(tensors, os.path.join(temp, "model.safetensors"), metadata={"format": "pt"})
        if vocab_file:
            shutil.copyfile(vocab_file, os.path.join(temp, "vocab.txt"))
    return path


def _read_config(path):
    file = os.path.join(path, "config.json")
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{file}: not valid JSON ({e}).") from None


def load_google_task(path, config=None):
    """Loads an original Google `run_squad.py` or `run_classifier.py` checkpoint.

    Args:
        path: the output folder (or checkpoint prefix) of the fine-tuning run,
            with `bert_config.json` beside it.
        config: a `BertConfig` to use instead of `bert_config.json`.

    Returns:
        A `BertQuestionAnswerer` or a `BertClassifier`.
    """
    prefix = google.find_checkpoint(path)
    config = config or BertConfig.from_json_file(google.find_config_file(path, prefix))
    tensors = google.read_google_tensors(prefix)
    return _load(tensors, config, google.google_scheme(), _GOOGLE_HEADS, prefix, ignored=())


def has_google_task_head(path):
    """Whether a Google checkpoint holds a `run_squad.py` / `run_classifier.py` head."""
    names = tf.train.load_checkpoint(google.find_checkpoint(path)).get_variable_to_shape_map()
    return any(kernel in names for kernel, _ in _GOOGLE_HEADS.values())


def has_huggingface_task_head(path):
    """Whether a Hugging Face folder holds a `qa_outputs` or `classifier` head."""
    tensors = huggingface.read_huggingface_tensors(path)
    return any(kernel in tensors for kernel, _ in _HUGGINGFACE_HEADS.values())


def _load(tensors, config, scheme, heads, source, ignored, token_level=False):
    task = _find_head(tensors, heads, source)
    kernel_name, bias_name = heads[task]
    backbone = bert_backbone(config)
    if task is BertClassifier and token_level:
        task = BertTokenClassifier
        model = BertTokenClassifier(backbone, num_classes=int(tensors[kernel_name].shape[0]))
    elif task is BertClassifier:
        num_classes = tensors[kernel_name].shape[0]
        if num_classes < 2:
            raise ValueError(
                f"{source}: {kernel_name} has {num_classes} output; a one-output "
                "(regression) head is not a classifier this package loads."
            )
        model = BertClassifier(backbone, num_classes=int(num_classes))
    else:
        model = BertQuestionAnswerer(backbone)
    mappings = model_mappings(model, scheme)
    if task is not BertClassifier:
        mappings = [m for m in mappings if "pooler" not in m.sources[0] or m.sources[0] in tensors]
    head = model.get_layer(_HEAD_LAYERS[task]).dense
    mappings += output_layer_mappings(head, kernel_name, bias_name)
    unused = [name for name in assign_from_tensors(mappings, tensors, source) if not name.endswith(ignored)]
    if unused:
        raise ValueError(f"{source}: tensors that no variable of a {task.__name__} maps to: {unused}")
    return model


def _find_head(tensors, heads, source):
    found = [task for task, (kernel, _) in heads.items() if kernel in tensors]
    if len(found) != 1:
        raise ValueError(
            f"{source}: expected exactly one task head, one of "
            f"{[kernel for kernel, _ in heads.values()]}; found {len(found)}. For an encoder "
            "alone or with pretraining heads, use load_huggingface / load_google_checkpoint."
        )
    return found[0]
