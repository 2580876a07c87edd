"""Tagged sentences: CoNLL and JSONL files, their errors with file:line, tfds via mock_data."""

import json

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_bert_impl.data.tagged import tagged_sentences


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def tags_of(data):
    return [[data.tag_names[t] for t in sentence] for sentence in data.tags]


def test_conll_reads_the_last_column_skips_docstart_and_splits_at_blank_lines(tmp_path):
    path = write(
        tmp_path / "train.conll",
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n\n"
        "Peter\tB-PER\r\nBlackburn\tI-PER\r\n",
    )
    data = tagged_sentences(path)
    assert data.tokens == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert tags_of(data) == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]
    assert data.tag_names == ["O", "B-MISC", "B-ORG", "B-PER", "I-PER"]
    assert data.locations == [f"{path}:3", f"{path}:8"]


def test_jsonl_and_known_tag_names(tmp_path):
    path = write(
        tmp_path / "dev.jsonl",
        json.dumps({"tokens": ["Ann", "sings"], "tags": ["S-PER", "O"]}) + "\n\n"
        + json.dumps({"tokens": ["Bo"], "tags": ["S-PER"]}) + "\n",
    )
    data = tagged_sentences(path, tag_names=["O", "S-PER", "B-LOC"])
    assert data.tags == [[1, 0], [1]]
    assert data.tag_names == ["O", "S-PER", "B-LOC"]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("a.conll", "EU B-ORG\nrejects\n", r"a.conll:2: expected a token and its tag"),
        ("b.conll", "EU B-ORG\nrejects PER\n", r"b.conll:2: tag 'PER' is not BIO/IOBES"),
        ("c.jsonl", '{"tokens": ["a", "b"], "tags": ["O"]}\n', r"c.jsonl:1: 2 tokens but 1 tags"),
        ("d.jsonl", '{"tokens": ["a", " "], "tags": ["O", "O"]}\n', r"d.jsonl:1: token 1 is empty"),
        ("e.jsonl", '{"tokens": ["a"]}\n', r"e.jsonl:1: no key 'tags'"),
        ("f.jsonl", '{"tokens": "a", "tags": "O"}\n', r"f.jsonl:1: 'tokens' must be a list of strings"),
        ("g.conll", "\n\n-DOCSTART- O\n", r"no tagged sentences"),
    ],
)
def test_bad_files_name_the_line(tmp_path, name, text, message):
    with pytest.raises(ValueError, match=message):
        tagged_sentences(write(tmp_path / name, text))


def test_an_unknown_tag_at_eval_names_the_line(tmp_path):
    path = write(tmp_path / "dev.conll", "EU B-ORG\nBonn B-LOC\n")
    with pytest.raises(ValueError, match=r"dev.conll:2: unknown tag 'B-LOC'"):
        tagged_sentences(path, tag_names=["O", "B-ORG"])


SENTENCES = [["Ann", "lives", "in", "Oslo"], ["Hi"]]


def _as_dataset(tags_feature):
    """mock_data's dataset: real-shaped sentences (random mock sequences differ in length)."""

    def as_dataset(self, *args, **kwargs):
        tags = [[1, 0, 0, 5], [0]]
        return tf.data.Dataset.from_tensor_slices(
            {"tokens": tf.ragged.constant(SENTENCES), tags_feature: tf.ragged.constant(tags, tf.int64)}
        ).map(lambda example: {key: value for key, value in example.items()})

    return as_dataset


@pytest.mark.parametrize("source, tags", [("tfds:conll2003", "ner"), ("tfds:wikiann/en", "tags")])
def test_tfds_ner_datasets_through_mock_data(monkeypatch, source, tags):
    def no_network(*args, **kwargs):
        raise AssertionError("a tfds source tried to reach the network")

    monkeypatch.setattr("socket.socket.connect", no_network)
    with tfds.testing.mock_data(as_dataset_fn=_as_dataset(tags)):
        data = tagged_sentences(source, split="train")
        names = tfds.builder(source.removeprefix("tfds:")).info.features[tags].feature.names
    assert data.tag_names == names
    assert data.tokens == SENTENCES
    assert data.tags == [[1, 0, 0, 5], [0]]
