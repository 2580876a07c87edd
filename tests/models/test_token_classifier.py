"""BertTokenClassifier: the loss averages over the labelled positions only."""

import numpy as np

from keras_bert_impl import BertConfig, BertTokenClassifier, bert_backbone

CONFIG = BertConfig.preset(
    "bert_tiny", vocab_size=60, hidden_size=32, num_heads=2, intermediate_size=64,
    max_position_embeddings=24,
)


def test_loss_is_cross_entropy_averaged_over_labelled_positions_only():
    tagger = BertTokenClassifier(bert_backbone(CONFIG), num_classes=4)
    tagger.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(5, 60, (2, 16)).astype("int32"),
        "segment_ids": np.zeros((2, 16), "int32"),
        "padding_mask": np.ones((2, 16), "int32"),
    }
    labels = rng.integers(0, 4, (2, 16)).astype("int32")
    # A few labelled positions per row, as [CLS], [SEP], padding and later
    # word pieces weigh 0.
    weights = np.zeros((2, 16), "float32")
    weights[:, [1, 4, 5, 9]] = 1.0
    logits = tagger.predict_on_batch(x)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    token_loss = -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]
    expected = (token_loss * weights).sum() / weights.sum()
    loss = tagger.evaluate(x, labels, sample_weight=weights, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
