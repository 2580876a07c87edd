"""train_tf.py pretrain / finetune / evaluate, end to end on tiny data."""

import os

import numpy as np
import pytest

from keras_bert_impl.config import BertConfig
from keras_bert_impl.model_dir import load_model_dir
from keras_bert_impl.training.local_attention_init import sinusoid_table

from cli_support import read_json, run_in_process as _run

RUN_SIZE = ["--seq-len", "32", "--batch-size", "8"]
TINY = [*RUN_SIZE, "--preset", "bert_tiny"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, module_corpus_file):
    """A pretraining run of 6 steps in epochs of 3 on bert_mini's config file cut
    to one layer by --num-layers: the chain fine-tunes from it, the depth test
    reads its config."""
    root = tmp_path_factory.mktemp("pretrained")
    config_file = str(root / "config.json")
    BertConfig.preset("bert_mini", vocab_size=300).save_json_file(config_file)
    output = str(root / "pretrain")
    assert _run("pretrain", "--corpus", module_corpus_file, "--vocab-size", "300", "--steps", "6",
                "--checkpoint-every", "3", "--config", config_file, "--num-layers", "1",
                "--output", output, *RUN_SIZE) == 0
    return output


# Validation and evaluation run finite, length-bucketed data to its end: that
# is no reason for Keras' "ran out of data" warning to reach the user.
@pytest.mark.filterwarnings("error:Your input ran out of data")
def test_pretrain_finetune_evaluate_chain(tmp_path, pretrained, labelled_files):
    train, evaluation = labelled_files
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "model.keras",
                 "model.weights.h5", "history.json"):
        assert os.path.isfile(os.path.join(pretrained, name)), name
    pretrainer = load_model_dir(pretrained)
    assert int(pretrainer.model.optimizer.iterations.numpy()) == 6
    # Two epochs of three steps: the backup was written and removed at the end.
    assert len(read_json(os.path.join(pretrained, "history.json"))["loss"]) == 2
    assert not os.path.exists(os.path.join(pretrained, "backup"))

    classifier_dir = str(tmp_path / "classifier")
    assert _run("finetune", "--init", pretrained, "--train", train, "--eval", evaluation,
                "--epochs", "6", "--learning-rate", "1e-3", "--output", classifier_dir, *RUN_SIZE) == 0
    metrics = read_json(os.path.join(classifier_dir, "metrics.json"))
    assert set(metrics["per_class"]) == {"happy", "sad"}
    # The label is one word away: a model that learned anything gets it.
    assert metrics["accuracy"] >= 0.9, metrics
    loaded = load_model_dir(classifier_dir)
    assert loaded.label_names == ["happy", "sad"]

    out = tmp_path / "eval_metrics.json"
    assert _run("evaluate", "--model", classifier_dir, "--data", evaluation,
                "--output", str(out), "--seq-len", "32") == 0
    assert read_json(out)["accuracy"] == pytest.approx(metrics["accuracy"])


def test_pretrain_starts_local_without_dropout_and_finetunes_with(tmp_path, capsys, corpus_file,
                                                                  labelled_files):
    """The main job's flags: a preset's width at another depth, local starting
    weights, --mask-rate, --beta2, --dropout 0 to pretrain and 0.1 to fine-tune,
    --pooling mean; and a float32 model fine-tuned in the --precision asked for."""
    pretrain_dir = str(tmp_path / "pretrain")
    # One step at a learning rate of 1e-12: the saved weights are the starting ones.
    assert _run("pretrain", "--corpus", corpus_file, "--vocab-size", "300", "--steps", "1",
                "--learning-rate", "1e-12", "--attention-init", "local", "--mask-rate", "0.4",
                "--whole-word-masking", "--dropout", "0", "--num-layers", "1", "--beta2", "0.98",
                "--output", pretrain_dir, *TINY) == 0
    plan = capsys.readouterr().out
    assert "pretraining 1 layer / hidden 128" in plan
    assert ("masked LM on 40% of the tokens (at most 13 per row, whole words), local starting "
            "weights") in plan
    pretrainer = load_model_dir(pretrain_dir).model
    assert pretrainer.optimizer.beta_2 == 0.98
    backbone = pretrainer.backbone
    positions = backbone.embeddings.position_embeddings.numpy()
    expected = np.sqrt(2) * backbone.config.initializer_range * sinusoid_table(*positions.shape)
    np.testing.assert_allclose(positions, expected, rtol=1e-6, atol=1e-9)
    pretrained_config = read_json(os.path.join(pretrain_dir, "config.json"))
    assert pretrained_config["hidden_dropout_prob"] == 0.0
    assert (pretrained_config["num_hidden_layers"], pretrained_config["hidden_size"]) == (1, 128)

    train, evaluation = labelled_files
    classifier_dir = str(tmp_path / "classifier")
    assert _run("finetune", "--init", pretrain_dir, "--train", train, "--eval", evaluation,
                "--epochs", "1", "--dropout", "0.1", "--beta2", "0.95", "--pooling", "mean",
                "--precision", "mixed_bfloat16", "--output", classifier_dir, *RUN_SIZE) == 0
    config = read_json(os.path.join(classifier_dir, "config.json"))
    assert config["hidden_dropout_prob"] == config["attention_probs_dropout_prob"] == 0.1
    classifier = load_model_dir(classifier_dir).model
    assert (classifier.optimizer.beta_2, classifier.pooling) == (0.95, "mean")
    assert classifier.backbone.dtype_policy.name == "mixed_bfloat16"
    capsys.readouterr()
    assert _run("evaluate", "--model", classifier_dir, "--data", evaluation, "--pooling", "pooled") == 2
    assert capsys.readouterr().err.startswith(f"error: --pooling pooled: {classifier_dir} was fine-tuned with --pooling mean")
    # Fine-tuning started from the pretrained weights: positions past --seq-len
    # get no gradient, only weight decay.
    np.testing.assert_allclose(
        classifier.backbone.embeddings.position_embeddings.numpy()[40:], positions[40:], rtol=1e-4
    )


