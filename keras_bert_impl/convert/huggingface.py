"""Hugging Face BERT checkpoints (`config.json` + safetensors or `.bin`) <-> Keras.

Reading safetensors needs only the `safetensors` package, a dependency of
this one; `pytorch_model.bin` files are pickled torch tensors and need
`torch`, which the `convert` extra adds: `pip install -e ".[convert]"`.

Example:

>>> backbone = load_huggingface("downloads/bert-base-uncased")  # doctest: +SKIP
>>> save_huggingface(backbone, "exported/", vocab_file="vocab.txt")  # doctest: +SKIP
"""

import json
import os
import shutil
import warnings

import numpy as np

from keras_bert_impl.config import BertConfig
from keras_bert_impl.convert.bert_layout import NamingScheme, model_mappings
from keras_bert_impl.convert.tensor_mapping import assign_from_tensors, tensors_from_keras
from keras_bert_impl.io_utils import atomic_path, write_text_atomically
from keras_bert_impl.models import BertPretrainer, bert_backbone

_CONFIG = "config.json"
_SAFETENSORS = "model.safetensors"
_SAFETENSORS_INDEX = "model.safetensors.index.json"
_TORCH_BIN = "pytorch_model.bin"

# Buffers that transformers stores beside the weights; they carry no weights.
NON_WEIGHT_BUFFERS = ("embeddings.position_ids",)


def huggingface_scheme(encoder_root):
    """The Hugging Face naming of BERT tensors (`bert.` prefix or none)."""
    return NamingScheme(
        separator=".",
        encoder_root=encoder_root,
        layer_name="encoder.layer.{}",
        kernel_suffix=".weight",
        bias_suffix=".bias",
        gamma_suffix=".weight",
        beta_suffix=".bias",
        embedding_suffix=".weight",
        kernels_transposed=True,
        mlm_output_bias="predictions.bias",
        nsp_kernel="seq_relationship.weight",
        nsp_bias="seq_relationship.bias",
    )


