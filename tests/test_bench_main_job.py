"""The main job's benchmark: its naive Bayes baseline, the figure the main job must beat."""

import importlib.util
import os
import shlex

import pytest

_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "bench_main_job.py")
_spec = importlib.util.spec_from_file_location("bench_main_job", _SCRIPT)
bench_main_job = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_main_job)


def test_naive_bayes_follows_word_counts_and_priors():
    texts = ["open the file", "read the file", "send the packet", "close the socket"]
    predict = bench_main_job.naive_bayes(texts, [0, 0, 1, 1], num_labels=2)
    assert predict("write a FILE") == 0
    assert predict("a socket packet") == 1
    # No known word: the prior decides, and the larger class wins.
    predict = bench_main_job.naive_bayes(texts, [0, 0, 0, 1], num_labels=2)
    assert predict("nothing known here") == 0


def test_naive_bayes_baseline_on_the_embedded_split():
    # The baseline README "The main job" quotes beside the main job's classifier (which does not beat it).
    correct = bench_main_job.naive_bayes_correct()
    assert sum(correct) / len(correct) == 0.825


def test_paired_comparison_counts_disagreements_and_gives_mcnemars_exact_p():
    first = [True, True, True, False, False, True]
    second = [True, False, False, True, False, True]
    only_first, only_second, p_value = bench_main_job.paired_comparison(first, second)
    assert (only_first, only_second) == (2, 1)
    # Three fair tosses, at most one on the rarer side, either way: 2 * (1 + 3) / 8.
    assert p_value == 1.0
    only_first, only_second, p_value = bench_main_job.paired_comparison([True] * 10, [False] * 10)
    assert (only_first, only_second) == (10, 0)
    assert p_value == 2 / 2 ** 10
    assert bench_main_job.paired_comparison([True], [True]) == (0, 0, 1.0)


def test_another_model_is_scored_only_with_no_run_and_alone_unless_both_are_named(capsys):
    def scored(*flags):
        args = bench_main_job.parse_args(["--no-run", *flags])
        return args.score_pretrained, args.score_classifier

    classifier, pretrained = ("--classifier-dir", "runs/x/classifier"), ("--pretrain-dir", "runs/x/pretrain")
    assert scored(*classifier) == (False, True)
    assert scored(*pretrained) == (True, False)
    assert scored(*classifier, *pretrained) == scored() == (True, True)
    # Named, the main job's own model counts as named.
    assert scored("--pretrain-dir", bench_main_job.MAIN_JOB_PRETRAIN_DIR, *classifier) == (True, True)
    for flag, value in (classifier, pretrained):
        with pytest.raises(SystemExit):
            bench_main_job.parse_args([flag, value])
        assert "score an existing model: add --no-run" in capsys.readouterr().err


def test_dev_split_holds_its_sentences_out_of_the_pretraining_corpus_too(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(os.path.dirname(_SCRIPT))
    import dev_split

    with pytest.raises(SystemExit):
        dev_split.parse_args(["--output", str(tmp_path), "--every", "1"])
    assert "--every 1: expected an integer of at least 2" in capsys.readouterr().err

    dev_split.main(["--output", str(tmp_path)])
    printed = capsys.readouterr().out
    # The dev baseline README "The main job" quotes beside the dev-split sweep.
    assert "naive Bayes trained on train.tsv: dev accuracy 0.8063" in printed
    # The main job's commands, on the split's files.
    from keras_bert_impl.cli import default_job

    pretrain, finetune = dev_split.main_job_commands(str(tmp_path))
    main_pretrain, main_finetune = default_job.steps()[:2]
    assert pretrain[3:] == main_pretrain[3:] + ["--corpus", str(tmp_path / "corpus.txt")]
    assert finetune[7:] == main_finetune[7:] + ["--eval", str(tmp_path / "dev.tsv"), "--seed", "0"]
    assert finetune[:7] == ["finetune", "--init", str(tmp_path / "pretrain"), "--train", str(tmp_path / "train.tsv"),
                            "--output", str(tmp_path / "classifier-seed0")]
    assert pretrain[:3] == ["pretrain", "--output", str(tmp_path / "pretrain")]
    for command in (pretrain, finetune):
        assert f"python train_tf.py {shlex.join(command)}" in printed
    rows = {name: (tmp_path / f"{name}.tsv").read_text().splitlines()[1:] for name in ("train", "dev")}
    assert (len(rows["train"]), len(rows["dev"])) == (1280, 320)
    texts, _, _ = bench_main_job.split_texts("train")
    assert [row.split("\t")[0] for row in rows["dev"]] == texts[::5]
    corpus = {line.lower() for line in (tmp_path / "corpus.txt").read_text().splitlines()}
    validation, _, _ = bench_main_job.split_texts("validation")
    assert not corpus & {text.lower() for text in texts[::5] + validation}
    assert {row.split("\t")[0].lower() for row in rows["train"]} & corpus  # the rest is pretrained on


@pytest.mark.parametrize("named, expected", [
    (("--pretrain-dir", "runs/x/pretrain"), ["pretrained"]),
    (("--classifier-dir", "CLASSIFIER"), ["classifier"]),
    (("--pretrain-dir", "runs/x/pretrain", "--classifier-dir", "CLASSIFIER"), ["pretrained", "classifier"]),
])
def test_main_scores_the_models_named(tmp_path, monkeypatch, capsys, named, expected):
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.5}')
    scored = []
    monkeypatch.setattr(bench_main_job, "naive_bayes_correct", lambda: [True, False])
    monkeypatch.setattr(bench_main_job, "print_pretraining_scores", lambda path: scored.append("pretrained"))
    monkeypatch.setattr(bench_main_job, "classifier_correct",
                        lambda path: scored.append("classifier") or [True, True])
    bench_main_job.main(["--no-run", *[str(tmp_path) if arg == "CLASSIFIER" else arg for arg in named]])
    assert scored == expected
    if "classifier" in expected:
        assert "accuracy 0.5000 (+0.0000 vs naive Bayes)" in capsys.readouterr().out
