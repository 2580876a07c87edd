"""Property-based tests of the raw-text serving signatures on arbitrary input.

The signatures are the `tf.function`s that `export_saved_model` writes
(`ServingFunctions.function`), called on batches hypothesis draws: any
Unicode or bytes, empty texts, empty batches, literal "[MASK]"s anywhere.
Outputs must always have the documented shapes and valid values.
"""

import numpy as np
import pytest
import tensorflow as tf
from support.fuzz import HealthCheck, given, settings, st

from keras_bert_impl.model_dir import load_model_dir
from keras_bert_impl.serving import ServingFunctions
from tiny_models import LABELS, VOCAB, make_tiny_model_dir

SEQ_LEN, MAX_MASKS, TOP_K = 12, 3, 4
FUZZ = settings(
    max_examples=40,
    deadline=None,
    # The module-scoped models are read, never changed, by the examples.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

words = st.sampled_from(["the", "cat", "sat", "[MASK]", " ", "!", "mat", "\xff", "é", "中"])
texts = (
    st.binary(max_size=60)
    | st.text(max_size=60).map(lambda t: t.encode("utf-8"))
    | st.lists(words | st.text(max_size=2), max_size=20).map(lambda parts: "".join(parts).encode("utf-8"))
)
batches = st.lists(texts, min_size=0, max_size=4)


@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_serving")
    return {
        kind: ServingFunctions(
            load_model_dir(make_tiny_model_dir(str(root / kind), kind), compile=False),
            seq_len=SEQ_LEN, max_masks=MAX_MASKS, top_k=TOP_K,
        )
        for kind in ("classifier", "pretrainer")
    }


def _strings(batch):
    return tf.constant(np.array(batch, dtype=object).reshape([len(batch)]), tf.string)


@FUZZ
@given(batches, st.data())
def test_classify_text_and_pairs(serving, batch, data):
    classifier = serving["classifier"]
    outputs = [classifier.function("serving_default")(_strings(batch))]
    text_b = data.draw(st.lists(texts, min_size=len(batch), max_size=len(batch)))
    outputs.append(classifier.function("serving_pair")(_strings(batch), _strings(text_b)))
    for out in outputs:
        probabilities = out["probabilities"].numpy()
        assert probabilities.shape == (len(batch), len(LABELS))
        assert np.isfinite(probabilities).all()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
        label_id = out["label_id"].numpy()
        assert ((label_id >= 0) & (label_id < len(LABELS))).all()
        assert [label.decode() for label in out["label"].numpy()] == [LABELS[i] for i in label_id]


@FUZZ
@given(batches)
def test_embed(serving, batch):
    for functions in serving.values():
        out = functions.function("embed")(_strings(batch))
        for name in ("pooled_output", "mean_embedding"):
            value = out[name].numpy()
            assert value.shape == (len(batch), 32) and np.isfinite(value).all(), name


@FUZZ
@given(batches)
def test_fill_mask(serving, batch):
    out = {name: value.numpy() for name, value in serving["pretrainer"].function("fill_mask")(_strings(batch)).items()}
    n = len(batch)
    assert out["top_ids"].shape == out["top_scores"].shape == out["top_tokens"].shape == (n, MAX_MASKS, TOP_K)
    assert out["mask_positions"].shape == (n, MAX_MASKS) and out["mask_count"].shape == (n,)
    for row in range(n):
        count = int(out["mask_count"][row])
        assert 0 <= count <= min(MAX_MASKS, batch[row].count(b"[MASK]"))
        ids, scores = out["top_ids"][row], out["top_scores"][row]
        assert ((ids[:count] >= 0) & (ids[:count] < len(VOCAB))).all() and (ids[count:] == -1).all()
        assert np.isfinite(scores).all() and (scores[:count] > 0).all() and (scores[count:] == 0).all()
        assert (np.diff(scores[:count], axis=-1) <= 1e-7).all()  # best first
        positions = out["mask_positions"][row]
        assert ((positions[:count] >= 1) & (positions[:count] < SEQ_LEN - 1)).all()
        assert (positions[count:] == -1).all()
        tokens = out["top_tokens"][row]
        assert [[t.decode() for t in r] for r in tokens[:count]] == [[VOCAB[i] for i in r] for r in ids[:count]]
        assert (tokens[count:] == b"").all()
