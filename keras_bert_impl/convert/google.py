"""Original Google BERT checkpoints (the TF1 release format) <-> Keras.

A release folder such as `uncased_L-12_H-768_A-12/` holds:

```
bert_config.json                    sizes, same keys as Hugging Face config.json
vocab.txt                           WordPiece vocabulary
bert_model.ckpt.index               TF1 checkpoint (tf.train.Saver, V2 format)
bert_model.ckpt.data-00000-of-00001
```

The checkpoint names tensors after the TF1 variable scopes of Google's
`modeling.py` (`bert/encoder/layer_0/attention/self/query/kernel`, ...);
`google_scheme()` describes them and `bert_layout` maps every one explicitly
(the full table is in docs/CONVERT.md). Checkpoints saved during training
also hold optimizer slots (`.../adam_m`, `.../adam_v`) and `global_step`;
they are skipped. Any other name that no mapping uses is an error.

Example:

>>> pretrainer = load_google_checkpoint("uncased_L-12_H-768_A-12")  # doctest: +SKIP
>>> backbone = load_google_checkpoint("uncased_L-12_H-768_A-12",
...                                   heads=False)  # doctest: +SKIP
"""

import os
import re
import shutil
import warnings

import numpy as np
import tensorflow as tf

from keras_bert_impl.config import BertConfig
from keras_bert_impl.convert.bert_layout import NamingScheme, model_mappings
from keras_bert_impl.convert.tensor_mapping import assign_from_tensors, tensors_from_keras
from keras_bert_impl.io_utils import atomic_path
from keras_bert_impl.models import BertPretrainer, bert_backbone

CONFIG_FILE = "bert_config.json"
VOCAB_FILE = "vocab.txt"
CHECKPOINT_PREFIX = "bert_model.ckpt"
_NSP_KERNEL = "cls/seq_relationship/output_weights"
_MLM_PREFIX = "cls/predictions/"

# Training state that TF1 BERT checkpoints carry beside the weights.
_OPTIMIZER_SLOT = re.compile(r"(/adam_[mv]|/Adam(_1)?)$")
_NON_WEIGHTS = ("global_step",)


def google_scheme():
    """The naming of original Google BERT checkpoints.

    TF1 dense kernels are stored `[in, out]` like Keras, embeddings have no
    suffix, and the NSP layer is a bare `output_weights` matrix `[2, hidden]`.
    """
    return NamingScheme(
        separator="/",
        encoder_root="bert",
        layer_name="encoder/layer_{}",
        kernel_suffix="/kernel",
        bias_suffix="/bias",
        gamma_suffix="/gamma",
        beta_suffix="/beta",
        embedding_suffix="",
        kernels_transposed=False,
        mlm_output_bias="predictions/output_bias",
        nsp_kernel="seq_relationship/output_weights",
        nsp_bias="seq_relationship/output_bias",
    )


def find_checkpoint(path):
    """Returns the checkpoint prefix in a release folder (or `path` itself).

    Accepts the folder, or a prefix such as `.../bert_model.ckpt` or
    `.../model.ckpt-100000` (a pretraining run's output).
    """
    if os.path.isdir(path):
        prefix = os.path.join(path, CHECKPOINT_PREFIX)
        if os.path.exists(prefix + ".index"):
            return prefix
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        raise FileNotFoundError(
            f"{path}: no {CHECKPOINT_PREFIX}.index (nor a 'checkpoint' file naming "
            f"another prefix); files present: {sorted(os.listdir(path))}."
        )
    if os.path.exists(path + ".index"):
        return path
    raise FileNotFoundError(
        f"Google BERT checkpoint not found: {path} (expected a folder with "
        f"{CHECKPOINT_PREFIX}.index or a checkpoint prefix)."
    )


def read_google_tensors(prefix):
    """Reads the weights of a TF1 checkpoint, without optimizer state.

    Returns:
        dict of variable name -> float32 numpy array.
    """
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
        raise ValueError(f"{prefix}: not a readable TensorFlow checkpoint ({e}).") from None
    return {
        name: np.asarray(reader.get_tensor(name), dtype="float32")
        for name in reader.get_variable_to_shape_map()
        if name not in _NON_WEIGHTS and not _OPTIMIZER_SLOT.search(name)
    }


def find_config_file(path, prefix):
    """The `bert_config.json` of a Google checkpoint.

    Args:
        path: the folder (or checkpoint path) the user gave.
        prefix: the checkpoint prefix `find_checkpoint` found in it.

    Returns:
        The config file's path: in `path`, else beside the checkpoint.

    Raises:
        FileNotFoundError: there is none in either place.
    """
    for folder in (path, os.path.dirname(prefix)):
        file = os.path.join(folder, CONFIG_FILE)
        if os.path.isfile(file):
            return file
    raise FileNotFoundError(
        f"{CONFIG_FILE} not found beside the checkpoint {prefix}; it holds the "
        "model sizes and comes with every Google BERT release."
    )


