"""Tokenizer ids must equal Hugging Face's BertTokenizerFast on the same vocab."""

import random
import unicodedata

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.deps import require

from keras_bert_impl.text import Tokenizer, save_vocab
from keras_bert_impl.text.tokenizer import MAX_WORD_CHARS

BertTokenizerFast = require("transformers").BertTokenizerFast

WORDS = (
    "the a an of to in is was he she it they we you cat dog sat ran on mat house "
    "running jumped quickly über naïve café résumé façade jalapeño straße "
    "hello world token piece unaffable play playing played player "
    "привет мир москва ελλάδα οδος λόγος 東京 日本 中文 ひらがな カタカナ 한국어"
).split()
SUFFIXES = ["##s", "##ing", "##ed", "##er", "##ly", "##aff", "##able", "##un", "##e"]
CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÉÎÕÜÇŒœßẞİıǄǅǆ"
    "ΑΒΓΔΣσςαβγδΟοΛλПриветДЖжЯя中文字我是日本語漢字東京𠀀豈ひらがなカタカナ한국어"
    "😀🥰👍🏽❤\ufe0f👨\u200d👩\u200d👧"
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    "¿¡«»—–…“”‘’·、。「」！？"
    "©®™°±×÷€£¥½¼Ⅻⅻ"
    "ﬁﬂﬀＡＢＣａｂｃ０１２"
    "\u0301\u0303\u0308"
)
CONTROL = "\x00\x01\x07\x1b\x7f\x85\u200b\u200e\u2060\ufeff\ue000\U000e0001\ufffd"
SPACES = "\t\n\r \u00a0\u3000\u2028\u2029\u2003\x0b\x0c"


def _make_vocab():
    rng = random.Random(1)
    chars = set(CHARS)
    for c in CHARS:
        chars.update(c.lower())
        chars.update(unicodedata.normalize("NFD", c.lower()))
    chars = sorted(c for c in chars if not c.isspace() and unicodedata.category(c)[0] != "C")
    # Leave some characters out so that [UNK] words occur.
    kept = [c for c in chars if rng.random() < 0.85]
    tokens = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += WORDS + [w.capitalize() for w in WORDS[:20]] + SUFFIXES
    tokens += kept + ["##" + c for c in kept if rng.random() < 0.9]
    return list(dict.fromkeys(tokens))


def _random_sentence(rng, vocab_chars):
    kind = rng.random()
    if kind < 0.05:
        return rng.choice(["", " ", "\t\n", "\u3000\u00a0", "\x00\x07", "\ufffd"])
    parts = []
    for _ in range(rng.randint(1, 14)):
        r = rng.random()
        if r < 0.45:
            word = rng.choice(WORDS)
            word = rng.choice([word, word.upper(), word.capitalize()])
            parts.append(word + rng.choice(["", "", "s", "ing", "ly"]))
        elif r < 0.65:
            parts.append("".join(rng.choice(CHARS) for _ in range(rng.randint(1, 6))))
        elif r < 0.75:
            parts.append("".join(rng.choice("!?.,;:-()[]{}'\"…«»¿¡、。") for _ in range(rng.randint(1, 5))))
        elif r < 0.82:
            n = rng.choice([MAX_WORD_CHARS - 1, MAX_WORD_CHARS, MAX_WORD_CHARS + 1, 150])
            parts.append("".join(rng.choice(vocab_chars) for _ in range(n)))
        elif r < 0.9:
            parts.append(rng.choice(CONTROL).join(rng.choice(WORDS) for _ in range(2)))
        else:
            parts.append("".join(rng.choice(CHARS + CONTROL) for _ in range(rng.randint(1, 8))))
    seps = [rng.choice([" ", " ", " ", "", rng.choice(SPACES)]) for _ in parts]
    return "".join(p + s for p, s in zip(parts, seps))


@pytest.fixture(scope="module")
def vocab_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    save_vocab(_make_vocab(), path)
    return str(path)


@pytest.fixture(scope="module")
def sentences():
    rng = random.Random(7)
    vocab_chars = "abcdefghijklmnopqrstuvwxyz"
    fixed = [
        "", " ", "\t\r\n", "Hello, World!", "ﬁ ＡＢＣ ½ Ⅻ", "ΟΔΟΣ Σ aΣ", "İstanbul Ǆ ǅ ẞ",
        "中文字abc我是", "naïve café", "e\u0301 n\u0303", "👨\u200d👩\u200d👧 ❤\ufe0f",
        "a" * MAX_WORD_CHARS, "a" * (MAX_WORD_CHARS + 1), "é" * (MAX_WORD_CHARS + 1),
        "...!!!???", "$100 @home #tag", "a\x00b\u200bc", "unaffable", "[MASK] [CLS]",
    ]
    return fixed + [_random_sentence(rng, vocab_chars) for _ in range(400)]


