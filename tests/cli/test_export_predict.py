"""`export`, `predict` and `fill-mask` subcommands on tiny model directories."""

import argparse
import importlib.util
import io
import json
import os
import shutil

import numpy as np
import pytest

from keras_bert_impl.cli import export, fill_mask, predict, run_guarded
from keras_bert_impl.model_dir import load_model_dir

# The tiny models the serving tests use; loaded by path because tests/ is not a package.
_spec = importlib.util.spec_from_file_location(
    "tiny_models", os.path.join(os.path.dirname(__file__), "..", "serving", "tiny_models.py")
)
tiny_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_models)


def main(*argv):
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    for module in (export, predict, fill_mask):
        module.register(subparsers)
    args = parser.parse_args([str(arg) for arg in argv])
    return run_guarded(args.run, args)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    # One layer: every export and load traces the model, and no check here needs two.
    classifier = tiny_models.make_tiny_model_dir(str(root / "models" / "classifier"), "classifier", num_layers=1)
    pretrainer = tiny_models.make_tiny_model_dir(str(root / "models" / "pretrainer"), "pretrainer", num_layers=1)
    assert main("export", "--model", classifier, "--output", root / "saved" / "cls", "--seq-len", 16) == 0
    assert main("export", "--model", pretrainer, "--output", root / "saved" / "mlm", "--top-k", 3) == 0
    return {
        "classifier": classifier,
        "pretrainer": pretrainer,
        "cls_export": str(root / "saved" / "cls"),
        "mlm_export": str(root / "saved" / "mlm" / "1"),
    }


def json_output(capsys, *argv):
    capsys.readouterr()
    assert main(*argv, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_export_versions_and_overwrite(dirs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main("export", "--model", dirs["classifier"], "--seq-len", 8) == 0
    assert capsys.readouterr().out.strip() == f"exported {os.path.join('saved_models', 'classifier', '1')}"
    assert main("export", "--model", dirs["classifier"], "--seq-len", 8, "--version", 1) == 2
    assert "already exists" in capsys.readouterr().err
    assert main("export", "--model", dirs["classifier"], "--seq-len", 8, "--version", 1, "--overwrite") == 0
    assert sorted(os.listdir(tmp_path / "saved_models" / "classifier")) == [
        "1", "batching_parameters.txt", "models.config"
    ]


def test_export_of_a_missing_model_is_a_user_error(tmp_path, capsys):
    assert main("export", "--model", tmp_path / "nothing", "--output", tmp_path / "out") == 2
    assert "not found" in capsys.readouterr().err


def test_predict_human_output(dirs, capsys):
    assert main("predict", "--saved-model", dirs["cls_export"], "the cat sat", "a good film") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    label, probability, text, others = lines[0].split("\t")
    assert label in tiny_models.LABELS
    assert 0 < float(probability) <= 1
    assert text == "the cat sat"
    assert others.startswith("(negative ")


def test_predict_saved_model_and_model_dir_agree(dirs, capsys):
    texts = ["the cat sat", "", "a good film " * 30]
    exported = json_output(capsys, "predict", "--saved-model", dirs["cls_export"], *texts)
    direct = json_output(capsys, "predict", "--model", dirs["classifier"], "--seq-len", 16, *texts)
    assert [r["text"] for r in exported] == texts
    for a, b in zip(exported, direct):
        assert a["label"] == b["label"] and a["label_id"] == b["label_id"]
        assert list(a["probabilities"]) == tiny_models.LABELS
        np.testing.assert_allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-5)


def test_predict_pairs_stdin_and_embeddings(dirs, capsys, monkeypatch):
    pairs = json_output(capsys, "predict", "--saved-model", dirs["cls_export"], "a cat", "a dog",
                        "--text-b", "it sat", "--text-b", "it ran")
    assert [r["text_b"] for r in pairs] == ["it sat", "it ran"]
    assert main("predict", "--saved-model", dirs["cls_export"], "a cat", "--text-b", "x", "--text-b", "y") == 2
    assert "--text-b given 2 times for 1 texts" in capsys.readouterr().err

    monkeypatch.setattr("sys.stdin", io.StringIO("first line\nsecond line\n"))
    from_stdin = json_output(capsys, "predict", "--saved-model", dirs["cls_export"])
    assert [r["text"] for r in from_stdin] == ["first line", "second line"]

    embedded = json_output(capsys, "predict", "--saved-model", dirs["mlm_export"], "--embed", "a cat")
    assert len(embedded[0]["pooled_output"]) == len(embedded[0]["mean_embedding"]) == 32
    assert main("predict", "--model", dirs["classifier"], "--embed", "a cat") == 0
    assert "mean_embedding [32]:" in capsys.readouterr().out


def test_a_model_dir_and_an_export_swapped_name_the_right_flag(dirs, capsys):
    assert main("predict", "--saved-model", dirs["classifier"], "a cat") == 2
    assert f"pass --model {dirs['classifier']}" in capsys.readouterr().err
    assert main("fill-mask", "--model", dirs["mlm_export"], "a [MASK]") == 2
    assert f"pass --saved-model {dirs['mlm_export']}" in capsys.readouterr().err


def test_predict_on_a_pretrained_model_points_to_fill_mask(dirs, capsys):
    assert main("predict", "--saved-model", dirs["mlm_export"], "a cat") == 2
    assert "use fill-mask" in capsys.readouterr().err


def test_fill_mask_human_output(dirs, capsys):
    assert main("fill-mask", "--saved-model", dirs["mlm_export"], "the [MASK] sat on the [MASK].") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "the [MASK] sat on the [MASK]."
    assert out[1].startswith("  [MASK] 1: ") and out[1].count(",") == 2  # the export's top 3
    assert out[2].startswith("  [MASK] 2: ")
    assert out[3].startswith("  -> the ") and "[MASK]" not in out[3]
    assert len(out) == 4


def test_fill_mask_json_from_export_and_model_dir(dirs, capsys):
    exported = json_output(capsys, "fill-mask", "--saved-model", dirs["mlm_export"], "--top-k", 2, "a [MASK] ran.")
    direct = json_output(capsys, "fill-mask", "--model", dirs["pretrainer"], "--top-k", 2, "a [MASK] ran.")
    for result in (exported, direct):
        (mask,) = result[0]["masks"]
        assert mask["position"] == 2  # [CLS] a [MASK]
        assert len(mask["candidates"]) == 2
        assert result[0]["filled"] == f"a {mask['candidates'][0]['token']} ran."
    for a, b in zip(exported[0]["masks"][0]["candidates"], direct[0]["masks"][0]["candidates"]):
        assert a["token"] == b["token"]
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)


