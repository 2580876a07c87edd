"""Python-made tf.data iterators without the autotuning thread, for the test processes.

A pytest worker runs hundreds of trainings in one process. tf.data starts an
autotuning thread per iterator (`Model::OptimizeLoop`) that sleeps longer
between optimisations as the iterator lives, and destroying the iterator
waits for that thread. When garbage collection freed an earlier test's
iterators (MirroredStrategy's per-device iterators among them: they never see
the options of the dataset they split), a later test froze with no CPU in use:
measured with gdb on 2 cores, the main thread sat in `~IteratorResource`
behind `OptimizeLoop` for 40 to 115 s at a time, e.g. the one-layer bfloat16
pretraining of tests/cli/test_train.py took 70-155 s after the mirrored
fine-tuning in the same process (21-24 s alone). Without the thread it ran
in 26 and 28 s beside the same tests. Autotuning only picks parallelism and buffer sizes (every map
keeps its order), so no result the tests check depends on it.

Fresh processes (the CLI runs a test starts) keep TensorFlow's defaults. CLI
runs a test makes in its own process (`cli_support.run_in_process`: the
exact-resume reference and rerun, the resume and reliability reruns, prepare,
the tpu_compile CLI run) go without autotuning, unlike a user's run; what they
check (weights, steps, files) does not depend on it either.
"""

import tensorflow as tf
from tensorflow.python.data.ops import dataset_ops


def iterate_without_autotune_thread():
    """Makes `iter(dataset)` turn tf.data autotuning off for that iterator."""
    make_iterator = dataset_ops.DatasetV2.__iter__
    options = tf.data.Options()
    options.autotune.enabled = False

    def iterator_without_autotune_thread(dataset):
        if dataset.options().autotune.enabled is False:
            return make_iterator(dataset)
        return make_iterator(dataset.with_options(options))

    dataset_ops.DatasetV2.__iter__ = iterator_without_autotune_thread
