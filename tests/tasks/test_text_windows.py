"""Long-text classification pieces: window pooling, windowed batches, short texts unchanged.

The pooling layers equal a numpy reference; a text that fits one window gets
the logits of the plain (truncating) classifier from every path; windowed
batches hold each text's windows, padded with all-zero windows.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_impl import BertClassifier, BertConfig, Tokenizer, bert_backbone, classify
from keras_bert_impl.choices import DEFAULT_MAX_WINDOWS
from keras_bert_impl.data import pipelines
from keras_bert_impl.layers import WindowPooling, WindowRows
from keras_bert_impl.tasks.classification import TextWindows, window_settings_of

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "good", "bad", "."]
SHORT_TEXTS = ["the cat sat on the mat .", "good", "", "bad cat"]
LONG_TEXT = "the cat sat on the mat . " * 5  # 35 tokens


def reference_pooling(window_logits, window_mask, pooling):
    pooled = np.zeros(window_logits.shape[::2], "float32")
    for row, (logits, mask) in enumerate(zip(window_logits, window_mask.astype(bool))):
        if mask.any():
            pooled[row] = logits[mask].mean(axis=0) if pooling == "mean" else logits[mask].max(axis=0)
    return pooled


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_window_pooling_equals_a_numpy_reference(pooling):
    rng = np.random.default_rng(0)
    window_logits = rng.normal(size=(4, 3, 5)).astype("float32")
    window_mask = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0]], "int32")
    expected = reference_pooling(window_logits, window_mask, pooling)
    layer = WindowPooling(pooling)
    np.testing.assert_allclose(layer(window_logits, window_mask), expected, rtol=1e-6, atol=1e-6)
    # The merged rows a backbone gives pool alike.
    np.testing.assert_allclose(layer(window_logits.reshape(12, 5), window_mask), expected, rtol=1e-6, atol=1e-6)
    clone = WindowPooling.from_config(layer.get_config())
    assert clone.pooling == pooling


def test_window_pooling_keeps_float32_logits_under_mixed_precision():
    window_logits = np.array([[[0.21104744, -1.3333333]]], "float32")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        pooled = WindowPooling("mean")(window_logits, np.ones((1, 1), "int32"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert pooled.dtype == "float32"
    np.testing.assert_array_equal(pooled, window_logits[:, 0])


def test_window_rows_merge_texts_and_windows():
    windows = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(WindowRows()(windows), windows.reshape(6, 4))
    with pytest.raises(ValueError, match="pooling='sum'"):
        WindowPooling("sum")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    vocab_file = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n")
    keras.utils.set_random_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_layers=2, num_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    backbone = bert_backbone(config)
    plain = BertClassifier(backbone, num_classes=3)
    windowed = {pooling: BertClassifier(backbone, num_classes=3, window_pooling=pooling) for pooling in ("mean", "max")}
    for model in windowed.values():
        model.get_layer("classification_head").set_weights(plain.get_layer("classification_head").get_weights())
    return {"plain": plain, "windowed": windowed, "tokenizer": Tokenizer(str(vocab_file))}


def test_short_texts_give_the_same_logits_with_and_without_windows(models):
    tokenizer, plain = models["tokenizer"], models["plain"]
    truncated = np.asarray(plain(pipelines_batch(tokenizer, SHORT_TEXTS, stride=None), training=False))
    in_windows = pipelines_batch(tokenizer, SHORT_TEXTS, stride=4)
    for windowed in models["windowed"].values():
        np.testing.assert_allclose(windowed(in_windows, training=False), truncated, atol=1e-5)
    served = TextWindows(models["windowed"]["mean"], tokenizer, 12, 4, 3).logits(tf.constant(SHORT_TEXTS))
    np.testing.assert_allclose(served, truncated, atol=1e-5)


def pipelines_batch(tokenizer, texts, stride):
    """One batch of `texts` as `classification_dataset` makes it (seq_len 12)."""
    examples = tf.data.Dataset.from_tensor_slices({"text": texts, "label": [0] * len(texts)})
    windows = {} if stride is None else {"stride": stride, "max_windows": 3}
    dataset = pipelines.classification_dataset(
        examples, tokenizer, seq_len=12, batch_size=len(texts), shuffle=False, **windows
    )
    return next(iter(dataset))[0]


def test_a_long_text_pools_its_windows_in_training_and_inference_alike(models):
    tokenizer, windowed = models["tokenizer"], models["windowed"]["max"]
    texts = [LONG_TEXT, "good"]
    batch = pipelines_batch(tokenizer, texts, stride=4)
    # 35 tokens in windows of 10, 4 apart: starts 0, 4, 8 of 7 kept to 3.
    assert batch["token_ids"].shape == (2, 3, 12)
    np.testing.assert_array_equal(batch["padding_mask"].numpy().sum(axis=-1), [[12, 12, 12], [3, 0, 0]])
    ids = tokenizer(tf.constant([LONG_TEXT])).to_list()[0]
    np.testing.assert_array_equal(batch["token_ids"][0, 1, 1:11], ids[4:14])
    rows = {name: value[0] for name, value in batch.items()}
    by_window = np.asarray(windowed.logits(rows))
    np.testing.assert_allclose(windowed(batch, training=False)[0], by_window.max(axis=0), atol=1e-5)
    served = TextWindows(windowed, tokenizer, 12, 4, max_windows=3).logits(tf.constant(texts))
    np.testing.assert_allclose(served, windowed(batch, training=False), atol=1e-5)


def test_a_mean_pooling_windowed_classifier_reads_each_window_by_its_token_mean(models):
    tokenizer, backbone = models["tokenizer"], models["plain"].backbone
    plain = BertClassifier(backbone, num_classes=3, pooling="mean")
    windowed = BertClassifier(backbone, num_classes=3, pooling="mean", window_pooling="mean")
    windowed.get_layer("classification_head").set_weights(plain.get_layer("classification_head").get_weights())
    short = pipelines_batch(tokenizer, SHORT_TEXTS, stride=None)
    truncated = plain(short, training=False)
    # The plain classifier's text vector, computed here: the masked mean of the token vectors.
    tokens = np.asarray(backbone(short, training=False)["sequence_output"])
    mask = np.asarray(short["padding_mask"], "float32")[..., None]
    token_mean = (tokens * mask).sum(axis=1) / mask.sum(axis=1)
    np.testing.assert_allclose(truncated, plain.get_layer("classification_head")(token_mean), atol=1e-5)
    np.testing.assert_allclose(windowed(pipelines_batch(tokenizer, SHORT_TEXTS, stride=4), training=False), truncated, atol=1e-5)
    batch = pipelines_batch(tokenizer, [LONG_TEXT], stride=4)
    by_window = np.asarray(plain.logits({name: value[0] for name, value in batch.items()}))
    np.testing.assert_allclose(windowed(batch, training=False)[0], by_window.mean(axis=0), atol=1e-5)
    served = TextWindows(windowed, tokenizer, 12, 4, max_windows=3).logits(tf.constant([LONG_TEXT]))
    np.testing.assert_allclose(served, windowed(batch, training=False), atol=1e-5)


def test_windowed_batches_are_static_or_bucketed_by_window_count(models):
    tokenizer = models["tokenizer"]
    texts = ["good"] * 3 + [LONG_TEXT] * 2
    examples = tf.data.Dataset.from_tensor_slices({"text": texts, "label": [0] * len(texts)})

    def shapes(bucket):
        dataset = pipelines.classification_dataset(
            examples, tokenizer, seq_len=12, batch_size=2, shuffle=False, stride=4, max_windows=4,
            bucket_by_length=bucket,
        )
        return sorted(tuple(x["token_ids"].shape) for x, _ in dataset)

    assert shapes(False) == [(1, 4, 12), (2, 4, 12), (2, 4, 12)]
    assert shapes(True) == [(1, 1, 12), (2, 1, 12), (2, 4, 12)]
    with pytest.raises(ValueError, match="windows .stride. and packing exclude each other"):
        pipelines.classification_dataset(examples, tokenizer, seq_len=12, batch_size=2, stride=4, max_windows=2, pack=True)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"stride": 0}, "stride=0; expected an integer of at least 1"),
        ({"stride": 5, "max_windows": 0}, "max_windows=0; expected an integer of at least 1"),
        ({"max_windows": 2}, "max_windows=2 needs a stride"),
    ],
)
def test_window_settings_below_one_are_errors_naming_the_value(models, settings, message):
    with pytest.raises(ValueError, match=message):
        classify(models["plain"], models["tokenizer"], LONG_TEXT, **settings)
    with pytest.raises(ValueError, match="BertClassifier: window_stride=0; expected an integer of at least 1"):
        BertClassifier(models["plain"].backbone, num_classes=3, window_pooling="mean", window_stride=0)
    with pytest.raises(ValueError, match="window_stride=4, max_windows=None need window_pooling"):
        BertClassifier(models["plain"].backbone, num_classes=3, window_stride=4)


def test_window_settings_come_from_the_config_with_one_set_of_defaults(models):
    windowed = BertClassifier(models["plain"].backbone, 3, window_pooling="max", window_stride=3, max_windows=2)
    clone = BertClassifier.from_config(windowed.get_config())
    assert window_settings_of(clone, 12) == (3, 2)
    assert window_settings_of(clone, 12, max_windows=5) == (3, 5)
    assert window_settings_of(models["windowed"]["mean"], 12) == (5, DEFAULT_MAX_WINDOWS)
    assert window_settings_of(models["plain"], 12) is None
    assert window_settings_of(models["plain"], 12, stride=4) == (4, DEFAULT_MAX_WINDOWS)
    reader = TextWindows(clone, models["tokenizer"], 12)
    assert (reader.stride, reader.max_windows) == (3, 2)


def test_pairs_on_a_windowed_classifier_are_truncated_as_on_a_plain_one(models):
    pairs = [("the cat sat on the mat .", LONG_TEXT), ("good", "bad")]
    plain = classify(models["plain"], models["tokenizer"], pairs, seq_len=12)
    windowed = classify(models["windowed"]["mean"], models["tokenizer"], pairs, seq_len=12)
    for a, b in zip(plain, windowed):
        np.testing.assert_allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-5)
