"""Calls serving signatures in this process, from a SavedModel or a model directory.

`predict` and `fill-mask` accept either; both give the same signatures (see
`signatures.py`), so the commands do not care which they got.

Example:

>>> signatures = load_saved_model_signatures("saved_models/cls")  # doctest: +SKIP
>>> signatures("serving_default", text=["great film"])["label"]  # doctest: +SKIP
array([b'pos'], dtype=object)
"""

import os

import tensorflow as tf

# Registers the tensorflow-text ops the SavedModel's tokenizer uses.
import tensorflow_text  # noqa: F401

from keras_bert_impl.model_dir import load_model_dir
from keras_bert_impl.serving.export import existing_versions, read_export_labels
from keras_bert_impl.serving.signatures import (
    CLASSIFIER,
    PRETRAINER,
    QUESTION_ANSWERER,
    TOKEN_CLASSIFIER,
    ServingFunctions,
)


class LocalSignatures:
    """Named signatures called with numpy/list inputs, returning numpy outputs.

    Attributes:
        kind: "classifier", "token_classifier" or "pretrainer".
        source: the folder the signatures come from.
        names: signature names.
        label_names: a classifier's label names, index = label id.
    """

    def __init__(self, kind, source, functions, label_names=None, owner=None):
        self.kind = kind
        self.source = source
        self.label_names = label_names
        self._functions = functions
        # A loaded SavedModel's signatures hold only weak references to its
        # variables: keep the loaded object alive with them.
        self._owner = owner

    @property
    def names(self):
        return sorted(self._functions)

    def output_shape(self, name, output):
        """Static shape of one output, e.g. `fill_mask`'s `top_scores` (None for batch)."""
        return tuple(self._functions[name].structured_outputs[output].shape)

    def __call__(self, name, **inputs):
        if name not in self._functions:
            raise ValueError(
                f"{self.source} has no signature {name!r} (it has {self.names})."
            )
        function = self._functions[name]
        tensors = {key: tf.constant(value) for key, value in inputs.items()}
        return {key: value.numpy() for key, value in function(**tensors).items()}


def load_model_dir_signatures(path, **sizes):
    """The signatures a model directory would be exported with.

    Args:
        path: a model directory.
        **sizes: `seq_len`, `max_masks`, `top_k` for `ServingFunctions`.
    """
    serving = ServingFunctions(load_model_dir(path, compile=False), **sizes)
    functions = {name: serving.function(name).get_concrete_function() for name in serving.signatures}
    return LocalSignatures(serving.kind, path, functions, serving.label_names, owner=serving)


def load_saved_model_signatures(path):
    """The signatures of an export: a version folder, or a base path (latest version).

    Raises:
        FileNotFoundError: no SavedModel at `path` nor in a version under it.
        ValueError: a SavedModel that this package did not export.
    """
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        versions = existing_versions(path)
        if not versions:
            raise FileNotFoundError(
                f"No SavedModel at {path}: expected saved_model.pb there or in a "
                "numbered version folder under it (saved_models/NAME/1)."
            )
        path = os.path.join(path, str(versions[-1]))
    loaded = tf.saved_model.load(path)
    signatures = dict(loaded.signatures)
    if "fill_mask" in signatures:
        kind = PRETRAINER
    elif "question" in signatures["serving_default"].structured_input_signature[1]:
        kind = QUESTION_ANSWERER
    elif "tag_words" in signatures:
        kind = TOKEN_CLASSIFIER
    elif "predict_ids" in signatures:
        kind = CLASSIFIER
    else:
        raise ValueError(
            f"{path}: signatures {sorted(signatures)} are not those of a "
            "keras_bert_impl export (expected fill_mask or predict_ids)."
        )
    label_names = None
    if kind in (CLASSIFIER, TOKEN_CLASSIFIER):
        label_names = read_export_labels(path)
    return LocalSignatures(kind, path, signatures, label_names, owner=loaded)
