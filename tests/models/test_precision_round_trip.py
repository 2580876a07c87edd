"""A saved model keeps its precision policy whatever the global policy at load time."""

import keras
import numpy as np
import pytest

from keras_bert_impl import BertClassifier, BertConfig, bert_backbone

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


@pytest.fixture
def restore_global_policy():
    saved = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(saved)


@pytest.mark.parametrize("policy", POLICIES)
def test_reloaded_model_keeps_its_policy(policy, tmp_path, restore_global_policy):
    keras.config.set_dtype_policy(policy)
    config = BertConfig.preset("bert_tiny", vocab_size=50, hidden_size=16, num_heads=2, intermediate_size=32)
    classifier = BertClassifier(bert_backbone(config), num_classes=2)
    path = str(tmp_path / "model.keras")
    classifier.save(path)
    other = "mixed_bfloat16" if policy == "float32" else "float32"
    keras.config.set_dtype_policy(other)

    loaded = keras.saving.load_model(path)
    assert loaded.backbone.get_config()["dtype"]["config"]["name"] == policy
    assert loaded.backbone.dtype_policy.name == policy
    for layer in (loaded.backbone.embeddings, *loaded.backbone.encoder_layers, loaded.get_layer("classification_head")):
        assert layer.dtype_policy.name == policy, layer.name
    ids = np.ones((1, 4), "int32")
    outputs = loaded.backbone({"token_ids": ids, "segment_ids": ids * 0, "padding_mask": ids})
    assert keras.backend.standardize_dtype(outputs["sequence_output"].dtype) == keras.dtype_policies.get(policy).compute_dtype
