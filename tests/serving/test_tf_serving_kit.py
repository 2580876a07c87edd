"""What TF Serving itself meets: the TF1 session loader, the batching and model configs, the op list.

TF Serving's C++ `SavedModelBundle` loads the "serve" MetaGraph into a
session and feeds tensors by name; `tf.compat.v1.saved_model.loader.load`
takes the same path in Python. Every export (classifier, pretrainer, token
classifier, question answerer, windowed classifier) is loaded that way in a
fresh graph, every signature runs by tensor name through `session.run` with
the requests of the export's own warmup file, and the answers must equal
those of the TF2 loader. Every export must use only tensorflow-text ops that
the stock TF Serving images register.
"""

import importlib.util
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_bert_impl.model_dir import load_model_dir, save_model_dir
from keras_bert_impl.models import BertClassifier, BertQuestionAnswerer, BertTokenClassifier
from keras_bert_impl.serving import export_saved_model
from keras_bert_impl.serving.deployment import (
    ALLOWED_BATCH_SIZES,
    BATCHING_DEFAULTS,
    write_deployment_files,
)
from keras_bert_impl.serving.graph_ops import (
    TENSORFLOW_TEXT_2_12_OPS,
    ops_missing_from_binary,
    ops_newer_than_tensorflow_text_2_12,
    saved_model_ops,
    tensorflow_text_ops,
)
from keras_bert_impl.tasks import question_answering
from keras_bert_impl.serving.warmup import read_warmup_file
from tiny_models import LABELS, make_tiny_model_dir


def _load_tool(name):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tools", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_ops = _load_tool("export_ops")  # tools/ is not a package
TEXT_OPS = ["FastWordpieceTokenizeWithOffsets", "NormalizeUTF8"]
SESSION_LOADER_KINDS = ("classifier", "pretrainer", "token_classifier", "question_answerer", "windowed_classifier")
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def make_tiny_task_dir(path, kind, classifier_dir):
    """A tiny "token_classifier" (BIO tags), "question_answerer" or
    "windowed_classifier" (long texts in windows) on the random backbone of
    the tiny classifier at `classifier_dir`, saved at `path`."""
    backbone = load_model_dir(classifier_dir, compile=False).model.backbone
    vocab_file = os.path.join(os.path.dirname(classifier_dir), "vocab.txt")
    if kind == "token_classifier":
        model, labels = BertTokenClassifier(backbone, num_classes=len(TAGS)), TAGS
    elif kind == "windowed_classifier":
        model = BertClassifier(backbone, num_classes=len(LABELS), window_pooling="mean", window_stride=5, max_windows=3)
        labels = LABELS
    else:
        model, labels = BertQuestionAnswerer(backbone), None
    save_model_dir(path, model, vocab_file, lowercase=True, seq_len=16, label_names=labels)
    if kind == "question_answerer":  # windows that fit 16 tokens
        settings = {"doc_stride": 4, "max_query_length": 6, "max_answer_length": 4, "n_best": 3}
        with open(os.path.join(path, question_answering.SETTINGS_FILE), "w") as f:
            json.dump({**settings, "null_threshold": None}, f)
    return path


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("kit")
    # One encoder layer: exporting traces every signature twice, and the
    # session loader imports all of them.
    models = {
        kind: make_tiny_model_dir(str(root / "models" / kind), kind, num_layers=1)
        for kind in ("classifier", "pretrainer")
    }
    for kind in ("token_classifier", "question_answerer", "windowed_classifier"):
        models[kind] = make_tiny_task_dir(str(root / "models" / kind), kind, models["classifier"])
    return {kind: export_saved_model(path, str(root / "saved" / kind), seq_len=16) for kind, path in models.items()}


