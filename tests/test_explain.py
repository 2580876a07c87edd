"""Integrated gradients (`explain`) and its views, on tiny classifiers.

A classifier trained so that "good" means positive and "bad" negative must
credit those words; the attributions must sum to the logit change
(completeness) at the default number of steps, and visibly not at one step.
"""

import argparse
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bert_impl as kbi
from keras_bert_impl import explanations as explain_module
from keras_bert_impl.cli import predict, run_guarded
from keras_bert_impl.explanation_views import explanation_html, format_explanation, write_explanation_png
from keras_bert_impl.inference import explain
from keras_bert_impl.model_dir import save_model_dir
from keras_bert_impl.text import SegmentPacker, Tokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "film",
         "was", "is", "good", "bad", "very", "it", ".", "##s"]
LABELS = ["negative", "positive"]
SUBJECTS = ["the cat", "a dog", "the film", "it", "the dogs"]


def _classifier(initializer_range=0.02, seed=0, dtype=None, pooling="pooled"):
    keras.utils.set_random_seed(seed)
    config = kbi.BertConfig.preset(
        "bert_tiny", vocab_size=len(VOCAB), hidden_size=32, num_heads=2, intermediate_size=64,
        max_position_embeddings=16, initializer_range=initializer_range,
    )
    return kbi.BertClassifier(kbi.bert_backbone(config, dtype=dtype), num_classes=len(LABELS), pooling=pooling)


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer(VOCAB)


