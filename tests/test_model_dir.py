"""The model directory records its training length, and every reader of text uses it."""

import importlib.util
import json
import os

import numpy as np
import pytest

from keras_bert_impl.inference import classify, embed
from keras_bert_impl.model_dir import TOKENIZER_CONFIG_FILE, load_model_dir, save_model_dir
from keras_bert_impl.serving import export_saved_model
from keras_bert_impl.serving.local import load_saved_model_signatures

_spec = importlib.util.spec_from_file_location(
    "tiny_models", os.path.join(os.path.dirname(__file__), "serving", "tiny_models.py")
)
tiny_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_models)

TRAINED_SEQ_LEN = 8
# 14 tokens once packed: longer than the training length, shorter than
# max_position_embeddings (512), so packing to either gives other answers.
LONG_TEXT = "the cat sat on the mat and the dog ran on the mat ."


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("seq_len") / "classifier")
    return tiny_models.make_tiny_model_dir(path, "classifier", seq_len=TRAINED_SEQ_LEN)


def test_the_directory_records_the_training_length(classifier_dir):
    with open(os.path.join(classifier_dir, TOKENIZER_CONFIG_FILE)) as f:
        assert json.load(f)["model_max_length"] == TRAINED_SEQ_LEN
    loaded = load_model_dir(classifier_dir)
    assert loaded.seq_len == loaded.tokenizer.model_max_length == TRAINED_SEQ_LEN


def test_python_api_and_export_agree_past_the_training_length(classifier_dir, tmp_path):
    loaded = load_model_dir(classifier_dir, compile=False)
    assert len(loaded.tokenizer([LONG_TEXT]).flat_values) + 2 > TRAINED_SEQ_LEN
    export = load_saved_model_signatures(export_saved_model(loaded, str(tmp_path / "export")))
    served = export("serving_default", text=[LONG_TEXT])["probabilities"][0]
    api = classify(loaded.model, loaded.tokenizer, LONG_TEXT, loaded.label_names)
    # A random classifier's probabilities are all near 1/3: compare them
    # tightly, and the embeddings (values near 1) as well.
    np.testing.assert_allclose(list(api["probabilities"].values()), served, atol=1e-6)
    served_embedding = export("embed", text=[LONG_TEXT])["mean_embedding"][0]
    np.testing.assert_allclose(embed(loaded.model, loaded.tokenizer, LONG_TEXT), served_embedding, atol=1e-5)
    # The full length answers differently: the default is what makes them agree.
    longer = embed(loaded.model, loaded.tokenizer, LONG_TEXT, seq_len=512)
    assert np.abs(longer - served_embedding).max() > 1e-2


def test_a_directory_without_the_length_reads_at_128_with_a_warning(classifier_dir, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    for name in os.listdir(classifier_dir):
        os.link(os.path.join(classifier_dir, name), old / name)
    os.remove(old / TOKENIZER_CONFIG_FILE)
    (old / TOKENIZER_CONFIG_FILE).write_text('{"do_lower_case": true}\n')
    with pytest.warns(UserWarning, match="does not record the training length"):
        assert load_model_dir(str(old), compile=False).seq_len == 128


def test_bad_lengths_are_refused(classifier_dir, tmp_path):
    loaded = load_model_dir(classifier_dir, compile=False)
    with pytest.raises(ValueError, match="seq_len=513: expected 3"):
        save_model_dir(str(tmp_path / "x"), loaded.model, loaded.vocab_file, True, seq_len=513)
    assert not os.path.exists(tmp_path / "x")
    config_file = os.path.join(classifier_dir, TOKENIZER_CONFIG_FILE)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in os.listdir(classifier_dir):
        os.link(os.path.join(classifier_dir, name), broken / name)
    os.remove(broken / TOKENIZER_CONFIG_FILE)
    with open(config_file) as f:
        values = {**json.load(f), "model_max_length": "long"}
    (broken / TOKENIZER_CONFIG_FILE).write_text(json.dumps(values))
    with pytest.raises(ValueError, match="model_max_length 'long': expected an integer"):
        load_model_dir(str(broken), compile=False)
