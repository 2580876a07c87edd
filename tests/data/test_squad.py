"""SQuAD JSON and tfds squad readers: examples, v2.0 unanswerables, errors naming the question id."""

import json

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_bert_impl.data.squad import Answer, is_squad_json, squad_examples


def squad_document(qas, context="Ada Lovelace wrote the first program in 1843."):
    return {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": context, "qas": qas}]}]}


def write_json(path, document):
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_reads_answers_and_unanswerable_questions(tmp_path):
    path = write_json(tmp_path / "dev.json", squad_document([
        {"id": "q1", "question": "Who wrote it?", "answers": [
            {"text": "Ada Lovelace", "answer_start": 0}, {"text": "Lovelace", "answer_start": 4}]},
        {"id": "q2", "question": "When?", "is_impossible": True, "answers": [],
         "plausible_answers": [{"text": "1843", "answer_start": 40}]},
    ]))
    first, second = squad_examples(path)
    assert first.question_id == "q1" and first.title == "T"
    assert first.answers == (Answer("Ada Lovelace", 0), Answer("Lovelace", 4))
    assert first.context[first.answers[1].start : first.answers[1].end] == "Lovelace"
    assert second.answers == ()
    assert is_squad_json(path) and not is_squad_json(str(tmp_path / "other.tsv"))


@pytest.mark.parametrize("qa, message", [
    ({"id": "q7", "question": "Who?", "answers": [{"text": "Ada", "answer_start": 3}]},
     r"question id 'q7': answer 'Ada' is not at answer_start 3; the context has ' Lo'"),
    ({"id": "q8", "question": "Who?"}, r"question id 'q8': missing field 'answers'"),
    ({"id": "q9", "question": " ", "answers": []}, r"question id 'q9': the question is empty"),
    ({"id": "q3", "question": "Who?", "answers": [{"text": "Ada", "answer_start": "0"}]},
     r"question id 'q3': field 'answer_start' is '0'; expected int"),
    ({"question": "Who?", "answers": []}, r"a question: missing field 'id'"),
])
def test_bad_examples_name_file_and_question_id(tmp_path, qa, message):
    path = write_json(tmp_path / "bad.json", squad_document([qa]))
    with pytest.raises(ValueError, match="bad.json: " + message):
        squad_examples(path)


def test_empty_context_and_non_squad_files(tmp_path):
    path = write_json(tmp_path / "empty.json", squad_document([{"id": "q5", "question": "Q?", "answers": []}], ""))
    with pytest.raises(ValueError, match="question id 'q5': the context is empty"):
        squad_examples(path)
    with pytest.raises(ValueError, match="not SQuAD JSON"):
        squad_examples(write_json(tmp_path / "list.json", [1, 2]))
    (tmp_path / "broken.json").write_text('{"data": [', encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json:1: not valid JSON"):
        squad_examples(str(tmp_path / "broken.json"))


def _mock_squad(self, *args, **kwargs):
    context = "Grace Hopper built a compiler."
    records = [
        {"id": f"m{i}", "title": "T", "context": context, "question": f"Who {i}?",
         "answers": {"text": ["Grace Hopper"], "answer_start": [0]}}
        for i in range(3)
    ]
    if "is_impossible" in self.info.features:
        for record in records:
            record.update(is_impossible=False, plausible_answers={"text": [], "answer_start": []})
        records[2].update(is_impossible=True, answers={"text": [], "answer_start": []})
    return tf.data.Dataset.from_generator(
        lambda: iter(records),
        output_signature=self.info.features.get_tensor_spec(),
    )


@pytest.mark.parametrize("name", ["squad/v1.1", "squad/v2.0"])
def test_tfds_squad_offline(monkeypatch, name):
    monkeypatch.setattr("socket.socket.connect", lambda *a, **k: pytest.fail("tried the network"))
    with tfds.testing.mock_data(as_dataset_fn=_mock_squad):
        examples = squad_examples(f"tfds:{name}", split="validation")
    assert [e.question_id for e in examples] == ["m0", "m1", "m2"]
    assert examples[0].answers == (Answer("Grace Hopper", 0),)
    assert (examples[2].answers == ()) == (name == "squad/v2.0")


def test_tfds_random_mock_data_is_rejected_naming_the_question(monkeypatch):
    monkeypatch.setattr("socket.socket.connect", lambda *a, **k: pytest.fail("tried the network"))
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(ValueError, match=r"tfds:squad/v1.1 \(train\): question id '.*': "):
            squad_examples("tfds:squad/v1.1")
