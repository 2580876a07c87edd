"""Sources: local file formats, every bad-data error, labels, tfds through mock_data."""

import json

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_bert_impl.data import sources
from keras_bert_impl.data.sources import (
    classification_examples,
    load_label_names,
    pretraining_documents,
    save_label_names,
    split_sentences,
)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def documents_of(dataset):
    return [[s.decode("utf-8") for s in doc.numpy()] for doc in dataset]


def examples_of(dataset):
    return [
        {key: value.numpy().decode("utf-8") if value.dtype == tf.string else int(value.numpy())
         for key, value in example.items()}
        for example in dataset
    ]


# --- pretraining documents -------------------------------------------------


def test_text_file_is_read_as_blank_line_separated_documents(tmp_path):
    text = "\n \nFirst one.\n  Second one.  \n\n\n\nOther doc.\r\nLast line"
    path = write(tmp_path / "corpus.txt", text)
    dataset = pretraining_documents(str(path))
    assert dataset.element_spec == tf.TensorSpec([None], tf.string)
    assert documents_of(dataset) == [["First one.", "Second one."], ["Other doc.", "Last line"]]


def test_glob_and_list_read_files_in_sorted_then_given_order(tmp_path):
    write(tmp_path / "b.txt", "B.\n")
    write(tmp_path / "a.txt", "A.\n")
    write(tmp_path / "c.text", "C.\n")
    assert documents_of(pretraining_documents(str(tmp_path / "*.txt"))) == [["A."], ["B."]]
    listed = [tmp_path / "c.text", str(tmp_path / "*.txt")]
    assert documents_of(pretraining_documents(listed)) == [["C."], ["A."], ["B."]]


def test_text_file_bytes_that_are_not_utf8_become_replacement_characters(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"caf\xe9 ok.\n")
    assert documents_of(pretraining_documents(str(path))) == [["caf\ufffd ok."]]


def test_pretraining_missing_empty_and_directory_sources_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt: no such file"):
        pretraining_documents(str(tmp_path / "missing.txt"))
    with pytest.raises(FileNotFoundError, match=r"no file matches .*\*\.txt"):
        pretraining_documents(str(tmp_path / "*.txt"))
    with pytest.raises(ValueError, match="empty.txt: file is empty"):
        pretraining_documents(str(write(tmp_path / "empty.txt", "")))
    with pytest.raises(ValueError, match="is a directory"):
        pretraining_documents(str(tmp_path))
    with pytest.raises(ValueError, match="empty list"):
        pretraining_documents([])


def test_split_sentences_on_newlines_and_sentence_ends():
    sentences = split_sentences(tf.constant("One. Two!  Three?\n\nFour 3.5 five\r\nSix"))
    assert sentences.numpy().tolist() == [b"One.", b"Two!", b"Three?", b"Four 3.5 five", b"Six"]
    assert split_sentences(tf.constant("  \n ")).shape == [0]


# --- classification files --------------------------------------------------


def test_tsv_with_pairs_and_quotes_taken_literally(tmp_path):
    path = write(
        tmp_path / "train.tsv",
        'premise\thypothesis\tlabel\n"Quoted start\tb one\tyes\n\nA two\tb two\tno\n',
    )
    dataset, names = classification_examples(
        str(path), text_column="premise", text_b_column="hypothesis"
    )
    assert names == ["no", "yes"]
    assert examples_of(dataset) == [
        {"text": '"Quoted start', "text_b": "b one", "label": 1},
        {"text": "A two", "text_b": "b two", "label": 0},
    ]


def test_csv_with_quoted_multiline_field_and_byte_order_mark(tmp_path):
    path = tmp_path / "train.csv"
    text = '\ufefflabel, text\n positive ,"line one\nline two, with comma"\nnegative,plain\n'
    path.write_bytes(text.encode("utf-8"))
    dataset, names = classification_examples(str(path))
    assert names == ["negative", "positive"]
    assert examples_of(dataset) == [
        {"text": "line one\nline two, with comma", "label": 1},
        {"text": "plain", "label": 0},
    ]


def test_jsonl_with_integer_and_string_labels(tmp_path):
    path = write(
        tmp_path / "train.jsonl",
        '{"text": "a \\u2028 b", "label": 2}\n\n{"text": "c", "label": "0", "extra": 1}\n',
    )
    dataset, names = classification_examples(str(path))
    # All labels are integers: they are ids as written, names up to the largest.
    assert names == ["0", "1", "2"]
    assert examples_of(dataset) == [{"text": "a \u2028 b", "label": 2}, {"text": "c", "label": 0}]