def run_warmup_in_tf1_session(export):
    """`{signature: {output key: array}}` from the warmup requests, run by tensor name."""
    results = {}
    warmup_logs = read_warmup_file(export)  # eagerly, before the TF1 graph
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], export)
        signatures = meta_graph.signature_def
        for log in warmup_logs:
            request = log.predict_log.request
            signature = signatures[request.model_spec.signature_name]
            feed = {
                signature.inputs[name].name: tf.make_ndarray(proto)
                for name, proto in request.inputs.items()
            }
            assert set(request.inputs) == set(signature.inputs)
            fetches = {key: output.name for key, output in signature.outputs.items()}
            results[request.model_spec.signature_name] = session.run(fetches, feed)
    return results, set(signatures) - {"__saved_model_init_op"}


@pytest.mark.parametrize("kind", SESSION_LOADER_KINDS)
def test_tf1_session_loader_runs_every_signature_like_tf2(exports, kind):
    export = exports[kind]
    tf1_results, signature_names = run_warmup_in_tf1_session(export)
    assert set(tf1_results) == signature_names  # the warmup file covers every signature
    loaded = tf.saved_model.load(export)
    for log in read_warmup_file(export):
        request = log.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        expected = loaded.signatures[request.model_spec.signature_name](**inputs)
        got = tf1_results[request.model_spec.signature_name]
        assert set(got) == set(expected)
        for key, value in expected.items():
            if value.dtype == tf.string:
                np.testing.assert_array_equal(got[key], value.numpy())
            else:
                np.testing.assert_allclose(got[key], value.numpy(), atol=1e-5)


def test_batching_parameters_and_model_config_beside_the_versions(exports):
    root = os.path.dirname(exports["classifier"])
    batching = open(os.path.join(root, "batching_parameters.txt")).read()
    for field, value, _ in BATCHING_DEFAULTS:
        assert re.search(rf"^{field} {{ value: {value} }}$", batching, re.M), field
    sizes = [int(s) for s in re.findall(r"^allowed_batch_sizes: (\d+)$", batching, re.M)]
    assert sizes == list(ALLOWED_BATCH_SIZES) == sorted(sizes)
    assert sizes[-1] == dict((f, v) for f, v, _ in BATCHING_DEFAULTS)["max_batch_size"]
    assert "pad_variable_length_inputs: true" in batching
    config = text_format.Parse(
        open(os.path.join(root, "models.config")).read(), model_server_config_pb2.ModelServerConfig()
    )
    (entry,) = config.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == ("classifier", root, "tensorflow")
    # Later exports keep files the user may have tuned.
    with open(os.path.join(root, "batching_parameters.txt"), "a") as f:
        f.write("# tuned\n")
    assert write_deployment_files(root) == []
    assert open(os.path.join(root, "batching_parameters.txt")).read().endswith("# tuned\n")


def test_every_export_uses_only_tensorflow_text_2_12_ops(exports):
    # The stock tensorflow/serving images register only tensorflow-text 2.12's ops.
    for kind, export in exports.items():
        assert tensorflow_text_ops(saved_model_ops(export)) == TEXT_OPS, kind
    assert set(TEXT_OPS) <= TENSORFLOW_TEXT_2_12_OPS
    assert ops_newer_than_tensorflow_text_2_12(["MatMul", "NormalizeUTF8", "TFText>RoundRobinTrim"]) == [
        "TFText>RoundRobinTrim"
    ]


def test_a_server_binary_is_checked_for_the_graph_ops(exports, tmp_path, capsys):
    fake_server = tmp_path / "tensorflow_model_server"
    # A server that registers every op of the graph but the normalizer.
    registered = [op for op in saved_model_ops(exports["classifier"]) if op != "NormalizeUTF8"]
    fake_server.write_bytes(b"\x7fELF" + b"".join(op.encode() + b"\0" + b"x" * 64 for op in registered))
    assert ops_missing_from_binary(TEXT_OPS, fake_server) == ["NormalizeUTF8"]
    assert export_ops.main([exports["classifier"], "--server-binary", str(fake_server)]) == 1
    out = capsys.readouterr().out
    assert "  NormalizeUTF8\n" in out and export_ops.NEWER_THAN_STOCK_SERVING not in out
    assert out.strip().endswith("lacks 1 op(s): NormalizeUTF8")
