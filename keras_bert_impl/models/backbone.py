"""The BERT encoder as a functional Keras model with named dict inputs and outputs."""

import keras

from keras_bert_impl.config import BertConfig
from keras_bert_impl.layers import BertEmbeddings, BertEncoderBlock, BertPooler

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")
# Optional inputs of packed rows (several examples per row), made by
# `keras_bert_impl.data.packing`; callers that leave them out get BERT's
# plain path, at its plain speed.
PACKED_INPUT_NAMES = ("example_ids", "position_ids", "cls_positions")


def model_inputs(extra_names=()):
    """`keras.Input`s for the backbone's inputs (packed ones optional) + `extra_names`."""
    inputs = {
        name: keras.Input(shape=(None,), dtype="int32", name=name)
        for name in (*INPUT_NAMES, *extra_names)
    }
    for name in PACKED_INPUT_NAMES:
        inputs[name] = keras.Input(shape=(None,), dtype="int32", name=name, optional=True)
    return inputs


def with_packed_inputs(model, inputs):
    """`inputs` with None for each optional packed input of `model` it lacks.

    Keras wants a value for every named input of a functional model, even an
    optional one; callers of the plain path should not have to name them.
    """
    if not isinstance(inputs, dict) or not isinstance(model.input, dict):
        return inputs
    missing = [name for name in PACKED_INPUT_NAMES if name in model.input and name not in inputs]
    return {**inputs, **{name: None for name in missing}} if missing else inputs


