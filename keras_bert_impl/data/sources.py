"""Where training text comes from: local files, TensorFlow Datasets, or the embedded default.

Two kinds of data, each read from any kind of source:

* `pretraining_documents`: documents, each a 1-D `tf.string` tensor of sentences.
* `classification_examples`: `{"text", "text_b" (optional), "label"}` examples and
  the list of label names (label id = index in that list).

A source is one of:

* a path, a glob, or a list of paths and globs (anything `tf.io.gfile` opens,
  so gs:// works too). Globs are expanded in sorted order.
* "tfds:NAME", e.g. "tfds:wikipedia/20230601.en" or "tfds:glue/sst2": a
  TensorFlow Datasets dataset, loaded (and downloaded if needed) by `tfds.load`.
* "embedded": the standard-library docstring corpus of `embedded.py`.

Local classification files are parsed and checked when the function is called:
bad data raises ValueError / FileNotFoundError naming the file, line, column
and problem, before any training starts. Pretraining corpora may be many
gigabytes, so they are read in-graph and only checked early for existence.

Example:

>>> documents = pretraining_documents("corpus/*.txt")
>>> train, names = classification_examples("train.tsv", text_column="sentence")
>>> dev, _ = classification_examples("dev.tsv", text_column="sentence", label_names=names)
"""

import csv
import io
import json
import os
import re

import tensorflow as tf

from keras_bert_impl.data import embedded
from keras_bert_impl.io_utils import write_text_atomically

TFDS_PREFIX = "tfds:"
EMBEDDED_SOURCE = "embedded"
CLASSIFICATION_FILE_TYPES = (".tsv", ".csv", ".jsonl")

_GLOB_CHARACTERS = re.compile(r"[*?[]")
# A label written as a non-negative decimal integer is a label id.
_LABEL_ID = re.compile(r"[0-9]+")


def pretraining_documents(source, *, text_feature="text", split="train"):
    """Reads a pretraining corpus as a dataset of documents.

    Local files follow the original BERT convention: UTF-8 plain text, one
    sentence per line, a blank line between documents. Lines are stripped;
    bytes that are not UTF-8 become U+FFFD (a multi-gigabyte crawl should not
    stop on one bad byte). Each file is read whole into memory, so shard big
    corpora into files of a few hundred megabytes. For "tfds:NAME" each example's `text_feature` is
    one document, split by `split_sentences`.

    Args:
        source: path, glob, list of paths/globs, "tfds:NAME" or "embedded".
        text_feature: the tfds feature holding the document text.
        split: the tfds split (e.g. "train", "train[:1%]"); local files and the
            embedded corpus have a single split and ignore it.

    Returns:
        A `tf.data.Dataset` of 1-D `tf.string` tensors, one document's sentences
        each, never empty, in file order.

    Raises:
        FileNotFoundError: a path or glob matches no file.
        ValueError: a file is empty, a path is a directory, or the tfds dataset
            has no text feature `text_feature`.

    Example:

    >>> for sentences in pretraining_documents("embedded").take(1):
    ...     print(sentences.dtype)
    <dtype: 'string'>
    """
    if source == EMBEDDED_SOURCE:
        return embedded.embedded_pretraining_documents()
    if is_tfds(source):
        return _tfds_documents(source, text_feature, split)
    files = resolve_files(source)
    for path in files:
        if tf.io.gfile.stat(path).length == 0:
            raise ValueError(
                f"{path}: file is empty; expected UTF-8 text, one sentence per line, "
                "a blank line between documents"
            )
    return tf.data.Dataset.from_tensor_slices(files).flat_map(_text_file_documents)


def classification_examples(
    source,
    *,
    text_column="text",
    text_b_column=None,
    label_column="label",
    label_names=None,
    split="train",
):
    """Reads labelled examples for sequence classification.

    Local files: .tsv (tab-separated, no quoting, as GLUE ships them), .csv
    (comma-separated, standard quoting) - both with a header row naming the
    columns - or .jsonl (one JSON object per line, keys as columns). Blank
    lines are skipped. "tfds:NAME" needs Text features and a ClassLabel label.

    Labels: without `label_names`, labels that are all non-negative integers are
    ids as written (names "0", "1", ... up to the largest); otherwise the
    distinct names, sorted, are the label names. With `label_names` (an eval
    set, or `load_label_names` of a trained model) a label is looked up by name,
    or taken as an id if it is an integer below `len(label_names)`; any other
    label is an error.

    Args:
        source: path, glob, list of paths/globs, "tfds:NAME" or "embedded".
        text_column: column/key/feature of the (first) text.
        text_b_column: column of the second text of a pair, or None.
        label_column: column/key/feature of the label.
        label_names: known label names, or None to collect them from the data.
        split: the tfds split or the embedded split ("train", "validation");
            a local file is already one split and ignores it.

    Returns:
        `(dataset, label_names)`: a `tf.data.Dataset` of `{"text": tf.string,
        "text_b": tf.string (only with text_b_column), "label": tf.int32}` and a
        list of label name strings.

    Raises:
        FileNotFoundError: a path or glob matches no file.
        ValueError: bad data; the message names file, line, column and problem.

    Example:

    >>> dataset, names = classification_examples("embedded", split="validation")
    >>> names
    ['containers', 'files', 'network', 'text']
    """
    if label_names is not None:
        label_names = checked_label_names(label_names, "label_names")
    if source == EMBEDDED_SOURCE:
        dataset, names = embedded.embedded_classification(split)
        _check_label_names_match(label_names, names, source)
        return dataset, names
    text_columns = {"text": text_column}
    if text_b_column is not None:
        text_columns["text_b"] = text_b_column
    if is_tfds(source):
        return _tfds_examples(source, text_columns, label_column, label_names, split)
    return _file_examples(resolve_files(source), text_columns, label_column, label_names)