def test_label_names_collected_sorted_over_all_files(tmp_path):
    write(tmp_path / "part-1.csv", "text,label\nx,sports\ny,arts\n")
    write(tmp_path / "part-2.jsonl", '{"text": "z", "label": "business"}\n')
    dataset, names = classification_examples(str(tmp_path / "part-*"))
    assert names == ["arts", "business", "sports"]
    assert [e["label"] for e in examples_of(dataset)] == [2, 0, 1]


def test_negative_integer_labels_are_names(tmp_path):
    path = write(tmp_path / "train.csv", "text,label\na,-1\nb,1\nc,0\n")
    dataset, names = classification_examples(str(path))
    assert names == ["-1", "0", "1"]
    assert [e["label"] for e in examples_of(dataset)] == [0, 2, 1]


def test_given_label_names_map_names_and_ids(tmp_path):
    path = write(tmp_path / "dev.csv", "text,label\na,positive\nb,0\n")
    dataset, names = classification_examples(str(path), label_names=["negative", "positive"])
    assert names == ["negative", "positive"]
    assert [e["label"] for e in examples_of(dataset)] == [1, 0]


def test_unknown_label_with_given_names_names_file_line_column(tmp_path):
    path = write(tmp_path / "dev.tsv", "text\tlabel\na\tpositive\nb\tneutral\n")
    message = r"dev\.tsv:3: column 'label': unknown label 'neutral'.*'positive'"
    with pytest.raises(ValueError, match=message):
        classification_examples(str(path), label_names=["negative", "positive"])
    with pytest.raises(ValueError, match=r"dev\.tsv:2: .*unknown label '2'"):
        path = write(tmp_path / "dev.tsv", "text\tlabel\na\t2\n")
        classification_examples(str(path), label_names=["a", "b"])


@pytest.mark.parametrize(
    "file_name, content, message",
    [
        ("x.csv", "", r"x\.csv: file is empty"),
        ("x.jsonl", "\n  \n", r"x\.jsonl: file is empty"),
        ("x.csv", "text,label\n\n", r"x\.csv: has a header row but no examples"),
        ("x.csv", "sentence,label\na,b\n", r"x\.csv:1: the header has no column 'text'; its columns are \['sentence', 'label'\]\. Is it 'sentence'\? Pass --text-column sentence"),
        ("x.csv", "text,polarity\na,b\n", r"no column 'label'; .* Is it 'polarity'\? Pass --label-column polarity"),
        ("x.csv", "sentence,id,label\na,1,b\n", r"no column 'text'; its columns are \['sentence', 'id', 'label'\]$"),
        ("x.tsv", "text\ttext\tlabel\n", r"x\.tsv:1: the header names column 'text' twice"),
        ("x.tsv", "text\tlabel\na\tb\nc\td\te\n", r"x\.tsv:3: 3 fields, but the header has 2 \(text, label\)"),
        ("x.csv", "text,label\na,b\nc\n", r"x\.csv:3: 1 fields, but the header has 2"),
        ("x.csv", "text,label\na,b\n  ,b\n", r"x\.csv:3: column 'text' is empty"),
        ("x.csv", "text,label\na, \n", r"x\.csv:2: column 'label' is empty"),
        ("x.jsonl", '{"text": "a", "label": 1}\n{"text": "a", "label": 1\n', r"x\.jsonl:2: not valid JSON"),
        ("x.jsonl", '["a", 1]\n', r"x\.jsonl:1: expected a JSON object, got list"),
        ("x.jsonl", '{"text": "a", "lab": 1}\n', r"x\.jsonl:1: no key 'label'; the keys are \['text', 'lab'\]"),
        ("x.jsonl", '{"text": 5, "label": 1}\n', r"x\.jsonl:1: column 'text': expected text, got int 5"),
        ("x.jsonl", '{"text": "a", "label": true}\n', r"x\.jsonl:1: column 'label': expected a label name or integer id, got bool"),
        ("x.jsonl", '{"text": "a", "label": 1.5}\n', r"x\.jsonl:1: column 'label': .* got float 1\.5"),
        ("x.txt", "text,label\n", r"x\.txt: unsupported file type '\.txt'"),
    ],
)
def test_bad_classification_file_errors_name_file_line_and_column(tmp_path, file_name, content, message):
    path = write(tmp_path / file_name, content)
    with pytest.raises(ValueError, match=message):
        classification_examples(str(path))


def test_non_utf8_byte_error_names_line_and_offset(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"text,label\nfine,a\ncaf\xe9,b\n")
    message = r"x\.csv:3: byte 0xe9 at byte offset 3 of the line \(21 of the file\) is not valid UTF-8"
    with pytest.raises(ValueError, match=message):
        classification_examples(str(path))