def read_huggingface_tensors(path):
    """Reads every tensor of a local Hugging Face checkpoint folder.

    Handles `model.safetensors`, sharded safetensors (with their index) and
    `pytorch_model.bin`. Old LayerNorm names (`gamma`/`beta`) are renamed to
    the current ones (`weight`/`bias`).

    Returns:
        dict of tensor name -> float32 numpy array.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Hugging Face checkpoint folder not found: {path}")
    files = set(os.listdir(path))
    if _SAFETENSORS in files:
        tensors = _read_safetensors(os.path.join(path, _SAFETENSORS))
    elif _SAFETENSORS_INDEX in files:
        with open(os.path.join(path, _SAFETENSORS_INDEX), encoding="utf-8") as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        tensors = {}
        for shard in shards:
            tensors.update(_read_safetensors(os.path.join(path, shard)))
    elif _TORCH_BIN in files:
        tensors = _read_torch_bin(os.path.join(path, _TORCH_BIN))
    else:
        raise FileNotFoundError(
            f"{path}: no {_SAFETENSORS}, {_SAFETENSORS_INDEX} or {_TORCH_BIN} found "
            f"(files present: {sorted(files)})."
        )
    renamed = {}
    for name, array in tensors.items():
        if "LayerNorm.gamma" in name or "LayerNorm.beta" in name:
            name = name.replace("LayerNorm.gamma", "LayerNorm.weight")
            name = name.replace("LayerNorm.beta", "LayerNorm.bias")
        renamed[name] = np.asarray(array, dtype="float32")
    return renamed


def _read_safetensors(file):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise ImportError(
            f"Reading {file} needs the 'safetensors' package, a dependency of "
            "keras_bert_impl that is missing here: pip install safetensors"
        ) from None
    try:
        return load_file(file)
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"{file}: not a readable safetensors file ({e}).") from None


def _read_torch_bin(file):
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{file} is a PyTorch pickle and reading it needs torch, which is not "
            "installed: pip install -e \".[convert]\" (or convert the "
            "checkpoint to model.safetensors, which needs no torch)."
        ) from None
    state = torch.load(file, map_location="cpu", weights_only=True)
    return {name: tensor.float().numpy() for name, tensor in state.items()}


def find_encoder_root(tensors, path):
    """The name prefix of the encoder in a Hugging Face state dict.

    Checkpoints with heads (`BertForPreTraining`, `BertForSequenceClassification`...)
    keep the encoder under `bert.`; a bare `BertModel` keeps it at the top.

    Args:
        tensors: the checkpoint's tensors by name.
        path: the checkpoint folder, for the error message.

    Returns:
        `"bert"` or `""`.

    Raises:
        ValueError: neither layout's word embeddings are there.
    """
    if "bert.embeddings.word_embeddings.weight" in tensors:
        return "bert"
    if "embeddings.word_embeddings.weight" in tensors:
        return ""
    raise ValueError(
        f"{path}: no BERT word embeddings found (looked for "
        "'bert.embeddings.word_embeddings.weight' and "
        "'embeddings.word_embeddings.weight')."
    )


def _load(path, with_heads):
    config = BertConfig.from_json_file(os.path.join(path, _CONFIG))
    tensors = read_huggingface_tensors(path)
    root = find_encoder_root(tensors, path)
    backbone = bert_backbone(config)
    model = backbone
    if with_heads:
        has_nsp = "cls.seq_relationship.weight" in tensors
        model = BertPretrainer(backbone, nsp=has_nsp)
        if "cls.predictions.bias" not in tensors and "cls.predictions.decoder.bias" in tensors:
            tensors["cls.predictions.bias"] = tensors.pop("cls.predictions.decoder.bias")
    unused = assign_from_tensors(model_mappings(model, huggingface_scheme(root)), tensors, path)
    unused = [n for n in unused if not n.endswith(NON_WEIGHT_BUFFERS)]
    decoder = tensors.get("cls.predictions.decoder.weight")
    if with_heads and decoder is not None:
        unused.remove("cls.predictions.decoder.weight")
        if not np.allclose(decoder, backbone.token_embedding.embeddings.numpy(), atol=1e-6):
            raise ValueError(
                f"{path}: cls.predictions.decoder.weight differs from the word "
                "embeddings; this package ties them as BERT does."
            )
    if with_heads and "cls.predictions.decoder.bias" in unused:
        unused.remove("cls.predictions.decoder.bias")  # an alias of cls.predictions.bias
    if unused:
        warnings.warn(
            f"{path}: tensors not used by this model (heads it does not have): {unused}",
            stacklevel=3,
        )
    return model


def load_huggingface(path):
    """Loads the encoder of a local Hugging Face BERT folder as a `BertBackbone`.

    Every encoder tensor is mapped explicitly; a missing or mis-shaped one is a
    `ValueError` naming it. Tensors of heads (MLM, NSP, task heads) are named
    in a warning; use `load_huggingface_pretrainer` to keep the MLM/NSP heads.

    Args:
        path: folder with `config.json` and `model.safetensors` (or sharded
            safetensors, or `pytorch_model.bin`, which needs torch).

    Example:

    >>> backbone = load_huggingface("bert-base-uncased/")  # doctest: +SKIP
    """
    return _load(path, with_heads=False)


def load_huggingface_pretrainer(path):
    """Loads a Hugging Face BERT with its MLM (and NSP, if present) heads.

    Returns:
        A `BertPretrainer`; `nsp` is True when the checkpoint has
        `cls.seq_relationship.*` (a `BertForPreTraining` checkpoint).
    """
    return _load(path, with_heads=True)


def save_huggingface(model, path, vocab_file=None):
    """Writes a backbone or pretrainer as a Hugging Face BERT folder.

    Writes `config.json`, `model.safetensors` and, when given, `vocab.txt`,
    into a temporary sibling folder renamed to `path` when complete, so
    `transformers.BertForPreTraining.from_pretrained(path)` (or `BertModel`)
    loads it. A pretrainer's MLM (and NSP) heads are saved under `cls.*`.

    Args:
        model: a `BertBackbone` or `BertPretrainer`.
        path: the folder to create; it must not exist.
        vocab_file: the vocabulary to copy beside the weights.
    """
    from safetensors.numpy import save_file

    if os.path.exists(path):
        raise FileExistsError(f"{path} already exists; choose a new folder.")
    backbone = getattr(model, "backbone", model)
    tensors = tensors_from_keras(model_mappings(model, huggingface_scheme("bert")))
    if hasattr(model, "mlm_head"):
        tensors["cls.predictions.decoder.bias"] = tensors["cls.predictions.bias"]
    with atomic_path(path) as temp:
        os.makedirs(temp)
        config = backbone.config.to_huggingface_dict()
        if not getattr(model, "nsp", False):
            config["architectures"] = (
                ["BertForMaskedLM"] if hasattr(model, "mlm_head") else ["BertModel"]
            )
        write_text_atomically(
            os.path.join(temp, _CONFIG), json.dumps(config, indent=2) + "\n"
        )
        save_file(tensors, os.path.join(temp, _SAFETENSORS), metadata={"format": "pt"})
        if vocab_file:
            shutil.copyfile(vocab_file, os.path.join(temp, "vocab.txt"))
    return path
