"""init_local_attention: the products it sets, and attention that starts local."""

import numpy as np
import pytest
from keras import ops

from keras_bert_impl.models import bert_backbone
from keras_bert_impl.training.local_attention_init import (
    QUERY_KEY,
    VALUE_OUTPUT,
    init_local_attention,
    mimetic_factors,
    sinusoid_table,
)

SEQ_LEN = 48


def test_sinusoid_table_follows_the_formula():
    table = sinusoid_table(50, 8)
    assert table.shape == (50, 8) and table.dtype == np.float32
    # Column 1 is the sine of frequency 10000**(-2/8), column 5 its cosine.
    np.testing.assert_allclose(table[7, 1], np.sin(7 * 10000 ** (-2 / 8)), rtol=1e-6)
    np.testing.assert_allclose(table[7, 5], np.cos(7 * 10000 ** (-2 / 8)), rtol=1e-6)


def test_mimetic_factors_multiply_to_a_z_plus_b_i():
    width, (a, b) = 16, VALUE_OUTPUT
    left, right = mimetic_factors(width, a, b, np.random.default_rng(3))
    z = np.random.default_rng(3).normal(0.0, 1.0 / np.sqrt(width), (width, width))
    np.testing.assert_allclose(left @ right, a * z + b * np.eye(width), atol=1e-5)
    # The singular values are split evenly between the two factors.
    np.testing.assert_allclose(left.T @ left, right @ right.T, atol=1e-5)


@pytest.fixture(scope="module")
def backbones():
    plain = bert_backbone("bert_tiny", vocab_size=500)
    local = bert_backbone("bert_tiny", vocab_size=500)
    init_local_attention(local, seed=0)
    return plain, local


def _best_rank(matrix, rank):
    u, s, vt = np.linalg.svd(matrix)
    return (u[:, :rank] * s[:rank]) @ vt[:rank]


def test_every_layer_and_head_gets_the_mimetic_products(backbones):
    _, local = backbones
    rng = np.random.default_rng(0)
    for block in local.encoder_layers:
        kernel = ops.convert_to_numpy(block.attention.qkv_kernel)
        width, _, heads, head_size = kernel.shape
        a, b = QUERY_KEY
        for head in range(heads):
            z = rng.normal(0.0, 1.0 / np.sqrt(width), (width, width))
            np.testing.assert_allclose(
                kernel[:, 0, head] @ kernel[:, 1, head].T,
                _best_rank(a * z + b * np.eye(width), head_size),
                atol=1e-5,
            )
        value = kernel[:, 2].reshape(width, width)
        output = ops.convert_to_numpy(block.attention.output_kernel).reshape(width, width)
        a, b = VALUE_OUTPUT
        z = rng.normal(0.0, 1.0 / np.sqrt(width), (width, width))
        np.testing.assert_allclose(value @ output, a * z + b * np.eye(width), atol=1e-5)


def test_positions_become_sinusoids_of_the_token_embeddings_scale(backbones):
    plain, local = backbones
    positions = ops.convert_to_numpy(local.embeddings.position_embeddings)
    np.testing.assert_allclose(
        positions, np.sqrt(2) * 0.02 * sinusoid_table(*positions.shape), rtol=1e-6
    )
    root_mean_square = np.sqrt(np.mean(positions.astype(np.float64) ** 2))
    assert root_mean_square == pytest.approx(local.config.initializer_range, rel=1e-3)
    # Token embeddings keep BERT's initialisation.
    tokens = ops.convert_to_numpy(local.token_embedding.embeddings)
    assert np.std(tokens) == pytest.approx(np.std(ops.convert_to_numpy(plain.token_embedding.embeddings)), rel=0.05)


def _first_layer_attention(backbone, token_ids):
    """[heads, seq, seq] attention probabilities of the first layer."""
    hidden = backbone.embeddings(token_ids, ops.zeros_like(token_ids))
    hidden = ops.convert_to_numpy(hidden)[0]
    attention = backbone.encoder_layers[0].attention
    kernel = ops.convert_to_numpy(attention.qkv_kernel)
    bias = ops.convert_to_numpy(attention.qkv_bias)
    heads, head_size = kernel.shape[2:]
    query = np.einsum("sd,dnh->nsh", hidden, kernel[:, 0]) + bias[0][:, None]
    key = np.einsum("sd,dnh->nsh", hidden, kernel[:, 1]) + bias[1][:, None]
    scores = np.einsum("nqh,nkh->nqk", query, key) / np.sqrt(head_size)
    probabilities = np.exp(scores - scores.max(-1, keepdims=True))
    return probabilities / probabilities.sum(-1, keepdims=True)


def test_attention_starts_on_the_token_and_its_neighbours(backbones):
    """On distinct random tokens, BERT's random weights spread attention evenly;
    local ones put it on the token itself, and more on near positions than far."""
    token_ids = ops.convert_to_tensor(
        np.random.default_rng(1).permutation(np.arange(5, 500))[None, :SEQ_LEN].astype("int32")
    )
    distance = np.abs(np.arange(SEQ_LEN)[:, None] - np.arange(SEQ_LEN)[None])
    plain, local = (_first_layer_attention(backbone, token_ids) for backbone in backbones)
    uniform = 1 / SEQ_LEN
    for head in range(plain.shape[0]):
        assert plain[head][distance == 0].mean() == pytest.approx(uniform, rel=0.2)
        assert local[head][distance == 0].mean() > 10 * uniform, head
    # Over the heads together: near positions get more than far ones.
    local = local.mean(0)
    near, far = local[(distance >= 1) & (distance <= 2)].mean(), local[distance >= 8].mean()
    assert near > 1.2 * far, (near, far)


def test_same_seed_same_weights():
    first, second, third = (bert_backbone("bert_tiny", vocab_size=100) for _ in range(3))
    init_local_attention(first, seed=5)
    init_local_attention(second, seed=5)
    init_local_attention(third, seed=6)
    kernels = [ops.convert_to_numpy(b.encoder_layers[1].attention.qkv_kernel) for b in (first, second, third)]
    np.testing.assert_array_equal(kernels[0], kernels[1])
    assert not np.allclose(kernels[0], kernels[2])
