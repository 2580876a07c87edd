"""Original Google BERT checkpoints: names and shapes of the TF1 release, checked
against transformers on the same random weights."""

import json

import numpy as np
import pytest
import tensorflow as tf

from support.hf import hf_outputs, random_hf_pretraining_model
from support.parity import bert_batch, encoder_inputs, max_errors

import keras_bert_impl as kbi
from keras_bert_impl.convert.google import infer_lowercase

HF_CONFIG = dict(
    vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=37, max_position_embeddings=64, type_vocab_size=2,
    hidden_act="gelu",
)


def _google_name(hf_name):
    """The TF1 release name of a transformers tensor, and whether to transpose.

    Written out rule by rule from Google's modeling.py / run_pretraining.py
    variable scopes, independently of keras_bert_impl's naming scheme.
    """
    name = hf_name.replace(".", "/")
    name = name.replace("encoder/layer/", "encoder/layer_")
    if name.startswith("cls/seq_relationship/"):
        # Google: output_weights [2, hidden], the same layout as torch.
        return name.replace("/weight", "/output_weights").replace("/bias", "/output_bias"), False
    if name == "cls/predictions/bias":
        return "cls/predictions/output_bias", False
    if "LayerNorm" in name:
        return name.replace("/weight", "/gamma").replace("/bias", "/beta"), False
    if "embeddings/" in name and name.endswith("_embeddings/weight"):
        return name[: -len("/weight")], False
    if name.endswith("/weight"):
        return name[: -len("/weight")] + "/kernel", True  # TF kernels are [in, out]
    return name, False


def _google_tensors(hf_model):
    tensors = {}
    for hf_name, tensor in hf_model.state_dict().items():
        if hf_name.startswith("cls.predictions.decoder"):
            continue  # tied to the word embeddings / an alias of the bias
        name, transpose = _google_name(hf_name)
        array = tensor.numpy()
        tensors[name] = array.T if transpose else array
    return tensors


def _write_tf1_checkpoint(prefix, tensors, with_optimizer_state=True):
    """Writes a checkpoint as tf.compat.v1.train.Saver does, names exactly as given."""
    tensors = {name: tf.constant(value) for name, value in tensors.items()}
    if with_optimizer_state:
        # run_pretraining.py checkpoints also hold AdamWeightDecay slots and the step.
        for name in list(tensors):
            tensors[name + "/adam_m"] = tf.zeros_like(tensors[name])
            tensors[name + "/adam_v"] = tf.ones_like(tensors[name])
        tensors["global_step"] = tf.constant(1000000, tf.int64)
    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tensors[n] for n in names],
    )


def write_google_release(folder, hf_model, tensors=None):
    folder.mkdir(parents=True)
    config = {k: v for k, v in hf_model.config.to_dict().items() if k in HF_CONFIG}
    config.update(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.02)
    (folder / "bert_config.json").write_text(json.dumps(config))
    _write_tf1_checkpoint(folder / "bert_model.ckpt", tensors or _google_tensors(hf_model))
    return folder


def test_release_names_cover_every_transformers_tensor():
    names = set(_google_tensors(random_hf_pretraining_model(HF_CONFIG)))
    assert "bert/encoder/layer_1/attention/self/query/kernel" in names
    assert "bert/embeddings/word_embeddings" in names
    assert "bert/embeddings/LayerNorm/gamma" in names
    assert "cls/predictions/transform/dense/kernel" in names
    assert "cls/seq_relationship/output_weights" in names
    # 5 embedding tensors, 16 per layer, 2 pooler, 5 MLM, 2 NSP.
    assert len(names) == 5 + 16 * 2 + 2 + 5 + 2


def test_pretrainer_matches_transformers(tmp_path):
    hf_model = random_hf_pretraining_model(HF_CONFIG)
    folder = write_google_release(tmp_path / "uncased_L-2_H-32_A-4", hf_model)
    pretrainer = kbi.load_google_checkpoint(str(folder))
    assert pretrainer.nsp
    batch = bert_batch(HF_CONFIG["vocab_size"])
    outputs = {
        **pretrainer.predict_on_batch(batch),
        **pretrainer.backbone.predict_on_batch(encoder_inputs(batch)),
    }
    errors = max_errors(outputs, hf_outputs(hf_model, batch))
    print("google -> keras vs transformers:", errors)
    assert max(errors.values()) < 1e-5, errors


