import collections
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_bert_impl.layers import (
    BertEmbeddings,
    BertEncoderBlock,
    BertPooler,
    BertSelfAttention,
    ClassificationHead,
    FusableDense,
    MaskedLMHead,
    MeanPooler,
)


def _round_trip(layer, *inputs):
    """Rebuilds `layer` from its config with its weights; returns both outputs."""
    expected = layer(*inputs)
    clone = layer.__class__.from_config(layer.get_config())
    clone(*inputs)
    clone.set_weights(layer.get_weights())
    return expected, clone(*inputs)


def _op_dtypes(layer, *input_specs):
    """`{op type: {dtype names}}` of the graph `layer` traces for `input_specs`."""
    graph = tf.function(layer).get_concrete_function(*input_specs).graph
    dtypes = collections.defaultdict(set)
    for op in graph.get_operations():
        if "T" in op.node_def.attr:
            dtypes[op.type].add(op.get_attr("T").name)
    return dtypes


@pytest.fixture(autouse=True)
def _float32_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_every_layer_round_trips_through_get_config():
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]], "int32")
    cases = [
        (BertEmbeddings(10, 8, 16, 2, dropout=0.1, layer_norm_eps=1e-6), ids, ids * 0),
        (BertSelfAttention(num_heads=2, head_size=4, dropout=0.1), x, mask),
        (BertEncoderBlock(2, 16, hidden_act="gelu_approximate"), x, mask),
        (BertPooler(8), x),
        (ClassificationHead(3, dropout=0.2), x[:, 0]),
        (MeanPooler(), x, mask),
    ]
    for layer, *inputs in cases:
        expected, actual = _round_trip(layer, *inputs)
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)
        assert layer.get_config() == layer.__class__.from_config(layer.get_config()).get_config()


def test_mean_pooler_averages_each_examples_real_tokens():
    x = np.random.default_rng(0).normal(size=(1, 6, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1, 0]], "int32")
    np.testing.assert_allclose(MeanPooler()(x, mask), x[:, :5].mean(axis=1), atol=1e-6)
    # Packed: tokens 0-1 are slot 1's example, 2-4 slot 2's; slot 3 is empty.
    example_ids = np.array([[1, 1, 2, 2, 2, 0]], "int32")
    cls_positions = np.array([[0, 2, 0]], "int32")
    packed = np.asarray(MeanPooler()(x, mask, example_ids, cls_positions))
    assert packed.shape == (1, 3, 4)
    np.testing.assert_allclose(packed[0, 0], x[0, :2].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(packed[0, 1], x[0, 2:5].mean(axis=0), atol=1e-6)
    np.testing.assert_array_equal(packed[0, 2], 0.0)


def test_attention_ignores_padded_keys():
    layer = BertSelfAttention(num_heads=2, head_size=4)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 6, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 0, 0]], "int32")
    changed = x.copy()
    changed[:, 4:] = rng.normal(size=(1, 2, 8))
    np.testing.assert_allclose(
        layer(x, mask)[:, :4], layer(changed, mask)[:, :4], rtol=1e-6, atol=1e-6
    )


def test_attention_equals_keras_dot_product_attention_reference():
    layer = BertSelfAttention(num_heads=2, head_size=4, dropout=0.0)
    x = np.random.default_rng(2).normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1] * 5], "int32")
    actual = layer(x, mask)
    qkv = ops.einsum("btd,dknh->btknh", x, layer.qkv_kernel) + layer.qkv_bias
    context = ops.dot_product_attention(
        qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], mask=ops.cast(mask, "bool")[:, None, None, :]
    )
    expected = ops.einsum("btnh,nhd->btd", context, layer.output_kernel) + layer.output_bias
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_masked_lm_head_is_tied_and_evaluated_at_positions_only():
    embedding = keras.layers.Embedding(11, 8)
    embedding.build((None,))
    head = MaskedLMHead(embedding)
    sequence = np.random.default_rng(3).normal(size=(2, 6, 8)).astype("float32")
    positions = np.array([[0, 5], [2, 2]], "int32")
    logits = head(sequence, positions)
    assert logits.shape == (2, 2, 11)
    assert logits.dtype == "float32"
    # Same hidden state at the same position -> same logits.
    np.testing.assert_allclose(logits[1, 0], logits[1, 1])
    # The projection is the embedding matrix itself, not a copy.
    assert not any(v is embedding.embeddings for v in head._trainable_variables)
    embedding.embeddings.assign(embedding.embeddings * 2.0)
    assert not np.allclose(head(sequence, positions), logits)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_norms_and_softmax_in_float32(policy):
    keras.mixed_precision.set_global_policy(policy)
    compute_dtype = policy.split("_")[1]
    block = BertEncoderBlock(num_heads=2, intermediate_size=16)
    x = np.random.default_rng(4).normal(size=(2, 5, 8)).astype("float32")
    mask = np.ones((2, 5), "int32")
    out = block(x, mask)
    assert out.dtype == compute_dtype
    assert block.attention_layer_norm.gamma.dtype == "float32"
    assert block.attention.qkv_kernel.dtype == "float32"  # variables stay float32
    assert np.isfinite(np.asarray(ops.cast(out, "float32"))).all()

    # What the ops compute in, not what the variables hold: the matmuls run
    # in the half type, the softmax and both LayerNorms' statistics in float32.
    dtypes = _op_dtypes(
        block, tf.TensorSpec([None, None, 8], tf.float32), tf.TensorSpec([None, None], tf.int32)
    )
    assert dtypes["MatMul"] == dtypes["BatchMatMulV2"] == {compute_dtype}
    for op_type in ("Softmax", "Mean", "SquaredDifference", "Rsqrt"):
        assert dtypes[op_type] == {"float32"}, (op_type, dtypes[op_type])

    head = ClassificationHead(2)
    assert head(out[:, 0]).dtype == "float32"