def split_sentences(text):
    """Splits one document into sentences, in-graph.

    The rule is deliberately simple: a sentence ends at a newline, or at ".",
    "!" or "?" followed by whitespace. Abbreviations ("e.g. this") split too;
    pieces are stripped and empty ones dropped.

    Args:
        text: scalar `tf.string`.

    Returns:
        1-D `tf.string` tensor of sentences.

    Example:

    >>> split_sentences(tf.constant("One. Two!\\nThree")).numpy().tolist()
    [b'One.', b'Two!', b'Three']
    """
    marked = tf.strings.regex_replace(text, r"([.!?])\s+", "\\1\n")
    pieces = tf.strings.strip(tf.strings.split(marked, "\n"))
    return tf.boolean_mask(pieces, tf.strings.length(pieces) > 0)


def save_label_names(path, names):
    """Writes label names as a JSON list (labels.json), atomically.

    Args:
        path: file to write; its directory is created if needed.
        names: distinct, non-empty label name strings, in label-id order.

    Example:

    >>> save_label_names("/tmp/model/labels.json", ["negative", "positive"])
    """
    names = checked_label_names(names, f"label names for {path}")
    write_text_atomically(path, json.dumps(names, indent=2, ensure_ascii=False) + "\n")


def load_label_names(path):
    """Reads label names written by `save_label_names`.

    Args:
        path: a labels.json file.

    Returns:
        The list of label names, label id = index.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a JSON list of distinct, non-empty strings.

    Example:

    >>> load_label_names("/tmp/model/labels.json")
    ['negative', 'positive']
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no such file; expected a JSON list of label names")
    with tf.io.gfile.GFile(path, "r") as file:
        text = file.read()
    try:
        names = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}: not valid JSON ({error}); expected a list of label names"
        ) from None
    return checked_label_names(names, path)


def is_tfds(source):
    """Whether `source` names a TensorFlow Datasets dataset (`"tfds:NAME"`)."""
    return isinstance(source, str) and source.startswith(TFDS_PREFIX)


def resolve_files(source):
    """Expands a path, glob or list of them into a list of existing files.

    Every file reader of `keras_bert_impl.data` goes through this, so they all
    accept the same sources and fail with the same errors.

    Args:
        source: a path, a glob, or a list of them.

    Returns:
        The files, in the order given (each glob's matches sorted).

    Raises:
        FileNotFoundError: a path does not exist or a glob matches nothing.
        ValueError: `source` is an empty list, or a path is a directory.

    Example:
        >>> resolve_files("data/train-*.txt")  # doctest: +SKIP
        ['data/train-00.txt', 'data/train-01.txt']
    """
    patterns = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not patterns:
        raise ValueError(
            "source is an empty list; expected paths, globs, 'tfds:NAME' or 'embedded'"
        )
    files = []
    for pattern in map(os.fspath, patterns):
        if _GLOB_CHARACTERS.search(pattern):
            matches = sorted(m for m in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(m))
            if not matches:
                raise FileNotFoundError(f"no file matches {pattern!r}")
            files.extend(matches)
        elif not tf.io.gfile.exists(pattern):
            raise FileNotFoundError(f"{pattern}: no such file")
        elif tf.io.gfile.isdir(pattern):
            raise ValueError(
                f"{pattern} is a directory; expected a file or a glob such as {pattern}/*"
            )
        else:
            files.append(pattern)
    return files


def _text_file_documents(path):
    """Documents of one BERT-format text file.

    The file is read whole and grouped with vectorized ops: a per-line
    tf.data loop is about 20x slower, and BERT's own data script also holds
    its input in memory. Corpora are expected in shards of modest size.
    """
    lines = tf.strings.split(tf.io.read_file(path), "\n")
    lines = tf.strings.unicode_transcode(lines, "UTF-8", "UTF-8", errors="replace")
    lines = tf.strings.strip(lines)
    blank = tf.equal(lines, "")
    # Document id of a line = number of blank lines before it; runs of blank
    # lines leave empty documents behind, which are filtered out.
    document_ids = tf.cumsum(tf.cast(blank, tf.int64))
    documents = tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(lines, ~blank), tf.boolean_mask(document_ids, ~blank)
    )
    # Slicing a ragged tensor gives ragged-rank-0 RaggedTensorSpec elements;
    # the identity map turns them into plain tensors so padded_batch etc. work.
    return (
        tf.data.Dataset.from_tensor_slices(documents)
        .filter(lambda doc: tf.size(doc) > 0)
        .map(tf.identity)
    )


def import_tfds():
    """The `tensorflow_datasets` module, imported on first use.

    tensorflow_datasets takes seconds to import and only `"tfds:"` sources
    need it, so readers call this instead of importing it at the top.
    """
    import tensorflow_datasets as tfds

    return tfds


def _tfds_feature(source, features, name, kind, argument):
    """Checks that tfds `features` has a feature `name` of type `kind`."""
    if name not in features or not isinstance(features[name], kind):
        candidates = [key for key, feature in features.items() if isinstance(feature, kind)]
        raise ValueError(
            f"{source} has no {kind.__name__} feature {name!r}; its {kind.__name__} features "
            f"are {candidates}: pass one as {argument}"
        )
    return features[name]


def _tfds_documents(source, text_feature, split):
    tfds = import_tfds()
    dataset, info = tfds.load(source.removeprefix(TFDS_PREFIX), split=split, with_info=True)
    _tfds_feature(source, info.features, text_feature, tfds.features.Text, "text_feature")
    return dataset.map(
        lambda example: split_sentences(example[text_feature]),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).filter(lambda doc: tf.size(doc) > 0)


def _tfds_examples(source, text_columns, label_column, label_names, split):
    tfds = import_tfds()
    dataset, info = tfds.load(source.removeprefix(TFDS_PREFIX), split=split, with_info=True)
    for key, column in text_columns.items():
        _tfds_feature(source, info.features, column, tfds.features.Text, f"{key}_column")
    label = _tfds_feature(
        source, info.features, label_column, tfds.features.ClassLabel, "label_column"
    )
    names = list(label.names)
    _check_label_names_match(label_names, names, source)

    def to_example(features):
        example = {key: features[column] for key, column in text_columns.items()}
        example["label"] = tf.cast(features[label_column], tf.int32)
        return example

    return dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE), names


def _check_label_names_match(label_names, names, source):
    if label_names is not None and label_names != names:
        raise ValueError(f"{source} has labels {names}, but label_names is {label_names}")


def _file_examples(files, text_columns, label_column, label_names):
    """Parses and checks local classification files into a dataset."""
    columns = [*text_columns.values(), label_column]
    texts = {key: [] for key in text_columns}
    labels, locations = [], []
    for path in files:
        for line, row in _file_rows(path, columns):
            for key, column in text_columns.items():
                texts[key].append(_text_value(row[column], path, line, column))
            labels.append(_label_value(row[label_column], path, line, label_column))
            locations.append((path, line))
    label_ids, label_names = _label_ids(labels, locations, label_column, label_names)
    examples = {key: tf.constant(values, tf.string) for key, values in texts.items()}
    examples["label"] = tf.constant(label_ids, tf.int32)
    return tf.data.Dataset.from_tensor_slices(examples), label_names


def _file_rows(path, columns):
    """[(line number, {column: value})] of one file, with `columns` present."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in CLASSIFICATION_FILE_TYPES:
        raise ValueError(
            f"{path}: unsupported file type {extension!r}; "
            f"expected one of {list(CLASSIFICATION_FILE_TYPES)}"
        )
    text = read_utf8(path)
    if not text.strip():
        raise ValueError(f"{path}: file is empty; expected a header row and examples")
    if extension == ".jsonl":
        rows = _jsonl_rows(path, text, columns)
    else:
        rows = _delimited_rows(path, text, columns, "\t" if extension == ".tsv" else ",")
    if not rows:
        raise ValueError(f"{path}: has a header row but no examples")
    return rows


def read_utf8(path):
    """The text of the file at `path`, decoded as UTF-8.

    A leading byte-order mark is dropped.

    Raises:
        ValueError: the file is not valid UTF-8; the message names the line
            and the byte offset of the first bad byte.
    """
    with tf.io.gfile.GFile(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        offset_in_line = error.start - (data.rfind(b"\n", 0, error.start) + 1)
        raise ValueError(
            f"{path}:{line}: byte {data[error.start]:#04x} at byte offset {offset_in_line} "
            f"of the line ({error.start} of the file) is not valid UTF-8; save the file as UTF-8"
        ) from None
    # Spreadsheet programs often start UTF-8 files with a byte-order mark.
    return text.removeprefix("\ufeff")


def _delimited_rows(path, text, columns, delimiter):
    # TSV as GLUE writes it: no quoting, a quote mark is an ordinary character.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    header, rows = None, []
    next_line = 1
    try:
        for record in reader:
            # A quoted field may span lines: report where the record starts.
            line, next_line = next_line, reader.line_num + 1
            if not record:
                continue
            if header is None:
                header = [name.strip() for name in record]
                _check_header(path, line, header, columns)
                continue
            if len(record) != len(header):
                raise ValueError(
                    f"{path}:{line}: {len(record)} fields, but the header has {len(header)} "
                    f"({', '.join(header)})"
                )
            rows.append((line, dict(zip(header, record))))
    except csv.Error as error:
        raise ValueError(f"{path}:{reader.line_num}: {error}") from None
    return rows


def _check_header(path, line, header, columns):
    """`columns` as `_file_examples` lists them: the text, (the second text,) the label."""
    for name in header:
        if header.count(name) > 1:
            raise ValueError(f"{path}:{line}: the header names column {name!r} twice")
    for index, column in enumerate(columns):
        if column not in header:
            raise ValueError(
                f"{path}:{line}: the header has no column {column!r}; its columns are {header}"
                + _column_hint(header, columns, index)
            )


def _column_hint(header, columns, index):
    """Names the fix when exactly one header column is left unclaimed."""
    unclaimed = [name for name in header if name not in columns]
    if len(unclaimed) != 1:
        return ""
    role = "text" if index == 0 else "label" if index == len(columns) - 1 else "text_b"
    flag = "--" + role.replace("_", "-") + "-column"
    return f". Is it {unclaimed[0]!r}? Pass {flag} {unclaimed[0]} ({role}_column={unclaimed[0]!r})"


def _jsonl_rows(path, text, columns):
    rows = []
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and friends.
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}:{line}: not valid JSON: {error.msg} at character {error.colno}"
            ) from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}")
        for column in columns:
            if column not in row:
                raise ValueError(f"{path}:{line}: no key {column!r}; the keys are {list(row)}")
        rows.append((line, row))
    return rows


