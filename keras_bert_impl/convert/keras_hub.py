"""keras-hub BERT (`keras_hub.models.BertBackbone` / `BertMaskedLM`) <-> Keras.

Both are Keras 3 models, so conversion copies variables in memory; presets
are local folders written by keras-hub's `save_to_preset` (nothing is
downloaded). Every variable is mapped explicitly by its keras-hub path
(`transformer_layer_0/self_attention_layer/query/kernel`, ...); keras-hub
keeps query, key and value as three `[hidden, heads, head_size]` kernels,
which become this package's fused `[hidden, 3, heads, head_size]` kernel.

Numerics that differ between the two (docs/CONVERT.md has the measured sizes):

- keras-hub's encoder blocks use the tanh-approximate GELU, so a model
  converted from keras-hub gets `hidden_act="gelu_approximate"` and its
  backbone computes exactly what keras-hub computes. Converting an erf-GELU
  model (original BERT, Hugging Face) to keras-hub warns: keras-hub will
  compute the approximate GELU.
- keras-hub's masked-LM head uses the exact GELU and LayerNorm epsilon 1e-5,
  unlike its backbone; `from_keras_hub` builds the pretrainer's MLM head with
  the same choices (`mlm_hidden_act`, `mlm_layer_norm_eps`), so MLM logits
  match to 1.8e-7.
- keras-hub hard-codes LayerNorm epsilon 1e-12 in the backbone and one
  dropout rate; keras-hub has no NSP head, so NSP weights are dropped.

Example:

>>> import keras_hub  # doctest: +SKIP
>>> hub_model = keras_hub.models.BertMaskedLM.from_preset("my_preset_dir")  # doctest: +SKIP
>>> pretrainer = from_keras_hub(hub_model)  # doctest: +SKIP
>>> hub_again = to_keras_hub(pretrainer)  # doctest: +SKIP
"""

import json
import os
import warnings

import numpy as np

from keras_bert_impl.config import BertConfig
from keras_bert_impl.convert.tensor_mapping import (
    TensorMapping,
    assign_from_tensors,
    tensors_from_keras,
)
from keras_bert_impl.io_utils import atomic_path
from keras_bert_impl.models import BertPretrainer, bert_backbone

# keras-hub's fixed choices (keras_hub/src/models/bert/bert_backbone.py and
# its MaskedLMHead defaults as BertMaskedLM builds it).
KERAS_HUB_HIDDEN_ACT = "gelu_approximate"
KERAS_HUB_LAYER_NORM_EPS = 1e-12
KERAS_HUB_MLM_HIDDEN_ACT = "gelu"
KERAS_HUB_MLM_LAYER_NORM_EPS = 1e-5
PRESET_VOCAB_FILE = os.path.join("assets", "tokenizer", "vocabulary.txt")


def _keras_hub():
    try:
        import keras_hub
    except ImportError:
        raise ImportError(
            "Converting keras-hub models needs keras-hub: pip install keras-hub"
        ) from None
    return keras_hub


def _same(name, variable):
    return TensorMapping(variable, (name,))


def _dense(name, dense):
    return [_same(name + "/kernel", dense.kernel), _same(name + "/bias", dense.bias)]


def _layer_norm(name, layer_norm):
    return [_same(name + "/gamma", layer_norm.gamma), _same(name + "/beta", layer_norm.beta)]


