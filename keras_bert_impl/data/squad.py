"""Extractive question-answering data: SQuAD v1.1 / v2.0 JSON and tfds squad.

A SQuAD file is `{"data": [{"title", "paragraphs": [{"context", "qas":
[{"id", "question", "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}`;
`answer_start` is a character offset into `context` (v2.0 marks unanswerable
questions with `is_impossible` and no answers). "tfds:squad/v1.1" and
"tfds:squad/v2.0" hold the same fields per question.

Every example is checked on reading, and a bad one is an error naming the
file and question id: a missing field, an empty context or question, an
answer whose text is not at its `answer_start`.

Example:

>>> examples = squad_examples("dev-v1.1.json")  # doctest: +SKIP
>>> examples[0].question, examples[0].answers[0].text  # doctest: +SKIP
('Who wrote the first program?', 'Ada Lovelace')
"""

import dataclasses
import json

import tensorflow as tf

from keras_bert_impl.data import sources


@dataclasses.dataclass(frozen=True)
class Answer:
    """A gold answer: its text and where it starts in the context (characters)."""

    text: str
    start: int

    @property
    def end(self):
        return self.start + len(self.text)


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question on one context, with its gold answers (none: unanswerable)."""

    question_id: str
    question: str
    context: str
    answers: tuple = ()
    title: str = ""


def squad_examples(source, split="train"):
    """Reads SQuAD examples from JSON files or "tfds:squad/v1.1|v2.0".

    Args:
        source: a SQuAD JSON path (or a list of them), or "tfds:squad/...".
        split: the tfds split; ignored for files.

    Returns:
        list of `SquadExample`, in file order.

    Raises:
        ValueError: naming the file (or tfds source) and question id of a bad
            example, or a file that is not SQuAD JSON.
    """
    if isinstance(source, str) and source.startswith(sources.TFDS_PREFIX):
        return _tfds_examples(source, split)
    examples = []
    for path in sources.resolve_files(source):
        examples.extend(_file_examples(path))
    return examples


def is_squad_json(path):
    """True for a .json file whose top level has SQuAD's "data" list."""
    if not (isinstance(path, str) and path.endswith(".json") and tf.io.gfile.exists(path)):
        return False
    try:
        document = json.loads(sources.read_utf8(path))
    except ValueError:
        return False
    return isinstance(document, dict) and isinstance(document.get("data"), list)


def _file_examples(path):
    try:
        document = json.loads(sources.read_utf8(path))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise ValueError(f'{path}: not SQuAD JSON; expected {{"data": [{{"paragraphs": ...}}]}} at the top')
    examples = []
    for article_index, article in enumerate(document["data"]):
        where = f"{path}: data[{article_index}]"
        for paragraph_index, paragraph in enumerate(_field(article, "paragraphs", list, where)):
            paragraph_where = f"{where}.paragraphs[{paragraph_index}]"
            context = _field(paragraph, "context", str, paragraph_where)
            for qa in _field(paragraph, "qas", list, paragraph_where):
                examples.append(_example(qa, context, article.get("title", ""), path))
    return examples


def _example(qa, context, title, path):
    question_id = str(_field(qa, "id", (str, int), f"{path}: a question"))
    where = f"{path}: question id {question_id!r}"
    answers = [] if qa.get("is_impossible") else _field(qa, "answers", list, where)
    return checked_example(
        question_id=question_id,
        question=_field(qa, "question", str, where),
        context=context,
        answers=[
            (_field(a, "text", str, where), _field(a, "answer_start", int, where)) for a in answers
        ],
        title=title,
        where=where,
    )


def checked_example(question_id, question, context, answers, title, where):
    """A `SquadExample`, after checking it; `where` starts every error."""
    if not context.strip():
        raise ValueError(f"{where}: the context is empty")
    if not question.strip():
        raise ValueError(f"{where}: the question is empty")
    checked = []
    for text, start in answers:
        if context[start : start + len(text)] != text or not text:
            raise ValueError(
                f"{where}: answer {text!r} is not at answer_start {start}; the context has "
                f"{context[start : start + len(text)]!r} there"
            )
        checked.append(Answer(text, start))
    return SquadExample(question_id, question, context, tuple(checked), title)


def _field(record, name, kind, where):
    if not isinstance(record, dict) or name not in record:
        raise ValueError(f"{where}: missing field {name!r}")
    value = record[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(f"{where}: field {name!r} is {value!r}; expected {expected}")
    return value


def _tfds_examples(source, split):
    tfds = sources.import_tfds()
    dataset = tfds.load(source.removeprefix(sources.TFDS_PREFIX), split=split)
    examples = []
    for record in tfds.as_numpy(dataset):
        question_id = record["id"].decode("utf-8")
        answers = record["answers"]
        examples.append(
            checked_example(
                question_id=question_id,
                question=record["question"].decode("utf-8"),
                context=record["context"].decode("utf-8"),
                answers=[
                    (text.decode("utf-8"), int(start))
                    for text, start in zip(answers["text"], answers["answer_start"])
                ],
                title=record["title"].decode("utf-8"),
                where=f"{source} ({split}): question id {question_id!r}",
            )
        )
    return examples
