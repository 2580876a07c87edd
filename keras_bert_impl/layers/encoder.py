"""One post-LayerNorm transformer block, in the order of the BERT paper."""

import keras

from keras_bert_impl.layers.activations import get_activation
from keras_bert_impl.layers.attention import BertSelfAttention, take_positions
from keras_bert_impl.layers.dense import FusableDense


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertEncoderBlock(keras.layers.Layer):
    """Self-attention and feed-forward sublayers, each `LayerNorm(x + f(x))`.

    Call args are those of `BertSelfAttention`: `example_ids` for packed
    rows; with `query_positions` the block computes its output at those
    positions only.

    Args:
        num_heads: attention heads.
        intermediate_size: width of the feed-forward inner layer.
        hidden_act: `"gelu"`, `"gelu_approximate"` or `"relu"`.
        hidden_dropout: dropout on each sublayer's output.
        attention_dropout: dropout on the attention probabilities.
        layer_norm_eps: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initialiser.

    Example:

    >>> block = BertEncoderBlock(num_heads=2, intermediate_size=32)
    >>> block(keras.ops.ones((1, 3, 8)), keras.ops.ones((1, 3), "int32")).shape
    (1, 3, 8)
    """

    def __init__(
        self,
        num_heads,
        intermediate_size,
        hidden_act="gelu",
        hidden_dropout=0.0,
        attention_dropout=0.0,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, x_shape, padding_mask_shape=None, example_ids_shape=None):
        hidden_size = x_shape[-1]
        policy = self.dtype_policy
        initializer = keras.initializers.TruncatedNormal(
            stddev=self.initializer_range
        )
        self.attention = BertSelfAttention(
            num_heads=self.num_heads,
            head_size=hidden_size // self.num_heads,
            dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
            dtype=policy,
            name="attention",
        )
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=policy, name="attention_layer_norm"
        )
        self.intermediate_dense = FusableDense(
            self.intermediate_size,
            activation=get_activation(self.hidden_act),
            kernel_initializer=initializer,
            dtype=policy,
            name="intermediate_dense",
        )
        self.output_dense = FusableDense(
            hidden_size, kernel_initializer=initializer, dtype=policy, name="output_dense"
        )
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=policy, name="output_layer_norm"
        )
        self.dropout_layer = keras.layers.Dropout(
            self.hidden_dropout, dtype=policy, name="dropout"
        )
        self.attention.build(x_shape)
        self.attention_layer_norm.build(x_shape)
        self.intermediate_dense.build(x_shape)
        self.output_dense.build((*x_shape[:-1], self.intermediate_size))
        self.output_layer_norm.build(x_shape)
        self.built = True

    def call(self, x, padding_mask, example_ids=None, training=None, query_positions=None):
        attended = self.attention(
            x, padding_mask, example_ids, training=training, query_positions=query_positions
        )
        if query_positions is not None:
            x = take_positions(x, query_positions, axis=1)
        x = self.attention_layer_norm(
            x + self.dropout_layer(attended, training=training)
        )
        transformed = self.output_dense(self.intermediate_dense(x))
        return self.output_layer_norm(
            x + self.dropout_layer(transformed, training=training)
        )

    def compute_output_shape(self, x_shape, padding_mask_shape=None, example_ids_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout=self.hidden_dropout,
            attention_dropout=self.attention_dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
