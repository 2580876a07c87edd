"""The [CLS]-only last block: the same pooled output and logits for less work."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_impl import BertClassifier, BertConfig, bert_backbone
from keras_bert_impl.layers import BertEncoderBlock

CONFIG = BertConfig.preset(
    "bert_tiny", vocab_size=60, hidden_size=32, num_heads=2, intermediate_size=64,
    max_position_embeddings=24,
)
TOLERANCE = 1e-5


def padded_inputs(batch=3, seq=12, seed=0):
    rng = np.random.default_rng(seed)
    padding_mask = (np.arange(seq)[None] < np.array([[12], [5], [2]])[:batch]).astype("int32")
    return {
        "token_ids": rng.integers(5, 60, (batch, seq)).astype("int32") * padding_mask,
        "segment_ids": (np.arange(seq) >= 4).astype("int32")[None].repeat(batch, 0) * padding_mask,
        "padding_mask": padding_mask,
    }


def test_block_at_query_positions_equals_the_full_block_there():
    block = BertEncoderBlock(num_heads=2, intermediate_size=64)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 12, 32)).astype("float32")
    padding_mask = padded_inputs()["padding_mask"]
    positions = np.array([[0, 4], [3, 0], [1, 1]], "int32")
    full = np.asarray(block(x, padding_mask))
    at_positions = np.asarray(block(x, padding_mask, query_positions=positions))
    assert at_positions.shape == (3, 2, 32)
    expected = np.take_along_axis(full, positions[:, :, None], axis=1)
    np.testing.assert_allclose(at_positions, expected, atol=TOLERANCE)


@pytest.mark.parametrize("seq", [2, 12])
def test_pooled_output_and_logits_equal_the_full_model(seq):
    classifier = BertClassifier(bert_backbone(CONFIG), num_classes=3)
    inputs = {name: value[:, :seq] for name, value in padded_inputs().items()}
    pooled = classifier.backbone(inputs, training=False)["pooled_output"]
    np.testing.assert_allclose(classifier.backbone.pooled_output(inputs), pooled, atol=TOLERANCE)
    np.testing.assert_allclose(classifier.logits(inputs), classifier(inputs, training=False), atol=TOLERANCE)


def test_mean_pooling_logits_equal_the_full_model():
    classifier = BertClassifier(bert_backbone(CONFIG), num_classes=3, pooling="mean")
    inputs = padded_inputs()
    np.testing.assert_allclose(classifier.logits(inputs), classifier(inputs, training=False), atol=TOLERANCE)


def test_last_block_feed_forward_runs_on_one_token_per_text():
    classifier = BertClassifier(bert_backbone(CONFIG), num_classes=3)
    spec = {name: tf.TensorSpec([3, 12], tf.int32, name=name) for name in padded_inputs()}
    graph = tf.function(classifier.logits).get_concrete_function(spec).graph
    rows = {op.name.split("/")[0]: op.inputs[0].shape[0] for op in graph.get_operations()
            if op.type == "MatMul" and "intermediate_dense" in op.name}
    # 3 texts of 12 tokens: every token in the first block, [CLS] alone in the last.
    assert sorted(rows.values()) == [3, 36], rows
