"""The core path on stock Keras: which private-API patches a run needs.

The package touches private Keras APIs in three places, each guarded:
`multi_worker_compat` (patched only under MultiWorkerMirroredStrategy; proven
needed by test_multi_worker.py::test_each_multi_worker_fix_is_still_needed),
`ClipSummedGradients` (reached only with several replicas; proven needed by
test_optimization.py::test_keras_own_clipping_still_differs_under_mirrored)
and `Model._initial_epoch` (resuming only). A one-device run needs none of
them, and this test runs it without any.
"""

import keras
import numpy as np

from keras_bert_impl import BertClassifier, BertConfig, bert_backbone
from keras_bert_impl.training import multi_worker_compat


def test_build_fit_save_load_on_stock_keras(tmp_path):
    assert not multi_worker_compat.multi_worker_fixes_applied()
    keras.utils.set_random_seed(0)
    config = BertConfig.preset(
        "bert_tiny", vocab_size=40, hidden_size=16, num_heads=2, num_layers=1,
        intermediate_size=32, max_position_embeddings=8,
    )
    model = BertClassifier(bert_backbone(config), num_classes=2)
    # Keras' own AdamW: no ClipSummedGradients override on the path.
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, global_clipnorm=1.0))
    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(5, 40, (4, 8)).astype("int32"),
        "segment_ids": np.zeros((4, 8), "int32"),
        "padding_mask": np.ones((4, 8), "int32"),
    }
    y = np.array([0, 1, 0, 1], "int32")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert int(model.optimizer.iterations.numpy()) == 1

    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
    assert not multi_worker_compat.multi_worker_fixes_applied()
