"""The embedded default data: Python standard-library docstrings, read at run time.

Nothing is downloaded or shipped: the text is whatever the running Python's
standard library says about itself, so it exists on every fresh machine and is
the same on every run with the same Python version (the project pins 3.11).

* Pretraining corpus: one document per module (its docstring plus those of its
  public functions) and one per public class (its docstring plus those of its
  public methods), for the modules in `TOPIC_MODULES`.
* Classification task: which topic area a docstring sentence comes from, one of
  `LABEL_NAMES` (containers, files, network, text). The classes are balanced
  and split deterministically into "train" and "validation".

Example:

>>> documents = embedded_pretraining_documents()
>>> dataset, label_names = embedded_classification("validation")
>>> label_names
['containers', 'files', 'network', 'text']
"""

import functools
import importlib
import inspect
import re
import zlib

import tensorflow as tf

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
SPLITS = ("train", "validation")

# Classification keeps at most this many sentences per class (the smallest
# class has about 520 under Python 3.11); one in five of them is validation.
_EXAMPLES_PER_CLASS = 500
_VALIDATION_FRACTION = 5

# A sentence ends at ".", "!" or "?" followed by whitespace; the same rule as
# `sources.split_sentences`, applied after a docstring's wrapped lines are joined.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


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
    ragged = tf.ragged.constant([list(doc) for _, doc in _documents()])
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
    return [sentence for _, doc in _documents() for sentence in doc]


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


@functools.cache
def _documents():
    """All documents as a tuple of (topic, tuple of sentences)."""
    documents = []
    seen = set()  # A class re-exported by two modules becomes one document.
    for topic in LABEL_NAMES:
        for module_name in TOPIC_MODULES[topic]:
            module = importlib.import_module(module_name)
            for owner, docstrings in _module_docstrings(module):
                if id(owner) in seen:
                    continue
                seen.add(id(owner))
                sentences = tuple(s for d in docstrings for s in _docstring_sentences(d))
                if sentences:
                    documents.append((topic, sentences))
    return tuple(documents)


def _module_docstrings(module):
    """Yields (owner, docstrings): the module with its functions, then each class."""
    names = getattr(module, "__all__", None) or [
        name for name in vars(module) if not name.startswith("_")
    ]
    function_docs = [module.__doc__]
    classes = []
    for name in sorted(set(names)):
        member = getattr(module, name, None)
        if inspect.isclass(member):
            classes.append(member)
        elif callable(member):
            function_docs.append(member.__doc__)
    yield module, function_docs
    for cls in classes:
        # Only the class's own methods: inherited ones would repeat object's docs.
        method_docs = [
            getattr(member, "__doc__", None)
            for name, member in sorted(vars(cls).items())
            if not name.startswith("_") and (callable(member) or isinstance(member, property))
        ]
        yield cls, [cls.__doc__] + method_docs


def _docstring_sentences(docstring):
    """Splits one docstring into clean sentences; skips doctest paragraphs."""
    if not isinstance(docstring, str):
        return []
    sentences = []
    for paragraph in re.split(r"\n\s*\n", inspect.cleandoc(docstring)):
        lines = [line.strip() for line in paragraph.splitlines()]
        if any(line.startswith((">>>", "...")) for line in lines):
            continue
        text = " ".join(" ".join(lines).split())
        sentences.extend(s for s in _SENTENCE_END.split(text) if any(c.isalpha() for c in s))
    return sentences


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
            if _is_prose(sentence):
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