def test_fill_mask_scores_the_embedded_held_out_sentences(dirs, capsys):
    results = json_output(capsys, "fill-mask", "--model", dirs["pretrainer"], "--embedded-held-out")
    assert len(results) == 20
    vocabulary = set(load_model_dir(dirs["pretrainer"], compile=False).tokenizer.vocabulary)
    for result in results:
        tokens = [c["token"] for c in result["masks"][0]["candidates"]] if result["masks"] else []
        assert result["word_is_one_piece"] == (result["word"] in vocabulary)
        assert result["word_in_top_k"] == (result["word_is_one_piece"] and result["word"] in tokens)
    assert main("fill-mask", "--model", dirs["pretrainer"], "--embedded-held-out") == 0
    hits = sum(result["word_in_top_k"] for result in results)
    one_piece = sum(result["word_is_one_piece"] for result in results)
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == (f"held-out fill-mask: the masked word is in the top 5 for {hits} of 20 sentences "
                    f"({one_piece} of the 20 words are one vocabulary piece)")
    assert main("fill-mask", "--saved-model", dirs["mlm_export"], "--embedded-held-out") == 2
    assert "--embedded-held-out needs --model" in capsys.readouterr().err
    assert main("fill-mask", "--model", dirs["pretrainer"], "--embedded-held-out", "a [MASK]") == 2
    assert "drop the TEXT arguments" in capsys.readouterr().err


def test_fill_mask_user_errors(dirs, capsys):
    assert main("fill-mask", "--saved-model", dirs["mlm_export"], "--top-k", 4, "a [MASK]") == 2
    assert "returns 1 to 3 tokens per mask" in capsys.readouterr().err
    assert main("fill-mask", "--saved-model", dirs["mlm_export"], "--max-masks", 2, "a [MASK]") == 2
    assert "--max-masks applies to --model only" in capsys.readouterr().err
    assert main("fill-mask", "--saved-model", dirs["cls_export"], "a [MASK]") == 2
    assert "is a classifier" in capsys.readouterr().err
    assert main("fill-mask", "--saved-model", dirs["cls_export"] + "-missing", "a [MASK]") == 2
    assert "No SavedModel" in capsys.readouterr().err
    # Checked before anything loads: the model path need not even exist.
    assert main("fill-mask", "--model", dirs["pretrainer"] + "-missing", "a [MASK]", "no mask") == 2
    assert "text 2 ('no mask') has no [MASK]" in capsys.readouterr().err


def test_fill_mask_refuses_an_untrained_mlm_head(dirs, tmp_path, capsys):
    untrained = tmp_path / "untrained"
    shutil.copytree(dirs["pretrainer"], untrained)
    (untrained / "heads.json").write_text('{"untrained_heads": ["mlm"]}\n')
    assert main("fill-mask", "--model", untrained, "a [MASK] ran.") == 2
    err = capsys.readouterr().err
    assert "masked-LM head was newly initialised" in err and "--allow-untrained-head" in err
    assert main("fill-mask", "--model", untrained, "--allow-untrained-head", "a [MASK] ran.") == 0
    assert "warning: " in capsys.readouterr().err