def keras_hub_mappings(model):
    """Mappings of this package's variables onto keras-hub variable paths.

    Args:
        model: a `BertBackbone`, or a `BertPretrainer` (its MLM head maps to
            `mlm_head/*`; an NSP head has no keras-hub counterpart).
    """
    backbone = getattr(model, "backbone", model)
    embeddings = backbone.embeddings
    mappings = [
        _same("token_embedding/embeddings", embeddings.token_embedding.embeddings),
        _same("position_embedding/embeddings", embeddings.position_embeddings),
        _same("segment_embedding/embeddings", embeddings.segment_embedding.embeddings),
        *_layer_norm("embeddings_layer_norm", embeddings.layer_norm),
    ]
    for index, block in enumerate(backbone.encoder_layers):
        prefix = f"transformer_layer_{index}"
        attention = f"{prefix}/self_attention_layer"
        parts = ("query", "key", "value")
        mappings += [
            # keras-hub: three [hidden, heads, head_size] kernels; here one
            # [hidden, 3, heads, head_size] kernel.
            TensorMapping(
                block.attention.qkv_kernel,
                tuple(f"{attention}/{part}/kernel" for part in parts),
                lambda *kernels: np.stack(kernels, axis=1),
                lambda kernel: tuple(np.moveaxis(kernel, 1, 0)),
            ),
            TensorMapping(
                block.attention.qkv_bias,
                tuple(f"{attention}/{part}/bias" for part in parts),
                lambda *biases: np.stack(biases),
                lambda bias: tuple(bias),
            ),
            _same(f"{attention}/attention_output/kernel", block.attention.output_kernel),
            _same(f"{attention}/attention_output/bias", block.attention.output_bias),
            *_layer_norm(f"{prefix}/self_attention_layer_norm", block.attention_layer_norm),
            *_dense(f"{prefix}/feedforward_intermediate_dense", block.intermediate_dense),
            *_dense(f"{prefix}/feedforward_output_dense", block.output_dense),
            *_layer_norm(f"{prefix}/feedforward_layer_norm", block.output_layer_norm),
        ]
    mappings += _dense("pooled_dense", backbone.get_layer("pooler").dense)
    if hasattr(model, "mlm_head"):
        head = model.mlm_head
        mappings += [
            *_dense("mlm_head/intermediate_dense", head.transform_dense),
            *_layer_norm("mlm_head/intermediate_layer_norm", head.layer_norm),
            _same("mlm_head/output_bias", head.output_bias),
        ]
    return mappings


def _config_from_keras_hub(backbone):
    block = backbone.transformer_layers[0]
    activation = getattr(block.activation, "__name__", str(block.activation))
    if activation != KERAS_HUB_HIDDEN_ACT:
        raise ValueError(
            f"keras-hub BertBackbone {backbone.name!r}: activation {activation!r}, "
            f"expected {KERAS_HUB_HIDDEN_ACT!r} (the keras-hub BERT this converter knows)."
        )
    return BertConfig(
        vocab_size=backbone.vocabulary_size,
        hidden_size=backbone.hidden_dim,
        num_layers=backbone.num_layers,
        num_heads=backbone.num_heads,
        intermediate_size=backbone.intermediate_dim,
        max_position_embeddings=backbone.max_sequence_length,
        type_vocab_size=backbone.num_segments,
        hidden_dropout=backbone.dropout,
        attention_dropout=backbone.dropout,
        hidden_act=KERAS_HUB_HIDDEN_ACT,
        layer_norm_eps=block.layer_norm_epsilon,
    )


def from_keras_hub(hub_model):
    """Converts a keras-hub BERT into this package's model.

    Args:
        hub_model: a `keras_hub.models.BertBackbone`, or a
            `keras_hub.models.BertMaskedLM`.

    Returns:
        A `BertBackbone` (from a backbone) or a `BertPretrainer` without NSP
        (from a masked LM), with `hidden_act="gelu_approximate"` as keras-hub.

    Raises:
        ValueError: naming keras-hub variables that have no counterpart here,
            or ones whose shape does not fit.

    Example:

    >>> hub_backbone = keras_hub.models.BertBackbone(
    ...     vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=32,
    ...     intermediate_dim=64)  # doctest: +SKIP
    >>> backbone = from_keras_hub(hub_backbone)  # doctest: +SKIP
    >>> backbone.config.hidden_act  # doctest: +SKIP
    'gelu_approximate'
    """
    keras_hub = _keras_hub()
    masked_lm = isinstance(hub_model, keras_hub.models.BertMaskedLM)
    if not masked_lm and not isinstance(hub_model, keras_hub.models.BertBackbone):
        raise ValueError(
            f"from_keras_hub takes a keras_hub BertBackbone or BertMaskedLM, got "
            f"{type(hub_model).__name__}."
        )
    hub_backbone = hub_model.backbone if masked_lm else hub_model
    model = bert_backbone(_config_from_keras_hub(hub_backbone))
    if masked_lm:
        model = BertPretrainer(
            model,
            nsp=False,
            mlm_hidden_act=KERAS_HUB_MLM_HIDDEN_ACT,
            mlm_layer_norm_eps=KERAS_HUB_MLM_LAYER_NORM_EPS,
        )
    tensors = {variable.path: variable.numpy() for variable in hub_model.weights}
    source = f"keras-hub {type(hub_model).__name__} {hub_model.name!r}"
    unused = assign_from_tensors(keras_hub_mappings(model), tensors, source)
    if unused:
        raise ValueError(f"{source}: variables with no counterpart in this package: {unused}.")
    return model


