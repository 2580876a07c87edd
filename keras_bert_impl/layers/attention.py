"""Multi-head self-attention with one fused QKV projection."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertSelfAttention(keras.layers.Layer):
    """BERT's multi-head self-attention.

    One einsum projects the input to queries, keys and values at once, straight
    into the `[batch, seq, heads, head_size]` layout that
    `keras.ops.dot_product_attention` takes, so no transpose is needed on the
    way in or out. The softmax runs in float32 under mixed precision.

    Args:
        num_heads: number of attention heads.
        head_size: width of each head.
        dropout: dropout rate on the attention probabilities.
        initializer_range: stddev of the truncated-normal initialiser.

    Call args:
        x: `[batch, seq, hidden]`.
        padding_mask: `[batch, seq]`, 1 for real tokens, 0 for padding; padded
            keys get no attention.

    Example:

    >>> layer = BertSelfAttention(num_heads=2, head_size=4)
    >>> layer(ops.ones((1, 3, 8)), ops.ones((1, 3), "int32")).shape
    (1, 3, 8)
    """

    def __init__(
        self, num_heads, head_size, dropout=0.0, initializer_range=0.02, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_size = head_size
        self.dropout = dropout
        self.initializer_range = initializer_range
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="probs_dropout"
        )

    def build(self, x_shape, padding_mask_shape=None):
        hidden_size = x_shape[-1]
        initializer = keras.initializers.TruncatedNormal(
            stddev=self.initializer_range
        )
        # kernel[:, 0], [:, 1], [:, 2] are the query, key and value projections.
        self.qkv_kernel = self.add_weight(
            name="qkv_kernel",
            shape=(hidden_size, 3, self.num_heads, self.head_size),
            initializer=initializer,
        )
        self.qkv_bias = self.add_weight(
            name="qkv_bias",
            shape=(3, self.num_heads, self.head_size),
            initializer="zeros",
        )
        self.output_kernel = self.add_weight(
            name="output_kernel",
            shape=(self.num_heads, self.head_size, hidden_size),
            initializer=initializer,
        )
        self.output_bias = self.add_weight(
            name="output_bias", shape=(hidden_size,), initializer="zeros"
        )
        self.built = True

    def call(self, x, padding_mask, training=None):
        qkv = ops.einsum("btd,dknh->btknh", x, self.qkv_kernel) + self.qkv_bias
        query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        # [batch, 1 (heads), 1 (queries), keys]: broadcast over heads and queries.
        mask = ops.cast(padding_mask, "bool")[:, None, None, :]
        if training and self.dropout > 0:
            context = self._attention_with_dropout(query, key, value, mask, training)
        else:
            context = ops.dot_product_attention(query, key, value, mask=mask)
        return ops.einsum("btnh,nhd->btd", context, self.output_kernel) + self.output_bias

    def _attention_with_dropout(self, query, key, value, mask, training):
        # dot_product_attention has no dropout on the probabilities, which
        # BERT trains with; this path is the same computation plus dropout.
        logits = ops.einsum("btnh,bsnh->bnts", query, key)
        logits = ops.cast(logits, "float32") / (self.head_size**0.5)
        logits = ops.where(mask, logits, -1e9)
        probs = ops.cast(ops.softmax(logits, axis=-1), self.compute_dtype)
        probs = self.dropout_layer(probs, training=training)
        return ops.einsum("bnts,bsnh->btnh", probs, value)

    def compute_output_shape(self, x_shape, padding_mask_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_size=self.head_size,
            dropout=self.dropout,
            initializer_range=self.initializer_range,
        )
        return config
