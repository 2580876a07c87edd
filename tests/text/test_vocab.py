"""Vocabulary files: learn, write atomically, read back, reject bad files."""

import os

import pytest
import tensorflow as tf

from keras_bert_impl.text import SPECIAL_TOKENS, Tokenizer, learn_vocab, load_vocab, save_vocab

CORPUS = [
    "The brown fox jumped the old fence and woke a dog.",
    "Dogs and foxes are running; the fox ran quickly!",
    "Café CRÈME, naïve résumé — jumping jumped jumps.",
    "東京 is big. 東京 is busy.",
] * 20


def test_learned_vocab_starts_with_specials_and_covers_the_corpus(tmp_path):
    path = tmp_path / "out" / "vocab.txt"
    tokens = learn_vocab(CORPUS, vocab_size=120, output_path=path)
    assert tokens[:5] == list(SPECIAL_TOKENS)
    assert len(tokens) <= 120 and len(set(tokens)) == len(tokens)
    assert load_vocab(path) == tokens
    assert not [p for p in os.listdir(path.parent) if p != "vocab.txt"]  # no temp left
    tokenizer = Tokenizer(str(path))
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.mask_id) == (0, 1, 4)
    ids = tokenizer(CORPUS[:4]).flat_values.numpy()
    assert tokenizer.unk_id not in ids
    # Lower-cased and accent-stripped like the tokenizer: no upper case, no "é".
    assert not any(t.isupper() or "é" in t for t in tokens[5:])


def test_learn_from_files_and_dataset(tmp_path):
    text_file = tmp_path / "corpus.txt"
    text_file.write_text("\n".join(CORPUS), encoding="utf-8")
    from_file = learn_vocab([text_file], vocab_size=100, lowercase=False)
    from_dataset = learn_vocab(tf.data.Dataset.from_tensor_slices(CORPUS), vocab_size=100, lowercase=False)
    assert from_file == from_dataset
    assert "T" in from_file or "The" in from_file  # cased
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        learn_vocab([tmp_path / "nope.txt"], vocab_size=100)
    with pytest.raises(ValueError, match="vocab_size=5"):
        learn_vocab(CORPUS, vocab_size=5)


def test_bad_vocab_files_are_rejected(tmp_path):
    duplicated = tmp_path / "dup.txt"
    duplicated.write_text("[PAD]\na\nb\na\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dup.txt.*'a' on line 4 repeats line 2"):
        load_vocab(duplicated)
    gap = tmp_path / "gap.txt"
    gap.write_text("a\n\nb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is empty"):
        load_vocab(gap)
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"a\r\nb\r\n\n")
    assert load_vocab(crlf) == ["a", "b"]
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_vocab(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="must not contain a newline"):
        save_vocab(["a", "b\nc"], tmp_path / "x.txt")