def keras_hub_backbone(config):
    """A randomly initialised `keras_hub.models.BertBackbone` of `config`'s sizes.

    keras-hub fixes the activation (approximate GELU), the LayerNorm epsilon
    and a single dropout rate (`hidden_dropout` is used); see the module
    docstring.
    """
    return _keras_hub().models.BertBackbone(
        vocabulary_size=config.vocab_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size,
        dropout=config.hidden_dropout,
        max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size,
    )


def to_keras_hub(model, preprocessor=None):
    """Converts this package's model into a keras-hub BERT.

    Warns where keras-hub will compute something else: the approximate GELU
    for an erf-GELU model, LayerNorm epsilon 1e-12, a single dropout rate, and
    no NSP head (dropped).

    Args:
        model: a `BertBackbone`, or a `BertPretrainer`.
        preprocessor: a `keras_hub.models.BertMaskedLMPreprocessor` for the
            masked LM made from a pretrainer.

    Returns:
        A `keras_hub.models.BertBackbone`, or a `keras_hub.models.BertMaskedLM`
        for a pretrainer.

    Example:

    >>> hub_masked_lm = to_keras_hub(pretrainer)  # doctest: +SKIP
    """
    _warn_about_keras_hub_differences(model)
    hub_model = keras_hub_backbone(getattr(model, "backbone", model).config)
    if hasattr(model, "mlm_head"):
        hub_model = _keras_hub().models.BertMaskedLM(hub_model, preprocessor=preprocessor)
    _assign_mapped_weights(hub_model, tensors_from_keras(keras_hub_mappings(model)))
    return hub_model


def _keras_hub_differences(model):
    """What keras-hub would compute differently for `model`, one sentence each.

    Returns:
        A list of strings, empty when the converted model computes the same.
    """
    config = getattr(model, "backbone", model).config
    differences = []
    if config.hidden_act != KERAS_HUB_HIDDEN_ACT:
        differences.append(
            f"hidden_act={config.hidden_act!r} but keras-hub BERT computes the "
            "tanh-approximate GELU (max |difference| of the activation about 5e-4)"
        )
    if config.layer_norm_eps != KERAS_HUB_LAYER_NORM_EPS:
        differences.append(
            f"layer_norm_eps={config.layer_norm_eps} but keras-hub uses {KERAS_HUB_LAYER_NORM_EPS}"
        )
    if config.attention_dropout != config.hidden_dropout:
        differences.append(
            f"keras-hub has one dropout rate; using hidden_dropout={config.hidden_dropout} "
            f"for attention too (was {config.attention_dropout})"
        )
    differences.extend(_head_differences(model))
    return differences


def _head_differences(model):
    differences = []
    head = getattr(model, "mlm_head", None)
    if head is not None and (
        head.hidden_act != KERAS_HUB_MLM_HIDDEN_ACT
        or head.layer_norm_eps != KERAS_HUB_MLM_LAYER_NORM_EPS
    ):
        differences.append(
            f"the MLM head uses hidden_act={head.hidden_act!r} and layer_norm_eps="
            f"{head.layer_norm_eps}, but keras-hub's head uses "
            f"{KERAS_HUB_MLM_HIDDEN_ACT!r} and {KERAS_HUB_MLM_LAYER_NORM_EPS}"
        )
    if getattr(model, "nsp", False):
        differences.append("keras-hub BERT has no NSP head; its weights are dropped")
    return differences