def test_missing_classification_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.tsv: no such file"):
        classification_examples(str(tmp_path / "train.tsv"))


@pytest.mark.parametrize(
    "names, message",
    [
        (["a", "a"], "'a' appears twice"),
        ([], "non-empty list"),
        ("ab", "non-empty list"),
        (["a", " b"], "' b' is not"),
    ],
)
def test_bad_label_names_are_errors(tmp_path, names, message):
    path = write(tmp_path / "x.csv", "text,label\na,a\n")
    with pytest.raises(ValueError, match=message):
        classification_examples(str(path), label_names=names)


# --- labels.json ------------------------------------------------------------


def test_label_names_round_trip_atomically(tmp_path):
    path = tmp_path / "model" / "labels.json"
    save_label_names(str(path), ["négatif", "positive"])
    assert load_label_names(str(path)) == ["négatif", "positive"]
    assert json.loads(path.read_text(encoding="utf-8")) == ["négatif", "positive"]
    save_label_names(str(path), ("x",))
    assert load_label_names(str(path)) == ["x"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["labels.json"]


def test_bad_labels_json_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels.json: no such file"):
        load_label_names(str(tmp_path / "labels.json"))
    with pytest.raises(ValueError, match="labels.json: not valid JSON"):
        load_label_names(str(write(tmp_path / "labels.json", "[")))
    with pytest.raises(ValueError, match=r"labels.json: expected a non-empty list"):
        load_label_names(str(write(tmp_path / "labels.json", '{"a": 1}')))
    with pytest.raises(ValueError, match="appears twice"):
        save_label_names(str(tmp_path / "labels.json"), ["a", "a"])


# --- tfds, offline through mock_data ----------------------------------------


@pytest.fixture
def offline_tfds(monkeypatch):
    """mock_data, and any attempt to reach the network fails the test at once."""

    def no_network(*args, **kwargs):
        raise AssertionError("a tfds source tried to reach the network")

    monkeypatch.setattr("socket.socket.connect", no_network)
    with tfds.testing.mock_data(num_examples=4):
        yield


def test_tfds_pretraining_documents_are_split_into_sentences(offline_tfds):
    documents = documents_of(pretraining_documents("tfds:wikipedia/20230601.en"))
    assert len(documents) == 4
    assert all(doc and all(s == s.strip() and s for s in doc) for doc in documents)
    titles = documents_of(pretraining_documents("tfds:wikipedia/20230601.en", text_feature="title"))
    assert len(titles) == 4


def test_tfds_pretraining_unknown_feature_lists_text_features(offline_tfds):
    message = r"tfds:imdb_reviews has no Text feature 'body'; .* are \['text'\]"
    with pytest.raises(ValueError, match=message):
        pretraining_documents("tfds:imdb_reviews", text_feature="body")


def test_tfds_classification_takes_names_from_class_label(offline_tfds):
    dataset, names = classification_examples("tfds:imdb_reviews", split="test")
    assert names == ["neg", "pos"]
    assert dataset.element_spec == {
        "text": tf.TensorSpec([], tf.string),
        "label": tf.TensorSpec([], tf.int32),
    }
    assert all(e["label"] in (0, 1) for e in examples_of(dataset))

    dataset, names = classification_examples(
        "tfds:glue/sst2", text_column="sentence", split="validation"
    )
    assert names == ["negative", "positive"]
    assert len(examples_of(dataset)) == 4


def test_tfds_classification_pairs_and_errors(offline_tfds):
    dataset, names = classification_examples(
        "tfds:glue/mrpc", text_column="sentence1", text_b_column="sentence2"
    )
    assert set(dataset.element_spec) == {"text", "text_b", "label"}
    message = r"no Text feature 'text'; .* are \['sentence'\]: pass one as text_column"
    with pytest.raises(ValueError, match=message):
        classification_examples("tfds:glue/sst2")
    with pytest.raises(ValueError, match=r"no ClassLabel feature 'idx'"):
        classification_examples("tfds:glue/sst2", text_column="sentence", label_column="idx")
    message = r"has labels \['negative', 'positive'\], but label_names is \['a', 'b'\]"
    with pytest.raises(ValueError, match=message):
        classification_examples("tfds:glue/sst2", text_column="sentence", label_names=["a", "b"])


def test_embedded_source_needs_no_files():
    dataset, names = classification_examples("embedded", split="validation")
    assert names == ["containers", "files", "network", "text"]
    with pytest.raises(ValueError, match="label_names"):
        classification_examples("embedded", label_names=["a"])
    documents = pretraining_documents(sources.EMBEDDED_SOURCE)
    assert documents.element_spec == tf.TensorSpec([None], tf.string)
