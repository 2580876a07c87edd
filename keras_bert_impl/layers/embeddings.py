"""BERT's input embeddings: token + learned position + segment, LayerNorm, dropout."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertEmbeddings(keras.layers.Layer):
    """Sums token, position and segment embeddings, then LayerNorm and dropout.

    Positions are 0, 1, 2, ... along the row unless `position_ids` are given
    (packed rows restart them at 0 for each example).

    The token embedding is exposed as `token_embedding` so that the masked-LM
    head can tie its output projection to it.

    Args:
        vocab_size: number of tokens.
        hidden_size: embedding width.
        max_position_embeddings: longest sequence accepted.
        type_vocab_size: number of segment ids.
        dropout: dropout rate after the LayerNorm.
        layer_norm_eps: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initialiser.

    Example:

    >>> layer = BertEmbeddings(vocab_size=100, hidden_size=8,
    ...                        max_position_embeddings=16, type_vocab_size=2)
    >>> layer(ops.ones((2, 5), "int32"), ops.zeros((2, 5), "int32")).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        max_position_embeddings,
        type_vocab_size,
        dropout=0.0,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.dropout = dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.token_embedding = keras.layers.Embedding(
            vocab_size,
            hidden_size,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            type_vocab_size,
            hidden_size,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="segment_embedding",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )

    def build(self, token_ids_shape, segment_ids_shape=None, position_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.segment_embedding.build(token_ids_shape)
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_position_embeddings, self.hidden_size),
            initializer=keras.initializers.TruncatedNormal(
                stddev=self.initializer_range
            ),
        )
        self.layer_norm.build((*token_ids_shape, self.hidden_size))
        self.built = True

    def call(self, token_ids, segment_ids, position_ids=None, training=None):
        if position_ids is None:
            seq_len = ops.shape(token_ids)[1]
            positions = self.position_embeddings[:seq_len][None]
        else:
            positions = ops.take(self.position_embeddings, position_ids, axis=0)
        x = (
            self.token_embedding(token_ids)
            + self.segment_embedding(segment_ids)
            + ops.cast(positions, self.compute_dtype)
        )
        return self.dropout_layer(self.layer_norm(x), training=training)

    def compute_output_shape(
        self, token_ids_shape, segment_ids_shape=None, position_ids_shape=None
    ):
        return (*token_ids_shape, self.hidden_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            dropout=self.dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