@pytest.fixture(scope="module")
def trained(tokenizer):
    """A classifier whose label is the word "good" (1) or "bad" (0)."""
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for _ in range(128):
        label = int(rng.integers(2))
        very = "very " if rng.random() < 0.5 else ""
        texts.append(f"{rng.choice(SUBJECTS)} {rng.choice(['was', 'is'])} {very}{['bad', 'good'][label]} .")
        labels.append(label)
    inputs = SegmentPacker.from_tokenizer(tokenizer, 10)(tokenizer(texts))
    model = _classifier()
    # A gentle rate: a fast one learns a near-step function of the embeddings,
    # whose integral needs far more than the default steps.
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit({k: v.numpy() for k, v in inputs.items()}, np.array(labels), epochs=4, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def rough(tokenizer):
    """An untrained classifier with large weights: logits that change a lot along the path."""
    return _classifier(initializer_range=0.3)


def _replayed_and_direct_logits(model, tokenizer, text="the dogs was very good ."):
    """`(words, logits of the replayed embedding path, the model's own logits)` for `text`."""
    words, inputs, _ = explain_module._pack_words(tokenizer, text, 16)
    logits_of = explain_module._logits_from_token_vectors(model, inputs["segment_ids"], inputs["padding_mask"])
    vectors, _ = explain_module._token_vectors(model, tokenizer, inputs, "pad")
    return words, logits_of(vectors), model(inputs, training=False)


def test_the_replayed_embedding_path_is_the_model(rough, tokenizer):
    words, replayed, direct = _replayed_and_direct_logits(rough, tokenizer)
    np.testing.assert_allclose(replayed, direct, atol=1e-5)
    assert words == ["the", "dogs", "was", "very", "good", "."]


def test_a_mixed_bfloat16_classifier_is_explained(tokenizer):
    """The main job fine-tunes in mixed_bfloat16: its float32 position table and
    bfloat16 segment embeddings must add up on the replayed path."""
    model = _classifier(seed=1, dtype="mixed_bfloat16")
    words, replayed, direct = _replayed_and_direct_logits(model, tokenizer)
    # The replay rounds to bfloat16 at other points than the layer (8 significant bits).
    np.testing.assert_allclose(replayed, direct, atol=2e-2)
    result = explain(model, tokenizer, "the dogs was very good .")
    assert [w["word"] for w in result["words"]] == words
    assert all(np.isfinite(w["attribution"]) for w in result["words"])


def test_a_mean_pooling_classifier_is_explained_by_its_own_path(tokenizer):
    model = _classifier(initializer_range=0.3, pooling="mean")
    _, replayed, direct = _replayed_and_direct_logits(model, tokenizer)
    np.testing.assert_allclose(replayed, direct, atol=1e-5)
    _assert_complete_at_the_default_steps_not_at_one(model, tokenizer)


@pytest.mark.parametrize("baseline", ["pad", "zero"])
def test_completeness_at_the_default_steps(rough, tokenizer, baseline):
    _assert_complete_at_the_default_steps_not_at_one(rough, tokenizer, baseline=baseline)


def _assert_complete_at_the_default_steps_not_at_one(model, tokenizer, **options):
    """The word attributions sum to the logit's change within 5%, and would not with one step."""
    text = "the cat was very good . it is a bad film"
    result = explain(model, tokenizer, text, **options)
    change = result["logit"] - result["baseline_logit"]
    assert abs(change) > 0.05  # large enough for a 5% bound to mean something
    total = sum(w["attribution"] for w in result["words"])
    assert total - change == pytest.approx(result["delta"], abs=1e-5)
    assert abs(result["delta"]) <= 0.05 * abs(change)
    # One step (the gradient at the midpoint) is far off on this model: the check can fail.
    assert abs(explain(model, tokenizer, text, steps=1, **options)["delta"]) > 0.05 * abs(change)


def test_a_trained_classifier_credits_the_deciding_word(trained, tokenizer):
    good, bad = explain(trained, tokenizer, ["the cat was very good .", "a dog is bad ."], label_names=LABELS)
    assert (good["label"], bad["label"]) == ("positive", "negative")
    for result, word in ((good, "good"), (bad, "bad")):
        ranked = sorted(result["words"], key=lambda w: -w["attribution"])
        assert ranked[0]["word"] == word, ranked
        assert abs(result["delta"]) <= 0.05 * abs(result["logit"] - result["baseline_logit"])
    against = explain(trained, tokenizer, "the cat was very good .", target="negative", label_names=LABELS)
    assert against["label"] == "negative"
    assert min(against["words"], key=lambda w: w["attribution"])["word"] == "good"


def test_words_group_pieces_and_truncation_drops_words(rough, tokenizer):
    # "dogs" is two pieces (dog ##s); seq_len 5 keeps [CLS] the dog ##s [SEP].
    result = explain(rough, tokenizer, b"The DOGS was good", seq_len=5, steps=4)
    assert result["text"] == "The DOGS was good"
    assert [w["word"] for w in result["words"]] == ["the", "dogs"]


def test_bad_arguments_are_clear_errors(rough, tokenizer):
    with pytest.raises(ValueError, match="not one of the labels"):
        explain(rough, tokenizer, "good", target="great", label_names=LABELS)
    with pytest.raises(ValueError, match="steps=0"):
        explain(rough, tokenizer, "good", steps=0)
    with pytest.raises(ValueError, match="baseline='mean'"):
        explain(rough, tokenizer, "good", baseline="mean")
    with pytest.raises(ValueError, match="needs a BertClassifier"):
        explain(rough.backbone, tokenizer, "good")


def test_terminal_and_html_views(trained, tokenizer):
    result = explain(trained, tokenizer, "a dog is <b>good</b> .", label_names=LABELS, steps=8)
    plain = format_explanation(result, top=2)
    lines = plain.splitlines()
    assert lines[0].startswith("positive (logit ")
    assert re.fullmatch(r"  \+\d\.\d{3} good", lines[2])
    assert len(lines) == 4 and "\x1b[" not in plain
    assert "\x1b[48;2;" in format_explanation(result, color=True)
    page = explanation_html([result], title="t<1>")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "t&lt;1&gt;" in page
    assert "&lt;" in page and "<b>" not in page  # the text's markup is escaped, not rendered
    assert len(re.findall(r'<span style="background: rgb\(', page)) == len(result["words"]) + 2


def test_png_view_renders(trained, tokenizer, tmp_path):
    from PIL import Image

    result = explain(trained, tokenizer, "a dog is good .", label_names=LABELS, steps=8)
    write_explanation_png(tmp_path / "explanation.png", [result, result])
    with Image.open(tmp_path / "explanation.png") as image:
        assert image.size == (1000, 198)  # 10 in wide; 0.42 in per line (4 lines) + 0.3 in, at 100 dpi
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels[:, :, 1] > pixels[:, :, 0] + 40).any()  # a green (toward the label) word box
    assert (pixels.min(axis=-1) < 100).mean() > 0.002  # the words themselves