@pytest.mark.parametrize("lowercase", [True, False])
def test_ids_match_huggingface(vocab_path, sentences, lowercase):
    reference = BertTokenizerFast(vocab=vocab_path, do_lower_case=lowercase)
    expected = reference(sentences, add_special_tokens=False, split_special_tokens=True)
    tokenizer = Tokenizer(vocab_path, lowercase=lowercase)
    # transformers silently falls back to a 5-token vocab on a wrong argument.
    assert len(reference.get_vocab()) == tokenizer.vocab_size
    got = tokenizer(tf.constant(sentences)).to_list()
    mismatches = [
        (s, g, e) for s, g, e in zip(sentences, got, expected["input_ids"]) if g != e
    ]
    assert not mismatches, mismatches[:3]
    assert any(tokenizer.unk_id in ids for ids in got)
    # The ligature and fullwidth letters survive lower-casing (no NFKC).
    ligature_row = got[sentences.index("ﬁ ＡＢＣ ½ Ⅻ")]
    assert tokenizer.id_to_token(ligature_row[:1]).numpy()[0].decode() == "ﬁ"

    # Word grouping agrees with the reference pre-tokenizer's word ids.
    words = tokenizer.tokenize_words(tf.constant(sentences))
    for i, row in enumerate(words.row_lengths(axis=2).to_list()):
        word_ids = expected.word_ids(i)
        assert row == [word_ids.count(w) for w in sorted(set(word_ids))]


def test_invalid_utf8_is_decoded_with_replacement(vocab_path):
    tokenizer = Tokenizer(vocab_path)
    got = tokenizer(tf.constant([b"ca\xfft s\xc3at", "cat sat".encode()])).to_list()
    assert got[0] == tokenizer(["cat sat"]).to_list()[0]
    assert got[1] == got[0]


def test_detokenize_round_trip(vocab_path):
    tokenizer = Tokenizer(vocab_path)
    texts = ["The cat sat on the mat.", "unaffable players, playing!", "Café über Straße"]
    ids = tokenizer(texts)
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    text_back = tokenizer.detokenize(ids)
    assert text_back.numpy()[0].decode() == "the cat sat on the mat ."
    assert tokenizer(text_back).to_list() == ids.to_list()
    padded = ids.to_tensor(default_value=tokenizer.pad_id)
    assert tokenizer.detokenize(padded).numpy().tolist() == text_back.numpy().tolist()
    assert tokenizer.detokenize(ids[0]).numpy() == text_back.numpy()[0]


def test_special_ids_are_looked_up(vocab_path):
    tokenizer = Tokenizer(vocab_path)
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id) == (0, 2, 3)
    assert (tokenizer.sep_id, tokenizer.mask_id) == (4, 5)
    assert tokenizer.special_ids == (0, 2, 3, 4, 5)
    assert tokenizer.token_to_id("cat") == tokenizer.vocabulary.index("cat")
    assert tokenizer.id_to_token(tf.constant([5])).numpy().tolist() == [b"[MASK]"]
    with pytest.raises(ValueError, match="'zzz' is not in the vocabulary"):
        tokenizer.token_to_id("zzz")
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[MASK\]'\]"):
        Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "cat"])
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        Tokenizer("/nonexistent/missing.txt")


def test_scalar_input_and_tf_data(vocab_path):
    tokenizer = Tokenizer(vocab_path)
    expected = tokenizer(["the cat sat"]).to_list()[0]
    assert tokenizer("the cat sat").numpy().tolist() == expected
    dataset = tf.data.Dataset.from_tensor_slices(["the cat sat", "a dog"]).map(tokenizer)
    assert [x.numpy().tolist() for x in dataset][0] == expected


def test_config_round_trip_and_saved_model(vocab_path, tmp_path):
    tokenizer = Tokenizer(vocab_path, lowercase=False)
    clone = Tokenizer.from_config(tokenizer.get_config())
    assert clone.vocabulary == tokenizer.vocabulary and not clone.lowercase
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(tokenizer))
    assert restored.vocabulary == tokenizer.vocabulary

    module = tf.Module()
    module.tokenizer = tokenizer
    module.serve = tf.function(
        lambda texts: tokenizer(texts).to_tensor(), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    tf.saved_model.save(module, str(tmp_path / "served"))
    loaded = tf.saved_model.load(str(tmp_path / "served"))
    texts = tf.constant(["Hello, World!", "naïve café"])
    np.testing.assert_array_equal(loaded.serve(texts), tokenizer(texts).to_tensor())
