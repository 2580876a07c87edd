"""Output heads on top of the encoder: pooler, masked LM, NSP, classification."""

import keras
from keras import ops

from keras_bert_impl.layers.activations import get_activation


def _initializer(stddev):
    return keras.initializers.TruncatedNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertPooler(keras.layers.Layer):
    """Dense + tanh on the first ([CLS]) position: BERT's `pooled_output`.

    Packed rows pass `cls_positions` (`[batch, examples]`, the [CLS] position
    of each example in its row) and get `[batch, examples, hidden]`.

    Example:

    >>> BertPooler(hidden_size=8)(ops.ones((2, 5, 8))).shape
    (2, 8)
    """

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            hidden_size,
            activation="tanh",
            kernel_initializer=_initializer(initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )

    def build(self, sequence_output_shape, cls_positions_shape=None):
        self.dense.build((sequence_output_shape[0], sequence_output_shape[-1]))
        self.built = True

    def call(self, sequence_output, cls_positions=None):
        if cls_positions is None:
            return self.dense(sequence_output[:, 0])
        return self.dense(ops.take_along_axis(sequence_output, cls_positions[:, :, None], axis=1))

    def compute_output_shape(self, sequence_output_shape, cls_positions_shape=None):
        if cls_positions_shape is None:
            return (sequence_output_shape[0], self.hidden_size)
        return (*cls_positions_shape, self.hidden_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size, initializer_range=self.initializer_range
        )
        return config


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class MeanPooler(keras.layers.Layer):
    """The mean of each example's final token vectors, [CLS] and [SEP] included.

    The alternative to `BertPooler` for classification: a model pretrained
    briefly, or without next-sentence prediction, has not taught [CLS] to
    summarise the text, while the mean reads every token from the first
    fine-tuning step (Sentence-BERT's pooling). Only real tokens count.

    Call args:
        sequence_output: `[batch, seq, hidden]`.
        padding_mask: `[batch, seq]`, nonzero for a real token.
        example_ids: packed rows only: `[batch, seq]`, slot + 1 of the example
            each token belongs to (0 for padding), from `data.packing`.
        cls_positions: packed rows only: `[batch, examples]`; its width is the
            number of example slots.

    Returns:
        `[batch, hidden]`, or `[batch, examples, hidden]` for packed rows
        (zeros for an empty slot).

    Example:

    >>> MeanPooler()(ops.ones((2, 5, 8)), ops.ones((2, 5))).shape
    (2, 8)
    """

    def call(self, sequence_output, padding_mask, example_ids=None, cls_positions=None):
        # Summed in float32: a bfloat16 sum of 100 tokens keeps 2-3 digits.
        vectors = ops.cast(sequence_output, "float32")
        if example_ids is None:
            weights = ops.cast(padding_mask, "float32")[:, :, None]
            mean = ops.sum(vectors * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        else:
            # [batch, examples, seq]: 1 where the token belongs to the slot's example.
            slot_ids = ops.arange(1, ops.shape(cls_positions)[1] + 1, dtype="int32")
            weights = ops.cast(ops.equal(slot_ids[None, :, None], example_ids[:, None, :]), "float32")
            mean = ops.matmul(weights, vectors) / ops.maximum(ops.sum(weights, axis=2, keepdims=True), 1.0)
        return ops.cast(mean, self.compute_dtype)

    def compute_output_shape(self, sequence_output_shape, padding_mask_shape, example_ids_shape=None,
                             cls_positions_shape=None):
        if cls_positions_shape is None:
            return (sequence_output_shape[0], sequence_output_shape[-1])
        return (*cls_positions_shape, sequence_output_shape[-1])


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class MaskedLMHead(keras.layers.Layer):
    """BERT's masked-LM head, evaluated only at the masked positions.

    Gathers the hidden states at `mask_positions` first, so the dense
    transform and the vocabulary projection (the costly part) run on
    `max_predictions` rows per sequence instead of `seq_len`. The projection is
    tied to the token embedding matrix and has its own bias. Logits come out in
    float32 whatever the compute dtype, for a stable loss.

    Args:
        token_embedding: the backbone's `keras.layers.Embedding`; its matrix is
            the output projection. Not part of the config: the model that owns
            both layers passes it again when it is rebuilt.
        hidden_act: activation of the transform.
        layer_norm_eps: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initialiser.

    Call args:
        sequence_output: `[batch, seq, hidden]`.
        mask_positions: `[batch, max_predictions]` int positions.

    Returns:
        `[batch, max_predictions, vocab_size]` float32 logits.
    """

    def __init__(
        self,
        token_embedding,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, sequence_output_shape, mask_positions_shape=None):
        hidden_size = sequence_output_shape[-1]
        self.transform_dense = keras.layers.Dense(
            hidden_size,
            activation=get_activation(self.hidden_act),
            kernel_initializer=_initializer(self.initializer_range),
            dtype=self.dtype_policy,
            name="transform_dense",
        )
        self.transform_dense.build((None, None, hidden_size))
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
        )
        self.layer_norm.build((None, None, hidden_size))
        # Added to the float32 logits, so it is never cast to the compute
        # dtype (an autocast bias made eager calls under mixed precision fail).
        self.output_bias = self.add_weight(
            name="output_bias",
            shape=(self.token_embedding.input_dim,),
            initializer="zeros",
            autocast=False,
        )
        self.built = True

    def call(self, sequence_output, mask_positions):
        positions = ops.cast(mask_positions, "int32")[:, :, None]
        x = ops.take_along_axis(sequence_output, positions, axis=1)
        x = self.layer_norm(self.transform_dense(x))
        embeddings = ops.cast(self.token_embedding.embeddings, self.compute_dtype)
        # A plain [batch * predictions, hidden] x [hidden, vocab] matmul (the
        # transpose folds into it). The einsum it replaces broadcast the
        # embedding over the batch, so its gradient was a batched matmul plus
        # a sum over the batch: 2x slower fwd+bwd (docs/PERFORMANCE.md).
        logits = ops.matmul(x, ops.transpose(embeddings))
        return ops.cast(logits, "float32") + self.output_bias

    def compute_output_shape(self, sequence_output_shape, mask_positions_shape):
        return (*mask_positions_shape, self.token_embedding.input_dim)

    def compute_output_spec(self, sequence_output, mask_positions):
        return keras.KerasTensor(
            (*mask_positions.shape, self.token_embedding.input_dim), "float32"
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_act=self.hidden_act,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class ClassificationHead(keras.layers.Layer):
    """Dropout then a dense layer to `num_classes` float32 logits.

    Used on the pooled output both for downstream classification and, with
    `num_classes=2`, as BERT's next-sentence-prediction head; on the sequence
    output (`[batch, seq, hidden]`) it classifies every token, and on packed
    rows' `[batch, examples, hidden]` pooled outputs it gives one row per example.

    Example:

    >>> ClassificationHead(num_classes=3)(ops.ones((2, 8))).shape
    (2, 3)
    """

    def __init__(self, num_classes, dropout=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.dropout = dropout
        self.initializer_range = initializer_range
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.dense = keras.layers.Dense(
            num_classes,
            kernel_initializer=_initializer(initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )

    def build(self, pooled_shape):
        self.dense.build(pooled_shape)
        self.built = True

    def call(self, pooled_output, training=None):
        logits = self.dense(self.dropout_layer(pooled_output, training=training))
        return ops.cast(logits, "float32")

    def compute_output_shape(self, pooled_shape):
        return (*pooled_shape[:-1], self.num_classes)

    def compute_output_spec(self, pooled_output, training=None):
        return keras.KerasTensor((*pooled_output.shape[:-1], self.num_classes), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            dropout=self.dropout,
            initializer_range=self.initializer_range,
        )
        return config