def _warn_about_keras_hub_differences(model):
    differences = _keras_hub_differences(model)
    if differences:
        warnings.warn(
            "Converting to keras-hub changes the model: " + "; ".join(differences) + ".",
            # Points at the caller of to_keras_hub.
            stacklevel=3,
        )


def _assign_mapped_weights(hub_model, tensors):
    """Assigns `{variable path: array}` to every variable of `hub_model`.

    Raises:
        ValueError: naming the variables the mapping misses or does not know.
    """
    hub_variables = {variable.path: variable for variable in hub_model.weights}
    if set(hub_variables) != set(tensors):
        raise ValueError(
            "keras-hub BERT variables do not match this package's mapping: "
            f"unmapped {sorted(set(hub_variables) - set(tensors))}, "
            f"unknown {sorted(set(tensors) - set(hub_variables))}."
        )
    for path, variable in hub_variables.items():
        variable.assign(tensors[path])


def load_keras_hub_preset(path):
    """Loads a local keras-hub BERT preset folder as this package's model.

    Args:
        path: a folder written by `BertBackbone.save_to_preset` or
            `BertMaskedLM.save_to_preset`.

    Returns:
        `(model, vocab_file, lowercase)`: a `BertPretrainer` when the preset
        holds a `BertMaskedLM` task (else a `BertBackbone`), the preset's
        vocabulary file and its tokenizer's `lowercase` flag, both None when
        the preset has no tokenizer.

    Example:

    >>> model, vocab, lowercase = load_keras_hub_preset("hub_preset/")  # doctest: +SKIP
    """
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(
            f"{path}: not a keras-hub preset folder (config.json is missing)."
        )
    keras_hub = _keras_hub()
    task_file = os.path.join(path, "task.json")
    task_class = _json_field(task_file, "class_name") if os.path.isfile(task_file) else None
    if task_class == "BertMaskedLM":
        hub_model = keras_hub.models.BertMaskedLM.from_preset(path, preprocessor=None)
    else:
        hub_model = keras_hub.models.BertBackbone.from_preset(path)
    vocab_file = os.path.join(path, PRESET_VOCAB_FILE)
    tokenizer_file = os.path.join(path, "tokenizer.json")
    if not os.path.isfile(vocab_file):
        return from_keras_hub(hub_model), None, None
    lowercase = None
    if os.path.isfile(tokenizer_file):
        lowercase = bool(_json_field(tokenizer_file, "config").get("lowercase", False))
    return from_keras_hub(hub_model), vocab_file, lowercase


def save_keras_hub_preset(model, path, vocab_file=None, lowercase=True):
    """Writes this package's model as a keras-hub preset folder.

    Args:
        model: a `BertBackbone` or `BertPretrainer` (saved as `BertMaskedLM`).
        path: the folder to create; it must not exist.
        vocab_file: when given, a `BertTokenizer` on it is saved too (with the
            masked LM's preprocessor), so `from_preset` can read text.
        lowercase: the tokenizer's casing (accents are stripped with it, as
            uncased BERT does).

    Example:

    >>> save_keras_hub_preset(pretrainer, "hub_preset/", "vocab.txt")  # doctest: +SKIP
    """
    if os.path.exists(path):
        raise FileExistsError(f"{path} already exists; choose a new folder.")
    keras_hub = _keras_hub()
    tokenizer = preprocessor = None
    if vocab_file:
        tokenizer = keras_hub.models.BertTokenizer(
            vocabulary=vocab_file, lowercase=lowercase, strip_accents=lowercase
        )
        if hasattr(model, "mlm_head"):
            preprocessor = keras_hub.models.BertMaskedLMPreprocessor(
                tokenizer, sequence_length=model.backbone.config.max_position_embeddings
            )
    hub_model = to_keras_hub(model, preprocessor=preprocessor)
    with atomic_path(path) as temp:
        hub_model.save_to_preset(temp)
        if tokenizer is not None and preprocessor is None:
            tokenizer.save_to_preset(temp)
    return path


def _json_field(file, field):
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)[field]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{file}: expected a keras-hub JSON object with {field!r} ({e!r}).") from None
