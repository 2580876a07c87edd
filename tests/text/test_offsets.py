"""WordPiece offsets: same ids as the tokenizer, spans that cut the input at characters."""

import pytest
import tensorflow as tf
from support.fuzz import HealthCheck, given, settings, st

from keras_bert_impl.text import Tokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "paris", "##s", "a", "b", "ab", "##b",
         "中", "文", ".", "!", "[", "]", "mask", "i", "σ", "##σ", "ⱥ", "x", "##x", "ǆ", "dz"]
LOWER = Tokenizer(VOCAB, lowercase=True)
CASED = Tokenizer(VOCAB, lowercase=False)
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
known = st.lists(
    st.sampled_from(["a", "b", "ab", "Café", "PARIS", "s", "中文", "!", " ", "\t", "[MASK]", "Σ", "Ⱥ", "ǅ",
                     "\u0301", "\x00", "\u200b", "x" * 101, "\U0001F600", "İ", "\ufffd"])
    | st.text(max_size=3),
    max_size=10,
).map("".join)
any_bytes = st.binary(max_size=30) | (st.text(max_size=30) | known).map(lambda t: t.encode("utf-8"))


def _char_boundaries(data):
    """Byte offsets where the input's characters start (and its end)."""
    _, starts = tf.strings.unicode_split_with_offsets(data, "UTF-8", errors="replace")
    return set(starts.numpy().tolist()) | {len(data)}


def test_example_spans_are_bytes_of_the_original_text():
    out = LOWER.tokenize_with_offsets(["Café Pariss.", "中文 ǅ"])
    text = "Café Pariss.".encode()
    spans = [text[s:e].decode() for s, e in zip(out["start"][0].numpy(), out["end"][0].numpy())]
    assert spans == ["Café", "Paris", "s", "."]
    assert out["word_ids"].to_list() == [[0, 1, 1, 2], [0, 1, 2]]
    # "ǅ" lower-cases to "ǆ": one input character, one piece, its two bytes.
    assert out["start"][1].numpy().tolist() == [0, 3, 7]
    assert out["end"][1].numpy().tolist() == [3, 6, 9]


@pytest.mark.parametrize("tokenizer", [LOWER, CASED], ids=["uncased", "cased"])
@FUZZ
@given(texts=st.lists(any_bytes, min_size=1, max_size=3))
def test_same_ids_as_the_tokenizer_and_spans_cut_at_characters(tokenizer, texts):
    out = tokenizer.tokenize_with_offsets(tf.constant(texts, tf.string))
    assert out["token_ids"].to_list() == tokenizer(tf.constant(texts, tf.string)).to_list()
    words = tokenizer.tokenize_words(tf.constant(texts, tf.string)).to_list()
    for row, data in enumerate(texts):
        starts = out["start"][row].numpy().tolist()
        ends = out["end"][row].numpy().tolist()
        word_ids = out["word_ids"][row].numpy().tolist()
        boundaries = _char_boundaries(data)
        assert all(0 <= s < e <= len(data) for s, e in zip(starts, ends))
        assert set(starts) <= boundaries and set(ends) <= boundaries
        assert starts == sorted(starts) and word_ids == sorted(word_ids)
        # Each word's span, tokenized alone, is that word again.
        for word, pieces in enumerate(words[row]):
            in_word = [i for i, w in enumerate(word_ids) if w == word]
            span = data[starts[in_word[0]] : ends[in_word[-1]]]
            assert tokenizer(span).numpy().tolist() == pieces, (data, span)


def test_scalar_and_empty_inputs():
    single = LOWER.tokenize_with_offsets("ab b")
    assert single["token_ids"].numpy().tolist() == [10, 9]
    assert single["end"].numpy().tolist() == [2, 4]
    empty = LOWER.tokenize_with_offsets(tf.constant([], tf.string))
    assert empty["token_ids"].shape[0] == 0
    blank = LOWER.tokenize_with_offsets(["", " \t\x00"])
    assert blank["start"].to_list() == [[], []]


def test_runs_in_a_traced_function():
    fn = tf.function(LOWER.tokenize_with_offsets, input_signature=[tf.TensorSpec([None], tf.string)])
    out = fn(tf.constant(["Café.", "中"]))
    assert out["end"].to_list() == [[5, 6], [3]]
