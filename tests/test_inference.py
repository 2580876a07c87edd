"""fill_mask, classify and embed on tiny models whose answers are known."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bert_impl as kbi
from keras_bert_impl.inference import classify, embed, fill_mask
from keras_bert_impl.text import SegmentPacker, Tokenizer

FACTS = {"sky": "blue", "grass": "green", "snow": "white", "blood": "red", "coal": "black"}
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "color", "of", "is", "."]
VOCAB += [word for pair in FACTS.items() for word in pair]
MAX_PREDICTIONS = 3


def _tiny_config(**changes):
    return kbi.BertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_layers=2, num_heads=2,
        intermediate_size=64, max_position_embeddings=16,
        hidden_dropout=0.0, attention_dropout=0.0,
    ).replace(**changes)


def _training_data(tokenizer, rng, size=512):
    """ "the color of the X is Y ." with X or Y (and maybe other words) masked."""
    sentences = [f"the color of the {thing} is {color} ." for thing, color in FACTS.items()]
    packed = SegmentPacker.from_tokenizer(tokenizer, 12)(tokenizer(sentences))
    token_ids = packed["token_ids"].numpy()
    rows = rng.integers(0, len(sentences), size)
    x = {name: value.numpy()[rows] for name, value in packed.items()}
    mask_positions = np.zeros((size, MAX_PREDICTIONS), "int32")
    weights = np.zeros((size, MAX_PREDICTIONS), "float32")
    for i in range(size):
        # Position 5 is the thing, 7 the color ([CLS] the color of the X is Y .).
        positions = [rng.choice([5, 7])]
        positions += list(rng.choice([1, 2, 3, 4, 6, 8], size=rng.integers(0, 2), replace=False))
        mask_positions[i, : len(positions)] = positions
        weights[i, : len(positions)] = 1.0
        x["token_ids"][i, positions] = tokenizer.mask_id
    labels = np.take_along_axis(token_ids[rows], mask_positions, axis=1)
    x["mask_positions"] = mask_positions
    return x, {"mlm": labels}, {"mlm": weights}


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    tokenizer = Tokenizer(VOCAB)
    pretrainer = kbi.BertPretrainer(kbi.bert_backbone(_tiny_config()))
    pretrainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, y, weights = _training_data(tokenizer, np.random.default_rng(0))
    with warnings.catch_warnings():
        # Without NSP nothing trains the pooler; Keras says so at every step.
        warnings.filterwarnings("ignore", message="Gradients do not exist")
        pretrainer.fit(x, y, sample_weight=weights, batch_size=32, epochs=12, verbose=0)
    return pretrainer, tokenizer


def test_literal_mask_is_split_by_the_tokenizer():
    # Why fill_mask cuts the text at "[MASK]" instead of tokenizing it whole.
    tokenizer = Tokenizer(VOCAB)
    assert tokenizer("the [MASK] .").numpy().tolist() != [5, tokenizer.mask_id, 9]


def test_fill_mask_finds_the_known_answers(trained):
    pretrainer, tokenizer = trained
    predictions = fill_mask(pretrainer, tokenizer, "The color of the sky is [MASK].", top_k=3)
    assert len(predictions) == 1 and len(predictions[0]) == 3
    best = predictions[0][0]
    assert best["token"] == "blue" and best["token_id"] == VOCAB.index("blue")
    assert best["probability"] > 0.5
    probabilities = [c["probability"] for c in predictions[0]]
    assert probabilities == sorted(probabilities, reverse=True)

    batch = fill_mask(
        pretrainer,
        tokenizer,
        ["the color of the [MASK] is green .", "[MASK] color of the snow is [MASK] ."],
        top_k=1,
    )
    assert [[c[0]["token"] for c in masks] for masks in batch] == [["grass"], ["the", "white"]]


def test_fill_mask_errors(trained):
    pretrainer, tokenizer = trained
    with pytest.raises(ValueError, match="No \\[MASK\\]"):
        fill_mask(pretrainer, tokenizer, ["the sky is blue ."])
    with pytest.raises(ValueError, match="seq_len=16"):
        fill_mask(pretrainer, tokenizer, "the " * 20 + "[MASK]")
    with pytest.raises(ValueError, match="masked-LM head"):
        fill_mask(pretrainer.backbone, tokenizer, "[MASK]")


def test_classify_matches_the_model_and_names_labels():
    keras.utils.set_random_seed(1)
    tokenizer = Tokenizer(VOCAB)
    classifier = kbi.BertClassifier(kbi.bert_backbone(_tiny_config()), num_classes=3)
    texts = ["the sky is blue .", "coal is black"]
    results = classify(classifier, tokenizer, texts, ["a", "b", "c"])
    packed = SegmentPacker.from_tokenizer(tokenizer, 7)(tokenizer(texts))
    expected = tf.nn.softmax(classifier(packed)).numpy()
    for result, row in zip(results, expected):
        assert list(result["probabilities"]) == ["a", "b", "c"]
        np.testing.assert_allclose(list(result["probabilities"].values()), row, atol=1e-6)
        assert result["label"] == "abc"[row.argmax()] and result["label_id"] == row.argmax()
    pair = classify(classifier, tokenizer, [("the sky", "is blue")])[0]
    assert set(pair["probabilities"]) == {"0", "1", "2"}
    with pytest.raises(ValueError, match="2 label names"):
        classify(classifier, tokenizer, "the sky", ["a", "b"])


def test_embed_ignores_padding_and_pools():
    keras.utils.set_random_seed(2)
    tokenizer = Tokenizer(VOCAB)
    backbone = kbi.bert_backbone(_tiny_config())
    alone = embed(backbone, tokenizer, "the sky")
    batched = embed(backbone, tokenizer, ["the sky", "the color of the grass is green ."])
    assert alone.shape == (32,) and batched.shape == (2, 32)
    np.testing.assert_allclose(batched[0], alone, atol=1e-5)
    for pooling in ("cls", "pooled"):
        assert embed(backbone, tokenizer, ["the sky"], pooling=pooling).shape == (1, 32)
    with pytest.raises(ValueError, match="pooling='max'"):
        embed(backbone, tokenizer, "the sky", pooling="max")


def test_bytes_texts_read_as_their_utf8_strings(trained):
    pretrainer, tokenizer = trained
    as_str = fill_mask(pretrainer, tokenizer, "The color of the sky is [MASK].", top_k=2)
    as_bytes = fill_mask(pretrainer, tokenizer, "The color of the sky is [MASK].".encode(), top_k=2)
    assert as_bytes == as_str
    # Invalid UTF-8 is dropped, as the tokenizer and the export do. Compared
    # in batches of the same shape: a CPU's matmul kernels may round a batch
    # of two differently from a batch of one (seen on an AVX2-only machine).
    mixed = fill_mask(pretrainer, tokenizer, [b"the color of the sky\xff is [MASK] .", "[MASK] ."], top_k=2)
    assert mixed == fill_mask(pretrainer, tokenizer, ["The color of the sky is [MASK].", "[MASK] ."], top_k=2)
    backbone = pretrainer.backbone
    np.testing.assert_allclose(embed(backbone, tokenizer, b"the sky"), embed(backbone, tokenizer, "the sky"))
    np.testing.assert_allclose(
        embed(backbone, tokenizer, [(b"the sky", "is blue")]), embed(backbone, tokenizer, [("the sky", b"is blue")])
    )
    with pytest.raises(ValueError, match="str or UTF-8 bytes, got int"):
        fill_mask(pretrainer, tokenizer, ["[MASK]", 3])
