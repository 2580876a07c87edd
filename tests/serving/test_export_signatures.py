"""Exports of tiny models, loaded in a fresh process, against the Keras models.

One export per model kind and one subprocess for every fresh-process check:
each signature's outputs equal the Keras model's to 1e-5, every warmup
request replays, and bad text (empty, whitespace, 100,000 characters,
invalid UTF-8, mixed in a batch or alone) gives valid outputs.
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from keras_bert_impl.model_dir import load_model_dir
from keras_bert_impl.serving import export_saved_model
from keras_bert_impl.text import SegmentPacker
from keras_bert_impl.text.masked_text import tokenize_masked_text
from tiny_models import LABELS, make_tiny_model_dir

SEQ_LEN = 16
MAX_MASKS = 3
TOP_K = 4
TOLERANCE = 1e-5

TEXTS = [
    b"The cat sat on the mat.",
    b"a GOOD film!",
    b"the dog ran and the cat sat " * 10,  # longer than SEQ_LEN: truncated
]
BAD_TEXTS = [
    b"",
    b"   \t\n  ",
    b"x" * 100_000,
    b"good \xff\xfe film \xc3",  # invalid UTF-8: bytes are replaced, then dropped
]
TEXTS_B = [b"a dog ran.", b"", b"it was bad " * 10, b"\xff"]
MASKED_TEXTS = [
    b"the [MASK] sat on the [MASK].",
    b"[MASK]",
    b"no mask here",
    b"",
    b"the [MASK] ran " * 8,  # more masks than MAX_MASKS, some past SEQ_LEN
    b"good[MASK]\xff film",
]
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_exports_fresh.py")


def strings(values):
    return np.array(values, dtype=object)


def pack(tokenizer, *segments):
    """Packs token segments and trims the padding to the longest row, in numpy."""
    packed = SegmentPacker.from_tokenizer(tokenizer, SEQ_LEN)(*segments)
    longest = max(int(packed["padding_mask"].numpy().sum(axis=1).max()), 2)
    return {name: value.numpy()[:, :longest] for name, value in packed.items()}


def masked_segments(tokenizer, texts):
    """Token ids of texts with the mask id where each literal [MASK] was.

    The package's one function for it (tested in tests/text/test_masked_text.py).
    """
    return tokenize_masked_text(tokenizer, strings(texts))


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def expected_classification(model, inputs):
    probabilities = softmax(np.asarray(model(inputs, training=False)))
    label_id = probabilities.argmax(axis=-1)
    return {
        "probabilities": probabilities,
        "label_id": label_id,
        "label": strings([LABELS[i].encode() for i in label_id]),
    }


def expected_embedding(model, inputs):
    encoded = model.backbone(inputs, training=False)
    sequence = np.asarray(encoded["sequence_output"])
    real = inputs["padding_mask"][:, :, None].astype(np.float32)
    return {
        "pooled_output": np.asarray(encoded["pooled_output"]),
        "mean_embedding": (sequence * real).sum(axis=1) / real.sum(axis=1),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    # One encoder layer: each export traces every signature twice, and the
    # fresh process loads all of them.
    classifier_dir = load_model_dir(make_tiny_model_dir(str(root / "classifier" / "model"), "classifier", num_layers=1))
    pretrainer_dir = load_model_dir(make_tiny_model_dir(str(root / "pretrainer" / "model"), "pretrainer", num_layers=1))
    mean_dir = load_model_dir(
        make_tiny_model_dir(str(root / "mean" / "model"), "classifier", pooling="mean", num_layers=1)
    )
    sizes = dict(seq_len=SEQ_LEN, max_masks=MAX_MASKS, top_k=TOP_K)
    classifier_export = export_saved_model(classifier_dir, str(root / "saved" / "classifier"), **sizes)
    mean_export = export_saved_model(mean_dir, str(root / "saved" / "mean"), **sizes)
    pretrainer_export = export_saved_model(pretrainer_dir, str(root / "saved" / "pretrainer"), **sizes)

    tokenizer = classifier_dir.tokenizer
    all_texts = TEXTS + BAD_TEXTS
    cases = []  # (export, signature, inputs, expected outputs or None)

    def add(export, signature, inputs, expected):
        cases.append((export, signature, inputs, expected))

    model = classifier_dir.model
    add(classifier_export, "serving_default", {"text": strings(all_texts)},
        expected_classification(model, pack(tokenizer, tokenizer(strings(all_texts)))))
    for text in BAD_TEXTS:  # each bad text alone: a batch of one
        add(classifier_export, "serving_default", {"text": strings([text])},
            expected_classification(model, pack(tokenizer, tokenizer(strings([text])))))
    pairs_a, pairs_b = strings(all_texts[: len(TEXTS_B)]), strings(TEXTS_B)
    add(classifier_export, "serving_pair", {"text": pairs_a, "text_b": pairs_b},
        expected_classification(model, pack(tokenizer, tokenizer(pairs_a), tokenizer(pairs_b))))
    ids = pack(tokenizer, tokenizer(strings(TEXTS)))
    add(classifier_export, "predict_ids", ids,
        {**expected_classification(model, ids), "logits": np.asarray(model(ids, training=False))})
    add(classifier_export, "embed", {"text": strings(all_texts)},
        expected_embedding(model, pack(tokenizer, tokenizer(strings(all_texts)))))
    add(mean_export, "serving_default", {"text": strings(all_texts)},
        expected_classification(mean_dir.model, pack(tokenizer, tokenizer(strings(all_texts)))))

    model = pretrainer_dir.model
    add(pretrainer_export, "embed", {"text": strings(all_texts)},
        expected_embedding(model, pack(tokenizer, tokenizer(strings(all_texts)))))
    for signature in ("fill_mask", "serving_default"):
        add(pretrainer_export, signature, {"text": strings(MASKED_TEXTS)},
            expected_fill_mask(model, tokenizer, MASKED_TEXTS))

    requests = {
        "cases": [(export, signature, inputs) for export, signature, inputs, _ in cases],
        "exports": [classifier_export, mean_export, pretrainer_export],
    }
    requests_file, results_file = root / "requests.pkl", root / "results.pkl"
    with open(requests_file, "wb") as f:
        pickle.dump(requests, f)
    # From the temporary folder, so the package cannot be imported by accident.
    subprocess.run(
        [sys.executable, SCRIPT, str(requests_file), str(results_file)], check=True, cwd=root,
        env={**os.environ, "PYTHONPATH": ""},
    )
    with open(results_file, "rb") as f:
        results = pickle.load(f)
    return {
        "cases": [(signature, expected, outputs) for (_, signature, _, expected), outputs
                  in zip(cases, results["outputs"])],
        "results": results,
        "exports": {"classifier": classifier_export, "mean": mean_export, "pretrainer": pretrainer_export},
        "tokenizer": tokenizer,
    }


def expected_fill_mask(model, tokenizer, texts):
    inputs = pack(tokenizer, masked_segments(tokenizer, texts))
    positions = np.zeros((len(texts), MAX_MASKS), np.int32)
    counts = np.zeros(len(texts), np.int32)
    for row, token_ids in enumerate(inputs["token_ids"]):
        found = np.flatnonzero(token_ids == tokenizer.mask_id)[:MAX_MASKS]
        positions[row, : len(found)] = found
        counts[row] = len(found)
    logits = model({**inputs, "mask_positions": positions}, training=False)["mlm"]
    return {"probabilities": softmax(np.asarray(logits)), "mask_count": counts, "mask_positions": positions}


def check_fill_mask(expected, outputs, tokenizer):
    np.testing.assert_array_equal(outputs["mask_count"], expected["mask_count"])
    vocab = np.array(tokenizer.vocabulary, dtype=object)
    for row, count in enumerate(expected["mask_count"]):
        np.testing.assert_array_equal(outputs["mask_positions"][row, :count], expected["mask_positions"][row, :count])
        np.testing.assert_array_equal(outputs["mask_positions"][row, count:], -1)
        ids = outputs["top_ids"][row, :count]
        scores = outputs["top_scores"][row, :count]
        probabilities = expected["probabilities"][row, :count]
        # The returned ids carry the Keras model's probabilities, best first
        # (compared by value: near-ties may order differently).
        np.testing.assert_allclose(np.take_along_axis(probabilities, ids, axis=-1), scores, atol=TOLERANCE)
        np.testing.assert_allclose(np.sort(probabilities, axis=-1)[:, ::-1][:, :TOP_K], scores, atol=TOLERANCE)
        np.testing.assert_array_equal(outputs["top_tokens"][row, :count], vocab[ids].astype(bytes).astype(object))
        np.testing.assert_array_equal(outputs["top_ids"][row, count:], -1)
        np.testing.assert_array_equal(outputs["top_scores"][row, count:], 0.0)
        np.testing.assert_array_equal(outputs["top_tokens"][row, count:], b"")


def test_fresh_process_does_not_import_the_package(run):
    assert run["results"]["imported_package"] is False


def test_signatures_have_named_inputs_and_outputs(run):
    signatures = run["results"]["signatures"]
    assert signatures[run["exports"]["classifier"]] == {
        "serving_default": ["label", "label_id", "probabilities"],
        "serving_pair": ["label", "label_id", "probabilities"],
        "predict_ids": ["label", "label_id", "logits", "probabilities"],
        "embed": ["mean_embedding", "pooled_output"],
    }
    fill_mask_outputs = ["mask_count", "mask_positions", "top_ids", "top_scores", "top_tokens"]
    assert signatures[run["exports"]["pretrainer"]] == {
        "serving_default": fill_mask_outputs,
        "fill_mask": fill_mask_outputs,
        "embed": ["mean_embedding", "pooled_output"],
    }


def test_exported_signatures_match_keras_model(run):
    for signature, expected, outputs in run["cases"]:
        if "mask_count" in expected:
            # Masks past MAX_MASKS or cut off by SEQ_LEN are not counted.
            assert list(expected["mask_count"]) == [2, 1, 0, 0, 3, 1]
            check_fill_mask(expected, outputs, run["tokenizer"])
            continue
        assert sorted(outputs) == sorted(expected), signature
        for name, value in expected.items():
            if value.dtype == object:
                np.testing.assert_array_equal(outputs[name], value, err_msg=f"{signature}/{name}")
            else:
                np.testing.assert_allclose(outputs[name], value, atol=TOLERANCE, err_msg=f"{signature}/{name}")


def test_bad_text_gives_valid_outputs(run):
    # The cases cover BAD_TEXTS in a mixed batch and each alone.
    for signature, _, outputs in run["cases"]:
        for name, value in outputs.items():
            if value.dtype.kind == "f":
                assert np.all(np.isfinite(value)), f"{signature}/{name}"
        if "probabilities" in outputs:
            np.testing.assert_allclose(outputs["probabilities"].sum(axis=-1), 1.0, atol=1e-5)
            assert set(outputs["label"]) <= {label.encode() for label in LABELS}


def test_warmup_requests_replay(run):
    replayed = [(export, signature) for export, signature, _ in run["results"]["warmup"]]
    expected = [
        (export, signature)
        for export in run["exports"].values()
        for signature in run["results"]["signatures"][export]
    ]
    assert sorted(replayed) == sorted(expected)
    for _, signature, outputs in run["results"]["warmup"]:
        batch = {value.shape[0] for value in outputs.values()}
        assert batch == {2}, signature


def graph_constants(export_dir):
    """`(dtype, shape)` of every Const in an export's graph, its functions' included."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    graph = saved_model.meta_graphs[0].graph_def
    nodes = [*graph.node, *(node for function in graph.library.function for node in function.node_def)]
    return [
        (tf.dtypes.as_dtype(node.attr["value"].tensor.dtype),
         tuple(dim.size for dim in node.attr["value"].tensor.tensor_shape.dim))
        for node in nodes if node.op == "Const"
    ]


def test_vocabulary_is_stored_once_for_all_signatures(run):
    # The tokenizer builds its WordPiece model and id-to-token table once,
    # eagerly; every signature captures those same tensors, which the export
    # writes once, however many signatures (or tasks) use them.
    tokenizer = run["tokenizer"]
    wordpiece = (tf.uint8, tuple(tokenizer.wordpiece._model.shape))
    id_to_token = (tf.string, (tokenizer.vocab_size,))
    for kind, table_copies in (("classifier", 0), ("pretrainer", 1)):
        constants = graph_constants(run["exports"][kind])
        assert constants.count(wordpiece) == 1, kind
        assert constants.count(id_to_token) == table_copies, kind