def load_google_checkpoint(path, heads=True, config=None):
    """Loads an original Google BERT checkpoint.

    Args:
        path: release folder (with `bert_config.json` and `bert_model.ckpt.*`)
            or a checkpoint prefix with `bert_config.json` in its folder.
        heads: True loads the heads the checkpoint has: a `BertPretrainer`
            with the MLM head and, when the checkpoint has
            `cls/seq_relationship/*`, the NSP head; a checkpoint without
            `cls/predictions/*` (an encoder-only one) gives the `BertBackbone`
            with a warning naming the missing head, as `load_huggingface`
            does. False returns the `BertBackbone` alone (the `cls/*` tensors
            are then skipped).
        config: a `BertConfig` to use instead of `bert_config.json`.

    Returns:
        A `BertPretrainer`, or a `BertBackbone` (`heads=False`, or no MLM
        head in the checkpoint).

    Raises:
        FileNotFoundError: the checkpoint or `bert_config.json` is missing.
        ValueError: listing the tensors that are missing, or that no mapping
            uses, or naming one whose shape does not fit.

    Example:

    >>> pretrainer = load_google_checkpoint("cased_L-12_H-768_A-12")  # doctest: +SKIP
    >>> pretrainer.nsp  # doctest: +SKIP
    True
    """
    prefix = find_checkpoint(path)
    if config is None:
        config = BertConfig.from_json_file(find_config_file(path, prefix))
    tensors = read_google_tensors(prefix)
    if heads and not any(name.startswith(_MLM_PREFIX) for name in tensors):
        warnings.warn(
            f"{prefix}: no masked-LM head (no {_MLM_PREFIX}* tensors); loading the "
            "BertBackbone alone. Its heads are missing, not trained: fine-tune it, or "
            "wrap it in a BertPretrainer whose new MLM head must be trained before use.",
            stacklevel=2,
        )
        heads = False
    backbone = bert_backbone(config)
    model = BertPretrainer(backbone, nsp=_NSP_KERNEL in tensors) if heads else backbone
    unused = assign_from_tensors(model_mappings(model, google_scheme()), tensors, prefix)
    if not heads:
        unused = [name for name in unused if not name.startswith("cls/")]
    if unused:
        raise ValueError(
            f"{prefix}: tensors that no BERT variable maps to: {unused}. Is this a "
            "BERT checkpoint with extra layers (a fine-tuned task head)?"
        )
    return model


def save_google_checkpoint(model, path, vocab_file=None):
    """Writes a backbone or pretrainer as a Google BERT release folder.

    Writes `bert_config.json`, `bert_model.ckpt.{index,data-00000-of-00001}`
    with the original variable names and, when given, `vocab.txt`, into a
    temporary folder renamed to `path` when complete. Google's `modeling.py`
    (and `load_google_checkpoint`) read it back.

    Args:
        model: a `BertBackbone` or `BertPretrainer`.
        path: the folder to create; it must not exist.
        vocab_file: the vocabulary to copy beside the weights.

    Example:

    >>> save_google_checkpoint(pretrainer, "exported_google/", "vocab.txt")  # doctest: +SKIP
    """
    if os.path.exists(path):
        raise FileExistsError(f"{path} already exists; choose a new folder.")
    backbone = getattr(model, "backbone", model)
    tensors = tensors_from_keras(model_mappings(model, google_scheme()))
    names = sorted(tensors)
    with atomic_path(path) as temp:
        os.makedirs(temp)
        # Hugging Face keys are Google's plus a few that its reader ignores.
        backbone.config.save_json_file(os.path.join(temp, CONFIG_FILE))
        # SaveV2 writes exactly the given names, as tf.compat.v1.train.Saver does.
        tf.raw_ops.SaveV2(
            prefix=os.path.join(temp, CHECKPOINT_PREFIX),
            tensor_names=names,
            shape_and_slices=[""] * len(names),
            tensors=[tf.constant(tensors[name]) for name in names],
        )
        if vocab_file:
            shutil.copyfile(vocab_file, os.path.join(temp, VOCAB_FILE))
    return path


def infer_lowercase(path):
    """Whether a Google release is uncased, from its folder name or vocabulary.

    Google names releases `uncased_*`, `cased_*`, `multi_cased_*`; when the
    name says neither, a vocabulary with no upper-case token (other than
    bracketed specials such as `[CLS]`) is taken as uncased.

    Example:

    >>> infer_lowercase("downloads/uncased_L-2_H-128_A-2")  # doctest: +SKIP
    True
    """
    name = os.path.basename(os.path.normpath(path)).lower()
    if "uncased" in name:
        return True
    if "cased" in name:
        return False
    vocab = os.path.join(path if os.path.isdir(path) else os.path.dirname(path), VOCAB_FILE)
    if not os.path.isfile(vocab):
        raise FileNotFoundError(
            f"{path}: cannot tell whether the model is cased: the folder name has "
            f"neither 'uncased' nor 'cased' and there is no {VOCAB_FILE}; pass "
            "--lowercase or --cased."
        )
    with open(vocab, encoding="utf-8") as f:
        return not any(
            token != token.lower() and not token.startswith("[")
            for token in (line.rstrip("\n") for line in f)
        )
