import keras
import numpy as np
import pytest

from keras_bert_impl import BertClassifier, BertConfig, bert_backbone
from keras_bert_impl.training.optimization import WarmupLinearDecay, create_optimizer


def test_schedule_warms_up_linearly_then_decays_linearly_to_zero():
    schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    values = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 150)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)
    clone = WarmupLinearDecay.from_config(schedule.get_config())
    assert float(clone(55)) == pytest.approx(5e-4)


def test_schedule_rejects_impossible_lengths():
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupLinearDecay(1e-3, total_steps=10, warmup_steps=20)


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_weight_decay_skips_layer_norms_and_biases(name):
    model = BertClassifier(
        bert_backbone(BertConfig.preset("bert_tiny", vocab_size=50, hidden_size=32, num_heads=2,
                                        intermediate_size=64)),
        num_classes=2,
    )
    optimizer = create_optimizer(1e-4, total_steps=10, optimizer=name)
    optimizer.build(model.trainable_variables)
    decayed = {v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)}
    not_decayed = {v.path for v in model.trainable_variables} - decayed
    assert all(p.endswith(("gamma", "beta", "bias")) for p in not_decayed), not_decayed
    assert any(p.endswith("qkv_bias") for p in not_decayed)
    assert all(p.endswith(("kernel", "embeddings")) for p in decayed), decayed
    assert optimizer.global_clipnorm == 1.0


def test_unknown_optimizer_and_bad_rate():
    with pytest.raises(ValueError, match="sgd"):
        create_optimizer(1e-4, 10, optimizer="sgd")
    with pytest.raises(ValueError, match="learning_rate"):
        create_optimizer(0.0, 10)
