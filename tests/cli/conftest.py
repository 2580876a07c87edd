"""Small corpora and labelled files the CLI tests train on, written per test."""

import keras
import pytest

_SUBJECTS = ["the cat", "a dog", "my bird", "the fish", "our horse", "a mouse"]
_ACTIONS = ["eats food", "sleeps well", "runs fast", "sings loudly", "jumps high"]


@pytest.fixture(autouse=True)
def _reset_precision_policy():
    """`--precision` sets Keras' global policy; later tests must not inherit it."""
    yield
    keras.mixed_precision.set_global_policy("float32")


def _write_corpus(path):
    """Writes the corpus of `corpus_file` at `path`; returns the path as a string."""
    lines = []
    for doc in range(12):
        for i in range(6):
            subject = _SUBJECTS[(doc + i) % len(_SUBJECTS)]
            action = _ACTIONS[(doc * 3 + i) % len(_ACTIONS)]
            lines.append(f"{subject} {action} every day number {doc} .")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def corpus_file(tmp_path):
    """A BERT-convention corpus: one sentence per line, blank line between documents."""
    return _write_corpus(tmp_path / "corpus.txt")


@pytest.fixture(scope="module")
def module_corpus_file(tmp_path_factory):
    """`corpus_file` for module-scoped fixtures (a run several tests read)."""
    return _write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt")


@pytest.fixture
def labelled_files(tmp_path):
    """Train/eval TSVs whose label is decided by a word in the text."""
    def write(name, count):
        rows = ["text\tlabel"]
        for i in range(count):
            animal = _SUBJECTS[i % len(_SUBJECTS)]
            label = "happy" if i % 2 else "sad"
            word = "sings loudly" if label == "happy" else "sleeps well"
            rows.append(f"{animal} {word} today {i % 7}\t{label}")
        path = tmp_path / name
        path.write_text("\n".join(rows) + "\n")
        return str(path)

    return write("train.tsv", 32), write("eval.tsv", 16)


