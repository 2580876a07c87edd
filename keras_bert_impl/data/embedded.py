"""The embedded default data: Python standard-library docstrings, read at run time.

Nothing is downloaded or shipped: the text is whatever the running Python's
standard library says about itself, so it exists on every fresh machine and is
the same on every run with the same Python version (the project pins 3.11).

* Pretraining corpus: one document per module (its docstring plus those of its
  public functions) and one per public class (its docstring plus those of its
  public methods), for the modules in `TOPIC_MODULES` and
  `PRETRAINING_ONLY_MODULES`, less every held-out sentence.
* Classification task: which topic area a docstring sentence comes from, one of
  `LABEL_NAMES` (containers, files, network, text). The classes are balanced
  and split deterministically into "train" and "validation"; no "validation"
  sentence is in the pretraining corpus, so the pretrained model never read
  the text it is scored on.
* Fill-mask check: 20 "validation" sentences, each with one content word
  masked, both chosen by a rule (`embedded_fill_mask_examples`).

Example:

>>> documents = embedded_pretraining_documents()
>>> dataset, label_names = embedded_classification("validation")
>>> label_names
['containers', 'files', 'network', 'text']
>>> masked_text, word = embedded_fill_mask_examples()[0]
"""

import collections
import functools
import re
import zlib

import tensorflow as tf

from keras_bert_impl.data import stdlib_docstrings

# Each topic lists modules whose docstrings talk mostly about that topic, so a
# sentence's words (path, socket, queue, regex...) give its label away.
TOPIC_MODULES = {
    "containers": (
        "collections", "collections.abc", "heapq", "bisect", "array", "queue",
        "dataclasses", "enum", "copy", "weakref", "graphlib", "json", "pickle",
        "struct", "pprint", "operator",
    ),
    "files": (
        "os", "shutil", "pathlib", "glob", "fnmatch", "tempfile", "io",
        "zipfile", "tarfile", "filecmp", "stat", "fileinput",
    ),
    "network": (
        "socket", "socketserver", "http.client", "http.server", "http.cookies",
        "http.cookiejar", "urllib.request", "urllib.parse", "smtplib", "ftplib",
        "imaplib", "poplib", "email.message", "email.utils", "email.parser",
        "email.header", "mailbox",
    ),
    "text": (
        "string", "re", "textwrap", "difflib", "unicodedata", "codecs", "html",
        "html.parser", "locale", "gettext", "shlex", "csv",
    ),
}
LABEL_NAMES = sorted(TOPIC_MODULES)
# More of the standard library for pretraining only (no topic label): a larger
# corpus repeats less within the main job's steps, so the masked LM learns
# words rather than sentences. Not `threading`: test runners replace its
# `excepthook`, so its docstrings would depend on who imports it.
PRETRAINING_ONLY_MODULES = (
    "argparse", "asyncio", "calendar", "configparser", "contextlib", "datetime",
    "decimal", "fractions", "functools", "hashlib", "inspect", "itertools",
    "logging", "math", "random", "sched", "selectors", "statistics",
    "subprocess", "time", "typing", "unittest", "uuid", "zlib",
)
SPLITS = ("train", "validation")

# Classification keeps at most this many sentences per class (the smallest
# class has about 520 under Python 3.11); one in five of them is validation.
_EXAMPLES_PER_CLASS = 500
_VALIDATION_FRACTION = 5

# The fill-mask check: this many "validation" sentences, evenly spaced; the
# masked word is a content word (letters only, at least 4 of them, not in
# `_FUNCTION_WORDS`, not the sentence's first word, which is mostly "Return"),
# the one most frequent in the pretraining corpus, so a small vocabulary keeps
# it whole. The rule was fixed before any score was seen.
_FILL_MASK_SENTENCES = 20
_FUNCTION_WORDS = frozenset(
    "also been both does each either from have into more most must only other "
    "same should such than that their them then there these they this those "
    "when where which while will with would".split()
)

def embedded_pretraining_documents():
    """The embedded pretraining corpus as a dataset of documents.

    Returns:
        A `tf.data.Dataset` of 1-D `tf.string` tensors, the sentences of one
        document each, in a fixed order.

    Example:

    >>> for sentences in embedded_pretraining_documents().take(1):
    ...     print(sentences.shape.rank)
    1
    """
    ragged = tf.ragged.constant([list(doc) for doc in _pretraining_documents()])
    # Slicing a ragged tensor gives ragged-rank-0 RaggedTensorSpec elements;
    # the identity map turns them into plain tensors so padded_batch etc. work.
    return tf.data.Dataset.from_tensor_slices(ragged).map(tf.identity)


def embedded_texts():
    """Every sentence of the embedded pretraining corpus, for learning a vocab.

    Returns:
        A list of `str`, document after document, in a fixed order.

    Example:

    >>> sentences = embedded_texts()
    >>> len(sentences) > 1000
    True
    """
    return [sentence for doc in _pretraining_documents() for sentence in doc]


def embedded_classification(split="train"):
    """The embedded topic-classification task.

    Args:
        split: "train" or "validation".

    Returns:
        `(dataset, label_names)`: a `tf.data.Dataset` of
        `{"text": tf.string, "label": tf.int32}` and the list of label names
        (`LABEL_NAMES`), label id = index in that list.

    Example:

    >>> dataset, names = embedded_classification("train")
    >>> names
    ['containers', 'files', 'network', 'text']
    """
    if split not in SPLITS:
        raise ValueError(
            f"embedded classification has no split {split!r}; expected one of {list(SPLITS)}"
        )
    texts, labels = _labelled_sentences()[split]
    dataset = tf.data.Dataset.from_tensor_slices(
        {"text": tf.constant(texts, tf.string), "label": tf.constant(labels, tf.int32)}
    )
    return dataset, list(LABEL_NAMES)