def test_backbone_only(tmp_path):
    hf_model = random_hf_pretraining_model(HF_CONFIG, seed=2)
    folder = write_google_release(tmp_path / "release", hf_model)
    backbone = kbi.load_google_checkpoint(str(folder / "bert_model.ckpt"), heads=False)
    assert isinstance(backbone, kbi.BertBackbone)
    batch = bert_batch(HF_CONFIG["vocab_size"])
    errors = max_errors(
        backbone.predict_on_batch(encoder_inputs(batch)), hf_outputs(hf_model, batch)
    )
    assert max(errors.values()) < 1e-5, errors


def test_a_checkpoint_without_heads_loads_its_backbone_with_a_warning(tmp_path):
    hf_model = random_hf_pretraining_model(HF_CONFIG, seed=3)
    tensors = {k: v for k, v in _google_tensors(hf_model).items() if not k.startswith("cls/")}
    folder = write_google_release(tmp_path / "release", hf_model, tensors)
    with pytest.warns(UserWarning, match="no masked-LM head"):
        backbone = kbi.load_google_checkpoint(str(folder))
    assert isinstance(backbone, kbi.BertBackbone)
    batch = bert_batch(HF_CONFIG["vocab_size"])
    errors = max_errors(backbone.predict_on_batch(encoder_inputs(batch)), hf_outputs(hf_model, batch))
    assert max(errors.values()) < 1e-5, errors
    # A head that is there in part is a broken checkpoint, not a headless one.
    del tensors["bert/pooler/dense/bias"]
    tensors["cls/predictions/output_bias"] = np.zeros(HF_CONFIG["vocab_size"], "float32")
    broken = write_google_release(tmp_path / "broken", hf_model, tensors)
    with pytest.raises(ValueError, match="missing tensors"):
        kbi.load_google_checkpoint(str(broken))


def test_unknown_tensor_is_an_error_naming_it(tmp_path):
    hf_model = random_hf_pretraining_model(HF_CONFIG)
    tensors = _google_tensors(hf_model)
    tensors["output_weights"] = np.zeros((3, 32), "float32")  # a classifier head
    folder = write_google_release(tmp_path / "release", hf_model, tensors)
    with pytest.raises(ValueError, match=r"\['output_weights'\]"):
        kbi.load_google_checkpoint(str(folder))


def test_missing_tensor_is_an_error_naming_it(tmp_path):
    hf_model = random_hf_pretraining_model(HF_CONFIG)
    tensors = _google_tensors(hf_model)
    del tensors["bert/encoder/layer_1/attention/output/LayerNorm/beta"]
    folder = write_google_release(tmp_path / "release", hf_model, tensors)
    with pytest.raises(ValueError, match="layer_1/attention/output/LayerNorm/beta"):
        kbi.load_google_checkpoint(str(folder))


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="bert_model.ckpt.index"):
        kbi.load_google_checkpoint(str(tmp_path))
    _write_tf1_checkpoint(tmp_path / "bert_model.ckpt", {"global_step": np.int64(1)})
    with pytest.raises(FileNotFoundError, match="bert_config.json"):
        kbi.load_google_checkpoint(str(tmp_path))


def test_save_writes_the_release_names_and_round_trips(tmp_path):
    hf_model = random_hf_pretraining_model(HF_CONFIG, seed=4)
    source = write_google_release(tmp_path / "source", hf_model)
    pretrainer = kbi.load_google_checkpoint(str(source))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n")
    kbi.save_google_checkpoint(pretrainer, str(tmp_path / "exported"), vocab_file=str(vocab))

    reader = tf.train.load_checkpoint(str(tmp_path / "exported" / "bert_model.ckpt"))
    expected = _google_tensors(hf_model)
    assert reader.get_variable_to_shape_map() == {k: list(v.shape) for k, v in expected.items()}
    for name, value in expected.items():
        np.testing.assert_allclose(reader.get_tensor(name), value, atol=1e-7, err_msg=name)
    assert (tmp_path / "exported" / "vocab.txt").read_text() == "[PAD]\n[UNK]\n"
    with pytest.raises(FileExistsError):
        kbi.save_google_checkpoint(pretrainer, str(tmp_path / "exported"))


def test_infer_lowercase(tmp_path):
    assert infer_lowercase(str(tmp_path / "uncased_L-12_H-768_A-12"))
    assert not infer_lowercase(str(tmp_path / "multi_cased_L-12_H-768_A-12"))
    folder = tmp_path / "chinese_L-12_H-768_A-12"
    folder.mkdir()
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\nthe\n##s\n")
    assert infer_lowercase(str(folder))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\nThe\n")
    assert not infer_lowercase(str(folder))
    with pytest.raises(FileNotFoundError, match="--lowercase or --cased"):
        infer_lowercase(str(tmp_path / "my_model"))
