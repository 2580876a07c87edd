"""`train_tf.py convert`: every source format to a model directory, and back out."""

import argparse
import json

import keras_hub
import pytest
from support.hf import hf_outputs, random_hf_pretraining_model, transformers
from support.parity import assert_same_weights, bert_batch, encoder_inputs, max_error

import keras_bert_impl as kbi
from keras_bert_impl.cli import convert, run_guarded
from keras_bert_impl.model_dir import load_model_dir

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(40)]
SIZES = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=37, max_position_embeddings=24)


def _parse(*argv):
    parser = argparse.ArgumentParser(prog="train_tf.py")
    convert.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["convert", *argv])


def _convert(*argv):
    args = _parse(*argv)
    return args.run(args)


def _batch():
    return bert_batch(len(VOCAB), batch_size=2, seq_len=9, num_masks=2, seed=0)


def _hf_folder(path, do_lower_case):
    model = random_hf_pretraining_model(SIZES)
    model.save_pretrained(path)
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    (path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": do_lower_case}))
    return model


def test_hf_to_model_dir_and_back_to_hf(tmp_path, capsys):
    hf_model = _hf_folder(tmp_path / "hf", do_lower_case=False)
    assert _convert("--from", "hf", "--to", "keras", str(tmp_path / "hf"), str(tmp_path / "dir")) == 0
    assert "BertPretrainer with NSP" in capsys.readouterr().out
    loaded = load_model_dir(str(tmp_path / "dir"))
    assert loaded.lowercase is False and list(loaded.tokenizer.vocabulary) == VOCAB
    batch = _batch()
    expected = hf_outputs(hf_model, batch)["mlm"]
    assert max_error(loaded.model.predict_on_batch(batch)["mlm"], expected) < 1e-5

    assert _convert("--from", "keras", "--to", "hf", "--json", str(tmp_path / "dir"), str(tmp_path / "out")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["lowercase"] is False and summary["nsp"] is True
    reloaded = transformers.BertForPreTraining.from_pretrained(tmp_path / "out").eval()
    assert max_error(hf_outputs(reloaded, batch)["mlm"], expected) < 1e-5
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    assert tokenizer.do_lower_case is False


def test_google_to_model_dir(tmp_path):
    pretrainer = kbi.BertPretrainer(
        kbi.bert_backbone(kbi.BertConfig.from_huggingface_dict(
            {**SIZES, "type_vocab_size": 2, "hidden_act": "gelu"})), nsp=True
    )
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    release = tmp_path / "uncased_L-2_H-32_A-4"
    kbi.save_google_checkpoint(pretrainer, str(release), vocab_file=str(vocab))
    assert _convert("--from", "google", "--to", "keras", str(release), str(tmp_path / "dir")) == 0
    loaded = load_model_dir(str(tmp_path / "dir"))
    assert loaded.lowercase is True and loaded.model.nsp
    assert_same_weights(pretrainer.weights, loaded.model.weights, compare_paths=False)
    # --cased overrides the folder name.
    _convert("--from", "google", "--to", "keras", "--cased", str(release), str(tmp_path / "cased"))
    assert load_model_dir(str(tmp_path / "cased")).lowercase is False


def test_keras_hub_preset_to_model_dir_and_back(tmp_path):
    hub_masked_lm = keras_hub.models.BertMaskedLM(
        keras_hub.models.BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                                      hidden_dim=16, intermediate_dim=24, max_sequence_length=20),
        preprocessor=keras_hub.models.BertMaskedLMPreprocessor(
            keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=True), sequence_length=8
        ),
    )
    hub_masked_lm.save_to_preset(str(tmp_path / "preset"))
    assert _convert("--from", "keras_hub", "--to", "keras", str(tmp_path / "preset"), str(tmp_path / "dir")) == 0
    loaded = load_model_dir(str(tmp_path / "dir"))
    assert loaded.config.hidden_act == "gelu_approximate"
    assert loaded.lowercase is True and list(loaded.tokenizer.vocabulary) == VOCAB
    inputs = encoder_inputs(_batch())
    expected = hub_masked_lm.backbone.predict_on_batch(inputs)["sequence_output"]
    ours = loaded.model.backbone.predict_on_batch(inputs)["sequence_output"]
    assert max_error(ours, expected) < 1e-5

    assert _convert("--from", "keras", "--to", "keras_hub", str(tmp_path / "dir"), str(tmp_path / "hub")) == 0
    again = keras_hub.models.BertMaskedLM.from_preset(str(tmp_path / "hub"))
    assert_same_weights(hub_masked_lm.weights, again.weights, compare_paths=False)
    assert again.preprocessor.tokenizer.lowercase is True


def test_backbone_without_vocab_needs_one_and_gets_a_new_head(tmp_path, capsys):
    hub_backbone = keras_hub.models.BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                                                 hidden_dim=16, intermediate_dim=24)
    hub_backbone.save_to_preset(str(tmp_path / "preset"))
    with pytest.raises(ValueError, match="--vocab"):
        _convert("--from", "keras_hub", "--to", "keras", str(tmp_path / "preset"), str(tmp_path / "dir"))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    with pytest.raises(ValueError, match="--lowercase or --cased"):
        _convert("--from", "keras_hub", "--to", "keras", "--vocab", str(vocab),
                 str(tmp_path / "preset"), str(tmp_path / "dir"))
    with pytest.warns(UserWarning, match="newly initialised"):
        _convert("--from", "keras_hub", "--to", "keras", "--vocab", str(vocab), "--lowercase",
                 str(tmp_path / "preset"), str(tmp_path / "dir"))
    # The summary names what was written, not what was read (a backbone).
    assert "BertPretrainer, 1 layers" in capsys.readouterr().out
    loaded = load_model_dir(str(tmp_path / "dir"))
    assert isinstance(loaded.model, kbi.BertPretrainer)
    assert loaded.untrained_heads == ("mlm",)  # fill-mask refuses it
    assert loaded.seq_len == loaded.config.max_position_embeddings


def test_user_errors_exit_2_with_one_line(tmp_path, capsys):
    (tmp_path / "dst").mkdir()
    args = _parse("--from", "hf", "--to", "keras", str(tmp_path / "missing"), str(tmp_path / "dst"))
    assert run_guarded(args.run, args) == 2
    assert "already exists" in capsys.readouterr().err
    args = _parse("--from", "hf", "--to", "keras", str(tmp_path / "missing"), str(tmp_path / "new"))
    assert run_guarded(args.run, args) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse("--from", "hf", "--to", "keras", "--lowercase", "--cased", "a", "b")