def embedded_fill_mask_examples():
    """The held-out fill-mask check: sentences with one content word masked.

    Every n-th of `embedded_fill_mask_candidates()` (n spaces
    `_FILL_MASK_SENTENCES` of them evenly), none of which is in the
    pretraining corpus.

    Returns:
        A list of `(masked_text, word)`, `word` lower-cased as an uncased
        vocabulary writes it.

    Example:

    >>> examples = embedded_fill_mask_examples()
    >>> len(examples), all("[MASK]" in text for text, _ in examples)
    (20, True)
    """
    examples = embedded_fill_mask_candidates()
    return examples[:: len(examples) // _FILL_MASK_SENTENCES][:_FILL_MASK_SENTENCES]


def embedded_fill_mask_candidates():
    """Every "validation" sentence that has a content word, with its most
    corpus-frequent one replaced by "[MASK]" (the rule of
    `_FILL_MASK_SENTENCES`): the wider set the 20 held-out examples are
    drawn from, for a less noisy score.

    Returns:
        A list of `(masked_text, word)` in the split's order.

    Example:

    >>> len(embedded_fill_mask_candidates()) > 300
    True
    """
    frequency = _corpus_word_counts()
    examples = []
    for sentence in _labelled_sentences()["validation"][0]:
        candidates = [w.lower() for w in _sentence_words(sentence)[1:] if _is_content_word(w)]
        if candidates:
            # The most frequent candidate; of equals, the first in the sentence.
            word = max(candidates, key=lambda w: (frequency[w], -candidates.index(w)))
            examples.append((_mask_word(sentence, word), word))
    return examples


def _sentence_words(sentence):
    """The sentence's whitespace-separated words, stripped of edge punctuation."""
    return [word.strip(".,;:!?()\"'`") for word in sentence.split()]


def _is_content_word(word):
    return word.isalpha() and len(word) >= 4 and word.lower() not in _FUNCTION_WORDS


def _mask_word(sentence, word):
    """The sentence with the first whole-word occurrence of `word` (any case)
    after its first word masked: the first word is never a candidate."""
    first, rest = sentence.split(" ", 1)
    pattern = re.compile(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", re.IGNORECASE)
    return f"{first} {pattern.sub('[MASK]', rest, count=1)}"


@functools.cache
def _corpus_word_counts():
    """How often each lower-cased word occurs in the pretraining corpus."""
    return collections.Counter(
        word.lower() for doc in _pretraining_documents() for s in doc for word in _sentence_words(s)
    )


@functools.cache
def _pretraining_documents():
    """The pretraining corpus: every document less the held-out ("validation") sentences."""
    # Compared lower-cased: to an uncased model "`True`" and "`true`" are one sentence.
    held_out = {s.lower() for s in _labelled_sentences()["validation"][0]}
    documents = []
    for _, sentences in _documents():
        kept = tuple(s for s in sentences if s.lower() not in held_out)
        if kept:
            documents.append(kept)
    return tuple(documents)


@functools.cache
def _documents():
    """All documents as a tuple of (topic, tuple of sentences); the topic of
    `PRETRAINING_ONLY_MODULES`' documents is None."""
    module_groups = [(topic, TOPIC_MODULES[topic]) for topic in LABEL_NAMES]
    module_groups.append((None, PRETRAINING_ONLY_MODULES))
    return tuple(
        (topic, tuple(sentences)) for topic, sentences in stdlib_docstrings.read_in_clean_python(module_groups)
    )


def _is_prose(sentence):
    """Whether a sentence is worth a label: 5+ words, mostly plain words, not code."""
    words = sentence.split()
    return len(words) >= 5 and sum(word.isalpha() for word in words) >= 0.6 * len(words)


@functools.cache
def _labelled_sentences():
    """{split: (texts, label ids)}, balanced over classes, in a fixed mixed order."""
    topics_of = {}
    for topic, sentences in _documents():
        for sentence in sentences:
            if topic is not None and _is_prose(sentence):
                topics_of.setdefault(sentence, set()).add(topic)
    # A sentence seen under two topics ("Return the value.") has no true label.
    by_topic = {topic: [] for topic in LABEL_NAMES}
    for sentence, topics in topics_of.items():
        if len(topics) == 1:
            by_topic[topics.pop()].append(sentence)

    def stable_order(sentence, purpose):
        # Independent of PYTHONHASHSEED and of module order; a separate order per
        # purpose, or the mixed order would list each class's picks together.
        return zlib.crc32(f"{purpose}:{sentence}".encode("utf-8")), sentence

    per_class = min(_EXAMPLES_PER_CLASS, *(len(s) for s in by_topic.values()))
    num_validation = per_class // _VALIDATION_FRACTION
    splits = {split: [] for split in SPLITS}
    for label, topic in enumerate(LABEL_NAMES):
        chosen = sorted(by_topic[topic], key=lambda s: stable_order(s, "choose"))[:per_class]
        splits["validation"] += [(s, label) for s in chosen[:num_validation]]
        splits["train"] += [(s, label) for s in chosen[num_validation:]]
    result = {}
    for split, examples in splits.items():
        examples.sort(key=lambda example: stable_order(example[0], "mix"))
        result[split] = ([s for s, _ in examples], [label for _, label in examples])
    return result