def _layer_norm(x, layer):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + layer.epsilon) * np.asarray(layer.gamma) + np.asarray(layer.beta)


def _block_reference(block, x, padding_mask):
    """A post-LayerNorm BERT block in float64 NumPy from `block`'s weights: the unfused math."""
    weights = lambda variable: np.asarray(variable, "float64")  # noqa: E731
    attention = block.attention
    qkv = np.einsum("bsd,dknh->bsknh", x, weights(attention.qkv_kernel)) + weights(attention.qkv_bias)
    query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    logits = np.einsum("bqnh,bknh->bnqk", query, key) / math.sqrt(attention.head_size)
    logits = logits + np.where(padding_mask[:, None, None, :] > 0, 0.0, -1e9)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = np.einsum("bnqk,bknh->bqnh", probs, value)
    attended = np.einsum("bqnh,nhd->bqd", context, weights(attention.output_kernel))
    x = _layer_norm(x + attended + weights(attention.output_bias), block.attention_layer_norm)
    inner = x @ weights(block.intermediate_dense.kernel) + weights(block.intermediate_dense.bias)
    inner = 0.5 * inner * (1.0 + np.vectorize(math.erf)(inner / math.sqrt(2.0)))
    transformed = inner @ weights(block.output_dense.kernel) + weights(block.output_dense.bias)
    return _layer_norm(x + transformed, block.output_layer_norm)


def test_block_in_a_graph_equals_the_unfused_math():
    # In a tf.function grappler fuses each projection's MatMul + BiasAdd (+
    # GELU) into one oneDNN kernel and the [CLS]-only path gathers queries:
    # the results must stay those of the plain formulas.
    block = BertEncoderBlock(num_heads=2, intermediate_size=64)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 7, 32)).astype("float32")
    mask = np.array([[1] * 7, [1, 1, 1, 0, 0, 0, 0]], "int32")
    positions = np.array([[0], [2]], "int32")
    block(x, mask)
    expected = _block_reference(block, x.astype("float64"), mask)
    graph_call = tf.function(lambda x, mask, positions=None: block(x, mask, query_positions=positions))
    np.testing.assert_allclose(graph_call(x, mask), expected, atol=1e-5)
    at_positions = graph_call(x, mask, positions)
    np.testing.assert_allclose(at_positions, np.take_along_axis(expected, positions[:, :, None], 1), atol=1e-5)


@pytest.mark.parametrize("activation", ["linear", "gelu"])
def test_fusable_dense_equals_keras_dense(activation):
    fused, plain = FusableDense(6, activation=activation), keras.layers.Dense(6, activation=activation)
    x = np.random.default_rng(6).normal(size=(2, 3, 4)).astype("float32")
    fused(x), plain(x)
    plain.set_weights(fused.get_weights())
    np.testing.assert_allclose(tf.function(fused)(x), tf.function(plain)(x), atol=1e-6)
    assert [v.path for v in fused.weights] == [v.path.replace(plain.name, fused.name) for v in plain.weights]


def test_fusable_dense_traces_the_pattern_grappler_fuses():
    # The remapper fuses only a 2-D MatMul whose output goes straight to a
    # BiasAdd (then to the activation): Keras' Dense has a tensordot and an AddV2.
    layer = FusableDense(6, activation="gelu")
    graph = tf.function(layer).get_concrete_function(tf.TensorSpec([None, None, 4])).graph
    (matmul,) = [op for op in graph.get_operations() if op.type == "MatMul"]
    assert matmul.inputs[0].shape.rank == 2
    assert [consumer.type for consumer in matmul.outputs[0].consumers()] == ["BiasAdd"]
