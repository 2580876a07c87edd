"""Fine-tuned checkpoints in: question answering and sequence classification heads.

A fine-tuned BERT checkpoint is the encoder plus one output layer, stored
`[outputs, hidden]` in both formats:

| format | question answering (2 outputs) | classification (num_labels) |
|---|---|---|
| Hugging Face | `qa_outputs.weight/bias` (`BertForQuestionAnswering`) | `classifier.weight/bias` (`BertForSequenceClassification`) |
| Google TF1 | `cls/squad/output_weights/output_bias` (`run_squad.py`) | `output_weights`, `output_bias` (`run_classifier.py`) |

The loaders find which head a checkpoint has and return a
`BertQuestionAnswerer` or a `BertClassifier` with every tensor mapped. Hugging
Face's `BertForQuestionAnswering` has no pooler; the QA model does not use it,
so it keeps its initial weights then.

Example:

>>> answerer = load_huggingface_task("bert-finetuned-squad/")  # doctest: +SKIP
>>> classifier = load_google_task("run_classifier_output/")  # doctest: +SKIP
"""

import os

from keras_bert_impl.config import BertConfig
from keras_bert_impl.convert import google, huggingface
from keras_bert_impl.convert.bert_layout import model_mappings, output_layer_mappings
from keras_bert_impl.convert.tensor_mapping import assign_from_tensors
from keras_bert_impl.models import BertClassifier, BertQuestionAnswerer, bert_backbone

# (kernel, bias) names of each format's heads.
_HUGGINGFACE_HEADS = {
    BertQuestionAnswerer: ("qa_outputs.weight", "qa_outputs.bias"),
    BertClassifier: ("classifier.weight", "classifier.bias"),
}
_GOOGLE_HEADS = {
    BertQuestionAnswerer: ("cls/squad/output_weights", "cls/squad/output_bias"),
    BertClassifier: ("output_weights", "output_bias"),
}
_HEAD_LAYERS = {BertQuestionAnswerer: "span_head", BertClassifier: "classification_head"}


def load_huggingface_task(path):
    """Loads a Hugging Face `BertForQuestionAnswering` or `BertForSequenceClassification`.

    Args:
        path: folder with `config.json` and the weights.

    Returns:
        A `BertQuestionAnswerer` or a `BertClassifier` (with as many classes as
        the checkpoint's `classifier.weight` has rows).
    """
    tensors = huggingface.read_huggingface_tensors(path)
    config = BertConfig.from_json_file(os.path.join(path, "config.json"))
    scheme = huggingface.huggingface_scheme(huggingface._encoder_root(tensors, path))
    return _load(tensors, config, scheme, _HUGGINGFACE_HEADS, path, ignored=huggingface._BUFFERS)


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
    config = config or BertConfig.from_json_file(google._config_file(path, prefix))
    tensors = google.read_google_tensors(prefix)
    return _load(tensors, config, google.google_scheme(), _GOOGLE_HEADS, prefix, ignored=())


def _load(tensors, config, scheme, heads, source, ignored):
    task = _find_head(tensors, heads, source)
    kernel_name, bias_name = heads[task]
    backbone = bert_backbone(config)
    if task is BertClassifier:
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
    if task is BertQuestionAnswerer:
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
