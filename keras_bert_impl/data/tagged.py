"""Tagged sentences for token classification: CoNLL files, JSONL, tfds.

* CoNLL (any file that is not .jsonl, e.g. `train.conll`): one token per
  line, the token in the first whitespace-separated column and its tag in the
  LAST one, so CoNLL-2003's four columns and plain `token<TAB>tag` both work;
  a blank line ends a sentence; `-DOCSTART-` lines are skipped.
* JSONL: one `{"tokens": [...], "tags": [...]}` object per line (the keys
  are `tokens_column` and `tags_column`).
* "tfds:NAME", e.g. "tfds:conll2003" or "tfds:wikiann/en": a sequence of
  Text tokens and a sequence of ClassLabel tags (the tags feature defaults
  to "ner" if the dataset has one, else "tags").

Tags follow BIO (IOB2) or IOBES: "O", or a prefix B/I/E/S, "-", and an
entity type ("B-PER"). Tag names are collected from the data ("O" first,
then sorted by type; a tfds dataset's ClassLabel order) unless given (a trained model's), in which case a tag outside
them is an error naming the file and line; so are a token/tag count
mismatch, an empty token and a tag of another form.

Example:

>>> data = tagged_sentences("train.conll")  # doctest: +SKIP
>>> data.tokens[0], [data.tag_names[t] for t in data.tags[0]]  # doctest: +SKIP
(['EU', 'rejects', 'German', 'call'], ['B-ORG', 'O', 'B-MISC', 'O'])
"""

import dataclasses
import json
import os
import re

from keras_bert_impl.data import sources

OUTSIDE = "O"
DOCSTART = "-DOCSTART-"
_TAG = re.compile(r"(?:[BIES]-\S+|O)")


@dataclasses.dataclass
class TaggedSentences:
    """Sentences of tokens with tag ids, held on the host.

    Attributes:
        tokens: list of sentences, each a list of token strings.
        tags: list of sentences, each a list of tag ids (index in tag_names).
        tag_names: the tags, id = index, "O" first when collected.
        locations: "file:line" where each sentence starts (for messages).
    """

    tokens: list
    tags: list
    tag_names: list
    locations: list

    def __len__(self):
        return len(self.tokens)


def tagged_sentences(source, *, tag_names=None, split="train", tokens_column="tokens", tags_column=None):
    """Reads tagged sentences from files or tfds.

    Args:
        source: path, glob, list of them, or "tfds:NAME".
        tag_names: known tags (a trained model's), or None to collect them.
        split: the tfds split; files ignore it.
        tokens_column: JSONL key / tfds feature of the tokens.
        tags_column: JSONL key / tfds feature of the tags (default "tags";
            for tfds "ner" when present).

    Returns:
        `TaggedSentences`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: bad data, naming file, line and problem.
    """
    if tag_names is not None:
        tag_names = sources.checked_label_names(tag_names, "tag names")
        for name in tag_names:
            _check_tag(name, "tag names")
    if sources.is_tfds(source):
        rows, dataset_tags = _tfds_rows(source, split, tokens_column, tags_column)
        # The dataset's own order, so that ids mean what its ClassLabel says.
        tag_names = tag_names or dataset_tags
    else:
        rows = []
        for path in sources.resolve_files(source):
            rows.extend(_file_rows(path, tokens_column, tags_column or "tags"))
    if not rows:
        raise ValueError(f"{source}: no tagged sentences found")
    return _with_tag_ids(rows, tag_names)


def _file_rows(path, tokens_column, tags_column):
    text = sources.read_utf8(path)
    if os.path.splitext(path)[1].lower() == ".jsonl":
        return _jsonl_rows(path, text, tokens_column, tags_column)
    return _conll_rows(path, text)


def _conll_rows(path, text):
    """[(location, tokens, tags)] of one CoNLL file."""
    rows, tokens, tags, start = [], [], [], None
    for line_number, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if fields and fields[0] == DOCSTART:
            fields = []
        if not fields:
            if tokens:
                rows.append((start, tokens, tags))
            tokens, tags = [], []
            continue
        if len(fields) < 2:
            raise ValueError(
                f"{path}:{line_number}: expected a token and its tag separated by "
                f"whitespace (the tag in the last column), got {line.strip()!r}"
            )
        if not tokens:
            start = f"{path}:{line_number}"
        tokens.append(fields[0])
        tags.append((fields[-1], f"{path}:{line_number}"))
    if tokens:
        rows.append((start, tokens, tags))
    return rows


def _jsonl_rows(path, text, tokens_column, tags_column):
    rows = []
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{line}"
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: not valid JSON: {error.msg} at character {error.colno}") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
        tokens, tags = (_string_list(row, key, where) for key in (tokens_column, tags_column))
        if len(tokens) != len(tags):
            raise ValueError(f"{where}: {len(tokens)} tokens but {len(tags)} tags; expected one tag per token")
        for index, token in enumerate(tokens):
            if not token.strip():
                raise ValueError(f"{where}: token {index} is empty; every token needs text")
        if tokens:
            rows.append((where, tokens, [(tag, where) for tag in tags]))
    return rows


def _string_list(row, key, where):
    if key not in row:
        raise ValueError(f"{where}: no key {key!r}; the keys are {list(row)}")
    values = row[key]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{where}: {key!r} must be a list of strings, got {values!r}")
    return values


def _tfds_rows(source, split, tokens_column, tags_column):
    tfds = sources.import_tfds()
    dataset, info = tfds.load(source.removeprefix(sources.TFDS_PREFIX), split=split, with_info=True)
    features = info.features
    if tags_column is None:
        tags_column = "ner" if "ner" in features else "tags"
    for column in (tokens_column, tags_column):
        if column not in features or not isinstance(features[column], tfds.features.Sequence):
            raise ValueError(
                f"{source} has no sequence feature {column!r}; its features are {list(features)}"
            )
    names = list(features[tags_column].feature.names)
    for name in names:
        _check_tag(name, f"{source} tag names")
    rows = []
    for index, example in enumerate(tfds.as_numpy(dataset)):
        where = f"{source}[{split}] example {index}"
        tokens = [token.decode("utf-8", "replace") for token in example[tokens_column]]
        if len(tokens) != len(example[tags_column]):
            raise ValueError(f"{where}: {len(tokens)} tokens but {len(example[tags_column])} tags")
        if tokens:
            rows.append((where, tokens, [(names[i], where) for i in example[tags_column]]))
    return rows, names


def _with_tag_ids(rows, tag_names):
    if tag_names is None:
        seen = {tag for _, _, tags in rows for tag, where in tags if _check_tag(tag, where)}
        tag_names = [OUTSIDE] + sorted(seen - {OUTSIDE}, key=lambda t: (t[2:], t))
    index = {name: i for i, name in enumerate(tag_names)}
    tag_ids = []
    for _, _, tags in rows:
        ids = []
        for tag, where in tags:
            if tag not in index:
                raise ValueError(f"{where}: unknown tag {tag!r}; expected one of {tag_names}")
            ids.append(index[tag])
        tag_ids.append(ids)
    return TaggedSentences(
        tokens=[tokens for _, tokens, _ in rows],
        tags=tag_ids,
        tag_names=tag_names,
        locations=[where for where, _, _ in rows],
    )


def _check_tag(tag, where):
    if not _TAG.fullmatch(tag):
        raise ValueError(
            f"{where}: tag {tag!r} is not BIO/IOBES; expected 'O' or B-, I-, E-, S- and a type (e.g. 'B-PER')"
        )
    return True