def _text_value(value, path, line, column):
    if not isinstance(value, str):
        raise ValueError(
            f"{path}:{line}: column {column!r}: expected text, "
            f"got {type(value).__name__} {value!r}"
        )
    if not value.strip():
        raise ValueError(f"{path}:{line}: column {column!r} is empty; every example needs text")
    return value


def _label_value(value, path, line, column):
    """A label as its name: strings stripped, JSON integers written in decimal."""
    # bool is an int subclass: JSON true/false are rejected, not read as 1/0.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(
            f"{path}:{line}: column {column!r}: expected a label name or integer id, "
            f"got {type(value).__name__} {value!r}"
        )
    if not value.strip():
        raise ValueError(f"{path}:{line}: column {column!r} is empty; every example needs a label")
    return value.strip()


def _label_ids(labels, locations, label_column, label_names):
    """Label ids of `labels` (names) and the label names they index."""
    if label_names is None:
        if all(_LABEL_ID.fullmatch(label) for label in labels):
            ids = [int(label) for label in labels]
            return ids, [str(i) for i in range(max(ids) + 1)]
        label_names = sorted(set(labels))
    index = {name: i for i, name in enumerate(label_names)}
    ids = []
    for label, (path, line) in zip(labels, locations):
        if label in index:
            ids.append(index[label])
        elif _LABEL_ID.fullmatch(label) and int(label) < len(label_names):
            ids.append(int(label))
        else:
            raise ValueError(
                f"{path}:{line}: column {label_column!r}: unknown label {label!r}; expected one of "
                f"{label_names} or an id below {len(label_names)}"
            )
    return ids, label_names


def checked_label_names(names, what):
    """`names` as a list, if it is a non-empty list of distinct, clean strings.

    Args:
        names: label (or tag) names, as given by the user or read from a file.
        what: where they come from, to start the error message with.

    Raises:
        ValueError: `names` is not a non-empty list, or a name is empty, has
            surrounding spaces or appears twice.
    """
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
        raise ValueError(f"{what}: expected a non-empty list of label names, got {names!r}")
    for name in names:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(
                f"{what}: label name {name!r} is not a non-empty string without surrounding spaces"
            )
        if names.count(name) > 1:
            raise ValueError(f"{what}: label name {name!r} appears twice")
    return list(names)