def _predict(*argv):
    parser = argparse.ArgumentParser()
    predict.register(parser.add_subparsers())
    args = parser.parse_args(["predict", *map(str, argv)])
    return run_guarded(args.run, args)


def test_predict_explain_prints_ranks_and_writes_html(trained, tokenizer, tmp_path, capsys):
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n")
    model_dir = tmp_path / "model"
    save_model_dir(str(model_dir), trained, str(vocab_file), lowercase=True, seq_len=16, label_names=LABELS)
    page = tmp_path / "out" / "explain.html"
    assert _predict("the film was good .", "--model", model_dir, "--explain-html", page, "--explain-steps", 8) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("positive (logit") and out[2].endswith(" good") and out[-1] == f"wrote {page}"
    assert re.search(r'title="\+\d\.\d{4}">good</span>', page.read_text())
    assert _predict("good", "--saved-model", tmp_path, "--explain") == 2
    assert "--explain needs --model" in capsys.readouterr().err
    assert _predict("good", "--model", model_dir, "--explain-label", "neutral") == 2
    assert "not one of the labels" in capsys.readouterr().err


TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@pytest.fixture(scope="module")
def rough_tagger():
    keras.utils.set_random_seed(1)
    config = kbi.BertConfig.preset(
        "bert_tiny", vocab_size=len(VOCAB), hidden_size=32, num_heads=2, intermediate_size=64,
        max_position_embeddings=16, initializer_range=0.3,
    )
    tagger = kbi.BertTokenClassifier(kbi.bert_backbone(config), num_classes=len(TAGS))
    # Random weights tag everything "O"; a lower "O" bias makes them find entities.
    (bias,) = [w for w in tagger.get_layer("token_classification_head").weights if "bias" in w.path]
    bias.assign([-3.0, 0.0, 0.0, 0.0, 0.0])
    return tagger


def test_token_classifier_entities_are_the_taggers_and_complete(rough_tagger, tokenizer):
    text = "the cat was very good and the dogs is a bad film"
    result = explain(rough_tagger, tokenizer, text, label_names=TAGS)
    tagged = kbi.inference.tag(rough_tagger, tokenizer, text, TAGS)
    assert [(e["label"], e["entity"]) for e in result["entities"]] == [(e["type"], e["text"]) for e in tagged]
    assert result["entities"], "the random tagger should find at least one entity"
    for entity in result["entities"]:
        change = entity["logit"] - entity["baseline_logit"]
        assert abs(entity["delta"]) <= 0.05 * abs(change)
        assert entity["entity"] == " ".join(w["word"] for w in entity["words"][entity["first_word"] : entity["last_word"] + 1])
        assert format_explanation(entity).startswith(f"{entity['label']} {entity['entity']!r} (logit ")
    only = explain(rough_tagger, tokenizer, text, target="LOC", label_names=TAGS)["entities"]
    assert [e["entity"] for e in only] == [e["entity"] for e in result["entities"] if e["label"] == "LOC"]
    with pytest.raises(ValueError, match="needs its tags"):
        explain(rough_tagger, tokenizer, text)


def test_a_windowed_classifier_explains_one_window_texts_only(rough, tokenizer):
    windowed = kbi.BertClassifier(rough.backbone, num_classes=len(LABELS), window_pooling="mean")
    windowed.get_layer("classification_head").set_weights(rough.get_layer("classification_head").get_weights())
    short = explain(windowed, tokenizer, "the cat was good", seq_len=8, steps=4)
    assert short["logit"] == pytest.approx(explain(rough, tokenizer, "the cat was good", seq_len=8, steps=4)["logit"], abs=1e-5)
    with pytest.raises(ValueError, match="a text of 7 word pieces is more than one window .6."):
        explain(windowed, tokenizer, "the dogs was very good .", seq_len=8, steps=4)
