"""Literal [MASK]s in a text become the mask id; everything else is tokenized as usual."""

import tensorflow as tf

from keras_bert_impl.text import Tokenizer
from keras_bert_impl.text.masked_text import tokenize_masked_text

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", ".", "[", "]", "mask"]
THE, CAT, SAT, DOT, MASK = 5, 6, 7, 8, 4


def test_each_literal_mask_becomes_the_mask_id():
    tokenizer = Tokenizer(VOCAB)
    texts = tf.constant([
        "the [MASK] sat.",
        "[MASK][MASK]",  # adjacent, at the start
        "The cat sat [MASK]",  # at the end, after normalisation of the rest
        "no mask here",
        "",
        b"the cat\xff [MASK]",
    ])
    assert tokenize_masked_text(tokenizer, texts).to_list() == [
        [THE, MASK, SAT, DOT],
        [MASK, MASK],
        [THE, CAT, SAT, MASK],
        [1, 11, 1],  # "no" and "here" are unknown; "mask" alone is a word
        [],
        [THE, CAT, MASK],  # an invalid byte is dropped, as the tokenizer does
    ]


def test_the_tokenizer_alone_splits_the_literal():
    # Why the text is cut at "[MASK]" before tokenizing.
    tokenizer = Tokenizer(VOCAB)
    assert tokenizer(tf.constant(["the [MASK]"])).to_list() == [[THE, 9, 11, 10]]
