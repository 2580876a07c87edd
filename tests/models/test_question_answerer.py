"""BertQuestionAnswerer: float32 span logits, BERT's SQuAD loss, `.keras` round trip."""

import keras
import numpy as np

from keras_bert_impl import BertConfig, BertQuestionAnswerer, bert_backbone

CONFIG = BertConfig.preset(
    "bert_tiny", vocab_size=60, hidden_size=32, num_heads=2, intermediate_size=64,
    max_position_embeddings=24,
)


def _batch(batch=8, seq=12, seed=0):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, 60, (batch, seq)).astype("int32")
    starts = rng.integers(1, seq - 3, batch).astype("int32")
    # The answer is the pair of tokens 3 4, wherever it is.
    token_ids[np.arange(batch), starts] = 3
    token_ids[np.arange(batch), starts + 1] = 4
    x = {
        "token_ids": token_ids,
        "segment_ids": np.zeros((batch, seq), "int32"),
        "padding_mask": np.ones((batch, seq), "int32"),
    }
    return x, {"start_logits": starts, "end_logits": starts + 1}


def test_logits_are_float32_per_token_even_under_mixed_precision():
    backbone = bert_backbone(CONFIG, dtype="mixed_float16")
    outputs = BertQuestionAnswerer(backbone).predict_on_batch(_batch(batch=2, seq=9)[0])
    assert sorted(outputs) == ["end_logits", "start_logits"]
    assert all(v.shape == (2, 9) and v.dtype == np.float32 for v in outputs.values())


def test_loss_is_mean_of_start_and_end_cross_entropy():
    answerer = BertQuestionAnswerer(bert_backbone(CONFIG))
    answerer.compile(optimizer="adam")
    x, y = _batch()
    logits = answerer.predict_on_batch(x)

    def cross_entropy(logits, labels):
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -log_probs[np.arange(len(labels)), labels].mean()

    expected = (cross_entropy(logits["start_logits"], y["start_logits"])
                + cross_entropy(logits["end_logits"], y["end_logits"])) / 2
    loss = answerer.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_learns_spans_and_round_trips_as_keras_file(tmp_path):
    answerer = BertQuestionAnswerer(bert_backbone(CONFIG))
    answerer.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, y = _batch(batch=32)
    history = answerer.fit(x, y, epochs=12, batch_size=8, verbose=0).history
    assert history["start_logits_accuracy"][-1] == 1.0
    assert history["end_logits_accuracy"][-1] == 1.0
    path = tmp_path / "answerer.keras"
    answerer.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, BertQuestionAnswerer)
    for name, value in answerer.predict_on_batch(x).items():
        np.testing.assert_allclose(loaded.predict_on_batch(x)[name], value, atol=1e-6)


def test_start_and_end_logits_come_from_their_own_kernel_columns():
    answerer = BertQuestionAnswerer(bert_backbone(CONFIG))
    x, _ = _batch(batch=2)
    sequence = answerer.backbone(x)["sequence_output"].numpy()
    dense = answerer.get_layer("span_head").dense
    expected = sequence @ dense.kernel.numpy() + dense.bias.numpy()
    outputs = answerer.predict_on_batch(x)
    np.testing.assert_allclose(outputs["start_logits"], expected[..., 0], atol=1e-5)
    np.testing.assert_allclose(outputs["end_logits"], expected[..., 1], atol=1e-5)
