"""The embedded default data: offline, deterministic, balanced, labels carried by words."""

import collections
import inspect
import logging
import os
import pathlib
import subprocess
import sys
import zlib

import pytest
import tensorflow as tf

from keras_bert_impl.data import embedded
from keras_bert_impl.data.embedded import (
    LABEL_NAMES,
    embedded_classification,
    embedded_fill_mask_examples,
    embedded_pretraining_documents,
    embedded_texts,
)


def classification(split):
    dataset, names = embedded_classification(split)
    texts, labels = [], []
    for example in dataset:
        texts.append(example["text"].numpy().decode("utf-8"))
        labels.append(int(example["label"].numpy()))
    return texts, labels, names


def test_pretraining_corpus_is_thousands_of_clean_sentences():
    texts = embedded_texts()
    assert 3000 <= len(texts) <= 10000
    assert all(s == " ".join(s.split()) and s for s in texts)
    assert not any(s.startswith(">>>") for s in texts)
    documents = [doc.numpy() for doc in embedded_pretraining_documents()]
    assert len(documents) >= 100
    assert all(len(doc) > 0 for doc in documents)
    assert [s.decode("utf-8") for doc in documents for s in doc] == texts


def test_pretraining_corpus_size_is_what_readme_quotes():
    # README "Embedded data" quotes these figures (Python 3.11 docstrings).
    texts = embedded_texts()
    words = sum(len(sentence.split()) for sentence in texts)
    assert (len(list(embedded_pretraining_documents())), len(texts), round(words, -3)) == (481, 7959, 92000)


def test_classification_is_balanced_and_split_without_overlap():
    train_texts, train_labels, names = classification("train")
    validation_texts, validation_labels, _ = classification("validation")
    assert names == LABEL_NAMES == ["containers", "files", "network", "text"]
    train_counts = collections.Counter(train_labels)
    validation_counts = collections.Counter(validation_labels)
    assert set(train_counts.values()) == {len(train_labels) // 4}
    assert set(validation_counts.values()) == {len(validation_labels) // 4}
    assert 1000 <= len(train_labels) <= 2000 and len(validation_labels) * 4 == len(train_labels)
    assert not set(train_texts) & set(validation_texts)
    # The training order mixes classes, so a plain take(n) is not one class.
    assert len(set(train_labels[:20])) == 4


def test_labels_follow_topic_words():
    texts, labels, names = classification("train")
    cues = {"files": "file", "network": "message", "containers": "queue", "text": "string"}
    for name, word in cues.items():
        with_word = [label for text, label in zip(texts, labels) if word in text.lower().split()]
        most_common = collections.Counter(with_word).most_common(1)[0][0]
        assert names[most_common] == name, (word, collections.Counter(with_word))


def fingerprint():
    train_texts, train_labels = embedded._labelled_sentences()["train"]
    return f"{zlib.crc32('|'.join(embedded_texts() + train_texts).encode())} {sum(train_labels)}"


def test_same_data_in_a_fresh_process_with_another_hash_seed():
    code = "from tests.data.test_embedded import fingerprint; print(fingerprint())"
    env = dict(os.environ, PYTHONHASHSEED="12345", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
        cwd=pathlib.Path(__file__).parents[2],  # the repository root, where `tests` imports
    )
    assert result.stdout.strip() == fingerprint()


def test_what_this_process_patched_in_the_standard_library_does_not_change_the_data(monkeypatch):
    # As torch patches inspect.getfile and transformers adds logging.Logger methods on import.
    before = embedded._documents()
    monkeypatch.setattr(inspect, "getfile", lambda obj: "patched")
    monkeypatch.setattr(logging.Logger, "shout", lambda self: None, raising=False)
    embedded._documents.cache_clear()
    try:
        assert embedded._documents() == before
    finally:
        embedded._documents.cache_clear()


def test_unknown_split_is_an_error():
    message = r"no split 'test'; expected one of \['train', 'validation'\]"
    with pytest.raises(ValueError, match=message):
        embedded_classification("test")


def test_element_specs_match_the_source_functions():
    assert embedded_pretraining_documents().element_spec == tf.TensorSpec([None], tf.string)
    dataset, _ = embedded_classification("train")
    assert dataset.element_spec == {
        "text": tf.TensorSpec([], tf.string),
        "label": tf.TensorSpec([], tf.int32),
    }
    assert embedded.SPLITS == ("train", "validation")


def test_held_out_sentences_are_not_in_the_pretraining_corpus():
    validation_texts, _, _ = classification("validation")
    pretraining = set(embedded_texts())
    assert not pretraining & set(validation_texts)
    unmasked = [text.replace("[MASK]", word) for text, word in embedded_fill_mask_examples()]
    # Masking keeps the sentence's case except the masked word's, which is lower-cased.
    validation_lower = {text.lower() for text in validation_texts}
    assert all(text.lower() in validation_lower for text in unmasked)
    assert not {text.lower() for text in pretraining} & {text.lower() for text in unmasked}


def test_masking_skips_the_first_word_even_when_it_is_the_masked_word():
    assert embedded._mask_word("Queue items go to the queue.", "queue") == "Queue items go to the [MASK]."


def test_fill_mask_masks_the_most_frequent_content_word_of_evenly_spread_sentences():
    examples = embedded_fill_mask_examples()
    assert len(examples) == 20 and len({text for text, _ in examples}) == 20
    counts = embedded._corpus_word_counts()
    validation_texts, _, _ = classification("validation")
    positions = []
    for text, word in examples:
        assert text.count("[MASK]") == 1
        words = text.split()
        assert not words[0].startswith("[MASK]")  # never the first word
        assert word.isalpha() and len(word) >= 4 and word == word.lower()
        assert word not in embedded._FUNCTION_WORDS
        others = [w.strip(".,;:!?()\"'`").lower() for w in words[1:] if "[MASK]" not in w]
        assert all(counts[word] >= counts[other] for other in others if embedded._is_content_word(other))
        positions.append(validation_texts.index(text.replace("[MASK]", _original_case(text, word, validation_texts))))
    # Spread over the whole validation split, not its first sentences.
    assert positions == sorted(positions) and positions[-1] > 0.9 * len(validation_texts)


def _original_case(masked_text, word, texts):
    """The masked word as the validation sentence writes it."""
    before, after = masked_text.split("[MASK]")
    (original,) = {t[len(before):len(t) - len(after)] for t in texts if t.startswith(before) and t.endswith(after)}
    assert original.lower() == word
    return original
