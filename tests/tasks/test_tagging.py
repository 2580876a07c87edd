"""Token classification: windows label each word once, decode finds it again, hostile text is safe."""

import argparse
import json
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.fuzz import HealthCheck, given, settings, st
from support.passes import assert_exact_passes

from keras_bert_impl import BertConfig, BertTokenClassifier, bert_backbone, tag
from keras_bert_impl.tasks import tagging
from keras_bert_impl.tasks.entities import TagSet
from keras_bert_impl.text import Tokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "ada", "love", "##lace", "in", "london", ".",
         "中", "x", "##y", "é", "mask", "[", "]"]
TOKENIZER = Tokenizer(VOCAB)
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
CONFIG = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_layers=1, num_heads=2,
                    intermediate_size=32, max_position_embeddings=64)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return BertTokenClassifier(bert_backbone(CONFIG), num_classes=len(TAGS))


def _encode(words, tags, seq_len, stride, label_all_pieces=False):
    return tagging.encode_tagged_words(
        TOKENIZER, tf.ragged.constant(words), tf.ragged.constant(tags, tf.int32, ragged_rank=1),
        TagSet(TAGS), seq_len, stride, label_all_pieces=label_all_pieces,
    )


@pytest.mark.parametrize("seq_len, stride", [(6, 1), (6, 4), (9, 3), (64, 31)])
def test_every_word_is_labelled_once_and_decoded_back(seq_len, stride):
    words = [["Ada", "Lovelace", "xyy", "in", "London", "."] * 3, ["\u200b", "中"], ["x"]]
    tags = [[1, 2, 0, 0, 3, 0] * 3, [0, 3], [1]]
    encoded = _encode(words, tags, seq_len, stride)
    assert encoded["weights"].numpy().sum() == sum(map(len, words))
    # Logits that say the label wherever a label is: decoding must give every word its tag.
    logits = tf.one_hot(encoded["labels"], len(TAGS)) * encoded["weights"][..., None]
    decoded = tagging.word_logits(logits, encoded["windows"], encoded["word_ids"])
    assert decoded.with_flat_values(tf.argmax(decoded.flat_values, -1)).to_list() == tags


def test_label_all_pieces_puts_inside_tags_on_later_pieces():
    encoded = _encode([["Lovelace", "London"]], [[1, 3]], seq_len=16, stride=7, label_all_pieces=True)
    labels, weights = encoded["labels"][0].numpy(), encoded["weights"][0].numpy()
    # [CLS] love ##lace london [SEP]
    assert labels[:5].tolist() == [0, 1, 2, 3, 0]
    assert weights[:5].tolist() == [0, 1, 1, 1, 0]


def test_token_classifier_saves_and_keeps_float32_logits_under_mixed_precision(tmp_path, model):
    inputs = {"token_ids": tf.constant([[2, 5, 6, 3]]), "segment_ids": tf.zeros([1, 4], tf.int32),
              "padding_mask": tf.ones([1, 4], tf.int32)}
    path = str(tmp_path / "tagger.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(inputs), model(inputs), atol=1e-6)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = BertTokenClassifier(bert_backbone(CONFIG), num_classes=3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert mixed(inputs).dtype == "float32" and mixed(inputs).shape == (1, 4, 3)


hostile = st.lists(
    st.sampled_from(["Ada", "Lovelace", " ", "London", ".", "中", "[MASK]", "é", "\U0001F600", "\x00", "\u0301"])
    | st.text(max_size=4),
    max_size=14,
).map("".join)
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(texts=st.lists(hostile.map(str.encode) | st.binary(max_size=20), min_size=1, max_size=3))
def test_entity_offsets_cut_the_entity_out_of_the_original_bytes(model, texts):
    tagger = tagging.Tagger(model, TOKENIZER, TAGS, seq_len=6, stride=2)
    out = tagger.entities(tf.constant(texts, tf.string))
    words = tagger.tag_words(tf.constant(texts, tf.string))
    for row, data in enumerate(texts):
        for i in range(out["entity_count"][row]):
            start, end = int(out["start_char"][row, i]), int(out["end_char"][row, i])
            assert 0 <= start < end <= len(data)
            assert out["entity_text"][row, i].numpy() == data[start:end]
        for i in range(words["word_count"][row]):
            start, end = int(words["start_char"][row, i]), int(words["end_char"][row, i])
            assert words["word"][row, i].numpy() == data[start:end] and start < end


def test_long_and_empty_texts_are_tagged_whole(model):
    long_text = "Ada Lovelace in London . " * 4000  # 100k characters
    words = tagging.Tagger(model, TOKENIZER, TAGS, seq_len=64).tag_words(tf.constant([long_text, ""]))
    assert words["word_count"].numpy().tolist() == [5 * 4000, 0]
    assert int(words["end_char"][0, 5 * 4000 - 1]) == len(long_text) - 1
    assert tag(model, TOKENIZER, "", TAGS, seq_len=8) == []


def test_training_stride_is_saved_and_served_with(tmp_path, model):
    args = argparse.Namespace(stride=5, seq_len=32)
    for name, content in tagging.model_files({}, args).items():
        (tmp_path / name).write_text(json.dumps(content), encoding="utf-8")
    serving = types.SimpleNamespace(
        model=model, tokenizer=TOKENIZER, label_names=TAGS, seq_len=32, model_dir_path=str(tmp_path)
    )
    served = tagging.serving_signatures(serving)["serving_default"][0].__self__
    assert served.stride == 5 != tagging.default_stride(32)
    assert tagging.read_stride(str(tmp_path / "converted"), 32) == tagging.default_stride(32)
    # A hand-edited settings file that is not JSON is one error naming it.
    (tmp_path / tagging.SETTINGS_FILE).write_text("{stride: 5}", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{tagging.SETTINGS_FILE}: not valid JSON"):
        tagging.read_stride(str(tmp_path), 32)


def test_training_passes_are_a_function_of_seed_and_pass(tmp_path):
    sentences = [(["ada", "lovelace", "in", "london", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"][: n])
                 for n in range(1, 6)] * 4
    path = tmp_path / "train.conll"
    path.write_text("\n".join(
        "".join(f"{w} NN {t}\n" for w, t in zip(words[: len(tags)], tags)) for words, tags in sentences
    ))
    args = argparse.Namespace(stride=None, seq_len=16, tokens_column="tokens", tags_column=None,
                              label_all_pieces=False, batch_size=3, seed=7)
    assert_exact_passes(tagging.load_data(args, TOKENIZER, str(path), None, "train", training=True))
