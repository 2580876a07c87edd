"""The README's code runs as written: its names import, its main-job listing is what runs."""

import ast
import importlib
import os
import re
import shlex

import pytest
from serving.tiny_models import VOCAB, make_tiny_model_dir  # tests/ is on sys.path (conftest.py)

import keras_bert_impl
from keras_bert_impl.cli.default_job import steps

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
PACKAGE = "keras_bert_impl"


def _readme():
    with open(README, encoding="utf-8") as f:
        return f.read()


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", _readme(), re.S)


def _package_names_used(code):
    """(module, name) pairs the code takes from this package; name None for `import module`."""
    tree = ast.parse(code)
    aliases, used = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    used.add((alias.name, None))
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PACKAGE:
            used.update((node.module, alias.name) for alias in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.add((aliases[node.value.id], node.attr))
    return used


def test_the_readme_has_python_code_using_the_package():
    assert any(_package_names_used(block) for block in _python_blocks())


@pytest.mark.parametrize("block", _python_blocks(), ids=lambda block: block.splitlines()[0][:40])
def test_every_name_the_readme_uses_imports_as_written(block):
    for module_name, name in sorted(_package_names_used(block), key=str):
        module = importlib.import_module(module_name)
        if name is not None and not hasattr(module, name):
            importlib.import_module(f"{module_name}.{name}")  # a submodule, or ImportError


def _tiny_backbone():
    with open("vocab.txt", "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")
    config = keras_bert_impl.BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_layers=1, num_heads=2,
                                        intermediate_size=32, max_position_embeddings=128)
    return keras_bert_impl.bert_backbone(config)


def _api_tour_files():
    """The files the API tour names, tiny: a vocabulary, a Hugging Face folder, a classifier."""
    keras_bert_impl.save_huggingface(_tiny_backbone(), "downloads/bert-base-uncased")
    make_tiny_model_dir("runs/default/classifier", "classifier")


def _question_answering_files():
    """A tiny untrained answerer at runs/squad and an article."""
    answerer = keras_bert_impl.BertQuestionAnswerer(_tiny_backbone())
    keras_bert_impl.save_model_dir("runs/squad", answerer, "vocab.txt", lowercase=True, seq_len=128)
    with open("article.txt", "w", encoding="utf-8") as f:
        f.write("the cat sat on the mat.")


def _long_text_files():
    """A tiny untrained windowed classifier at runs/reviews and a review longer than its windows."""
    classifier = keras_bert_impl.BertClassifier(_tiny_backbone(), num_classes=2, window_pooling="mean",
                                                window_stride=7, max_windows=4)
    keras_bert_impl.save_model_dir("runs/reviews", classifier, "vocab.txt", lowercase=True, seq_len=16,
                                   label_names=["negative", "positive"])
    with open("review.txt", "w", encoding="utf-8") as f:
        f.write("the cat sat on the mat. " * 8)


# The blocks that run offline in seconds, by a line only they have -> what
# makes the files they name. The others are only import-checked: the data
# sources block reads tfds:wikipedia and tfds:glue, which need a download
# (tests reach tfds only through mock data, set up per dataset in
# tests/data/test_sources.py).
RUNNABLE_BLOCKS = {
    'kbi.load_huggingface("downloads/bert-base-uncased")': _api_tour_files,
    'qa.read_settings("runs/squad", loaded.seq_len)': _question_answering_files,
    'print(kbi.classify(loaded.model, loaded.tokenizer, open("review.txt")': _long_text_files,
}


@pytest.mark.parametrize("marker", RUNNABLE_BLOCKS)
def test_readme_block_runs_as_written(marker, tmp_path, monkeypatch):
    blocks = [block for block in _python_blocks() if marker in block]
    assert len(blocks) == 1, f"{marker!r} should be in exactly one README python block"
    monkeypatch.chdir(tmp_path)
    RUNNABLE_BLOCKS[marker]()
    exec(compile(blocks[0], "README.md", "exec"), {})


def test_every_public_name_imports():
    for name in keras_bert_impl.__all__:
        assert getattr(keras_bert_impl, name) is not None, name
    for name in ("Tokenizer", "learn_vocab", "SegmentPacker", "MlmMasker", "BertBackbone",
                 "BertPretrainer", "BertClassifier"):
        assert name in keras_bert_impl.__all__


def _main_job_listing():
    section = _readme().split("## The main job", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = block.replace("\\\n", " ").splitlines()
    prefix = ["python", "train_tf.py"]
    argvs = [shlex.split(line) for line in commands if line.strip()]
    assert all(argv[:2] == prefix for argv in argvs), argvs
    return [argv[2:] for argv in argvs]


def test_the_main_job_listing_is_what_the_main_job_runs():
    assert _main_job_listing() == steps()


def test_the_main_job_parses_with_the_real_parser():
    """A flag misspelled alike in the README and in default_job would pass the
    listing test; the parser catches it, and the recipe's values arrive."""
    from keras_bert_impl.cli import build_parser
    from keras_bert_impl.cli.default_job import DESCRIPTION

    parser = build_parser(DESCRIPTION)
    parsed = {argv[0]: parser.parse_args(argv) for argv in steps()}
    pretrain, finetune = parsed["pretrain"], parsed["finetune"]
    assert (pretrain.learning_rate, pretrain.beta2, pretrain.mask_rate) == (1.5e-3, 0.98, 0.4)
    assert (pretrain.num_layers, pretrain.steps, pretrain.precision) == (2, 900, "auto")
    assert (finetune.learning_rate, finetune.beta2, finetune.epochs) == (5e-4, 0.999, 10)
    assert (finetune.pooling, finetune.precision) == ("mean", "auto")