def test_finetune_from_random_init_with_vocab_and_mirrored(tmp_path, labelled_files):
    train, evaluation = labelled_files
    vocab = tmp_path / "vocab.txt"
    words = sorted({w for line in open(train) for w in line.lower().split()})
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    output = tmp_path / "out"
    assert _run("finetune", "--vocab", str(vocab), "--train", train, "--eval", evaluation,
                "--epochs", "1", "--strategy", "mirrored", "--output", str(output), *TINY) == 0
    assert os.path.isfile(output / "model.keras")


def test_num_layers_sets_the_depth_of_a_config_file(pretrained):
    config = read_json(os.path.join(pretrained, "config.json"))
    # bert_mini's width and heads from the file (not bert_tiny's, the default
    # preset), the depth from the flag (not the file's 4).
    assert (config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"]) == (1, 256, 4)


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_pretrain_under_mixed_precision(tmp_path, corpus_file, precision):
    output = str(tmp_path / "out")
    # One layer: the precision, not the depth, is under test.
    assert _run("pretrain", "--corpus", corpus_file, "--vocab-size", "300", "--steps", "3",
                "--precision", precision, "--num-layers", "1", "--output", output, *TINY) == 0
    history = read_json(os.path.join(output, "history.json"))
    assert all(v == v for v in history["loss"])  # finite, not NaN


def test_precision_auto_follows_the_cpu_and_finetune_keeps_to_it(tmp_path, pretrained, labelled_files,
                                                                   monkeypatch, capsys):
    # The main job's flag: a CPU with native bfloat16 (faked here, and the
    # only device, also on a machine with a GPU) gets mixed_bfloat16.
    from keras_bert_impl.training import precision, strategy

    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    monkeypatch.setattr(strategy, "compute_device_kinds", lambda _: {"CPU"})
    train, evaluation = labelled_files
    output = str(tmp_path / "classifier")
    assert _run("finetune", "--init", pretrained, "--train", train, "--eval", evaluation, "--epochs", "1",
                "--precision", "auto", "--output", output, *RUN_SIZE) == 0
    assert "--precision auto: mixed_bfloat16 on a CPU with native bfloat16 (avx512_bf16)" in capsys.readouterr().out
    # The backbone was pretrained in float32; the run's resolved precision wins.
    assert load_model_dir(output).model.dtype_policy.name == "mixed_bfloat16"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pretrain", "--corpus", "/nonexistent/corpus.txt"], "/nonexistent/corpus.txt"),
        (["pretrain", "--seq-len", "600"], "--seq-len 600 exceeds the model's max_position_embeddings (512)"),
        (["pretrain", "--batch-size", "7", "--strategy", "mirrored"], "7"),
        (["pretrain", "--steps", "0"], "--steps must be positive"),
        (["pretrain", "--num-layers", "0"], "--num-layers must be positive"),
        (["pretrain", "--mask-rate", "1.5"], "--mask-rate 1.5: expected a share between 0 and 1"),
        (["pretrain", "--dropout", "1"], "--dropout 1.0: expected a rate with 0 <= rate < 1"),
        (["pretrain", "--beta2", "1"], "--beta2 1.0: expected 0 < beta2 < 1"),
        (["pretrain", "--warmup-ratio", "1"], "--warmup-ratio 1.0: expected 0 <= ratio < 1"),
        (["finetune", "--learning-rate", "0"], "--learning-rate must be positive"),
        (["finetune", "--learning-rate", "nan"], "--learning-rate must be positive, got nan"),
        (["finetune", "--beta2", "0"], "--beta2 0.0: expected 0 < beta2 < 1"),
        (["finetune", "--train", "x.tsv"], "--vocab"),
        (["evaluate", "--model", "/nonexistent/model", "--data", "embedded"], "/nonexistent/model"),
    ],
)
def test_bad_arguments_give_one_clear_line(tmp_path, capsys, corpus_file, argv, message):
    argv = [a if a != "CORPUS" else corpus_file for a in argv]
    if argv[0] == "pretrain" and "--corpus" not in argv:
        argv += ["--corpus", corpus_file, "--vocab-size", "300"]
    if "--output" not in argv and argv[0] != "evaluate":
        argv += ["--output", str(tmp_path / "out")]
    assert _run(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