def backbone_inputs(inputs):
    """The entries of a model's `inputs` dict that the backbone takes."""
    return {name: inputs[name] for name in (*INPUT_NAMES, *PACKED_INPUT_NAMES)}


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertBackbone(keras.Model):
    """BERT encoder: `{token_ids, segment_ids, padding_mask}` -> hidden states.

    A functional model (the graph is built in `__init__`), so it can be
    summarised, plotted, saved as `.keras` and exported. Inputs are int32
    `[batch, seq]` with any `seq` up to `config.max_position_embeddings`.
    Outputs are `sequence_output` `[batch, seq, hidden]` and `pooled_output`
    `[batch, hidden]` (dense + tanh on [CLS]).

    Packed rows (several examples per row, `keras_bert_impl.data.packing`)
    add `example_ids` and `position_ids` (`[batch, seq]`: attention stays
    within each example and positions restart at 0 for each) and
    `cls_positions` (`[batch, examples]`), which makes `pooled_output`
    `[batch, examples, hidden]`, one per example. Without them the model runs
    BERT's plain path. The model's symbolic output shapes are those of the
    packed path, the fullest one.

    Args:
        config: a `BertConfig` (or its `to_dict()` form).
        **kwargs: `keras.Model` arguments such as `name` and `dtype` (a
            precision policy such as "mixed_bfloat16"; default: the global
            policy when the model is built). The policy is saved with the
            model, so a reloaded model keeps it whatever the global policy
            then.

    Example:

    >>> backbone = BertBackbone(BertConfig.preset("bert_tiny", vocab_size=100))
    >>> ids = keras.ops.ones((2, 7), "int32")
    >>> out = backbone({"token_ids": ids, "segment_ids": ids * 0,
    ...                 "padding_mask": ids})
    >>> out["pooled_output"].shape
    (2, 128)
    """

    def __init__(self, config, **kwargs):
        if isinstance(config, dict):
            config = BertConfig.from_dict(config)
        # Resolved now, so that the saved config names the policy in force.
        dtype = keras.dtype_policies.get(kwargs.pop("dtype", None) or keras.config.dtype_policy())
        inputs = model_inputs()
        embeddings = BertEmbeddings(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            max_position_embeddings=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            dropout=config.hidden_dropout,
            layer_norm_eps=config.layer_norm_eps,
            initializer_range=config.initializer_range,
            dtype=dtype,
            name="embeddings",
        )
        x = embeddings(inputs["token_ids"], inputs["segment_ids"], inputs["position_ids"])
        for index in range(config.num_layers):
            x = BertEncoderBlock(
                num_heads=config.num_heads,
                intermediate_size=config.intermediate_size,
                hidden_act=config.hidden_act,
                hidden_dropout=config.hidden_dropout,
                attention_dropout=config.attention_dropout,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                dtype=dtype,
                name=f"encoder_layer_{index}",
            )(x, inputs["padding_mask"], inputs["example_ids"])
        pooled = BertPooler(
            config.hidden_size,
            initializer_range=config.initializer_range,
            dtype=dtype,
            name="pooler",
        )(x, inputs["cls_positions"])
        outputs = {"sequence_output": x, "pooled_output": pooled}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # A functional Model takes the global policy whatever `dtype` says;
        # the heads built on this backbone read `dtype_policy`.
        self.dtype_policy = dtype
        self.config = config
        self.embeddings = embeddings

    def pooled_output(self, inputs, training=False):
        """`self(inputs)["pooled_output"]`, with the last block run at [CLS] only.

        The pooled output reads nothing of the last block but its [CLS]
        vector, so that block's attention outputs and feed-forward for every
        other token are wasted work: about 19% of bert_small's FLOPs at 128
        tokens (1/num_layers of a block's cost, less the keys and values the
        [CLS] query still needs). Serving signatures whose outputs come from
        the pooled output alone call this.

        Args:
            inputs: dict of int32 `token_ids`, `segment_ids`, `padding_mask`.
            training: dropout on or off.

        Returns:
            `[batch, hidden]`.
        """
        padding_mask = inputs["padding_mask"]
        x = self.embeddings(inputs["token_ids"], inputs["segment_ids"], training=training)
        *blocks, last = self.encoder_layers
        for block in blocks:
            x = block(x, padding_mask, training=training)
        cls_position = keras.ops.zeros_like(padding_mask[:, :1])
        x = last(x, padding_mask, training=training, query_positions=cls_position)
        return self.get_layer("pooler")(x)

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(with_packed_inputs(self, inputs), *args, **kwargs)

    def compute_output_spec(self, inputs, training=None, mask=None):
        # Keras' functional shortcut reads `.shape` of every input, None
        # included, so a model built on the plain path (its graph calls the
        # backbone without packed inputs) gets the plain output specs here.
        if any(inputs.get(name) is not None for name in PACKED_INPUT_NAMES):
            return super().compute_output_spec(inputs, training=training, mask=mask)
        batch, seq = inputs["token_ids"].shape[:2]
        hidden = self.config.hidden_size
        return {
            "sequence_output": keras.KerasTensor(
                (batch, seq, hidden), self.output["sequence_output"].dtype
            ),
            "pooled_output": keras.KerasTensor((batch, hidden), self.output["pooled_output"].dtype),
        }

    @property
    def token_embedding(self):
        """The token `Embedding` layer, shared with the masked-LM head."""
        return self.embeddings.token_embedding

    @property
    def encoder_layers(self):
        """The transformer blocks, first to last."""
        return [
            self.get_layer(f"encoder_layer_{i}") for i in range(self.config.num_layers)
        ]

    def get_config(self):
        return {
            "config": self.config.to_dict(),
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def bert_backbone(config, **kwargs):
    """Builds a `BertBackbone` from a `BertConfig` or a preset name.

    Example:

    >>> backbone = bert_backbone("bert_tiny")
    >>> backbone.config.num_layers
    2
    """
    if isinstance(config, str):
        config = BertConfig.preset(config)
    return BertBackbone(config, **kwargs)


def rebuild_backbone(backbone, dropout=None, dtype=None):
    """A copy of `backbone` (same weights) with other dropout rates or precision.

    Both are fixed when the layers are built (a saved backbone keeps the
    policy it was trained in), so changing them means building again; used
    to fine-tune, with BERT's dropout and the run's `--precision`, a model
    pretrained otherwise.

    Args:
        backbone: a `BertBackbone`.
        dropout: the new hidden and attention dropout rate; None keeps them.
        dtype: the new dtype policy (a name such as "mixed_bfloat16"); None
            keeps it.

    Example:

    >>> backbone = rebuild_backbone(bert_backbone("bert_tiny"), dropout=0.0, dtype="mixed_bfloat16")
    >>> backbone.config.hidden_dropout, backbone.dtype_policy.name
    (0.0, 'mixed_bfloat16')
    """
    config = backbone.config
    if dropout is not None:
        config = config.replace(hidden_dropout=dropout, attention_dropout=dropout)
    rebuilt = bert_backbone(config, name=backbone.name, dtype=dtype or backbone.dtype_policy)
    rebuilt.set_weights(backbone.get_weights())
    return rebuilt
