"""Makes Keras 3 `Model.fit` work under MultiWorkerMirroredStrategy.

Keras 3.15.1 `fit` on the TensorFlow backend fails as shipped as soon as a
MultiWorkerMirroredStrategy spans more than one worker, in two places of
keras/src/backend/tensorflow/trainer.py (two workers on 127.0.0.1, one CPU
each, TensorFlow 2.21):

1. keras#20585 (trainer.py:731). `TensorFlowTrainer._maybe_symbolic_build`,
   called by `fit` and `evaluate` before the first step, reduces the first
   distributed batch with `strategy.reduce("MEAN", batch, axis=None)` only to
   learn its shapes and dtypes. Under MultiWorkerMirroredStrategy that eager
   reduce hands the `PerReplica` batch to the collective ops, which fail:

       ValueError: Attempt to convert a value (PerReplica:{ 0: <tf.Tensor:
       shape=(4, 6), dtype=float32, numpy=...> }) with an unsupported type
       (<class 'tensorflow.python.distribute.values.PerReplica'>) to a Tensor.

   Fix: build from the local value of the first replica instead; a symbolic
   build only needs shapes and dtypes.

2. tensorflow#72388 (trainer.py:841). `reduce_per_replica(..., "auto")`
   reduces the step's logs (loss and metric results, all scalars) under a
   multi-worker strategy with `strategy.reduce("MEAN", value, axis=0)`; axis 0 of a scalar
   does not exist:

       ValueError: Invalid reduction dimension 0 for input with 0
       dimensions. for '{{node Sum_2}} = Sum[T=DT_FLOAT, Tidx=DT_INT32,
       keep_dims=false](div_no_nan, Sum_2/reduction_indices)' with input
       shapes: [], [] and with computed input tensors: input[1] = <0>.

   Fix: reduce with `axis=None`, the mean over replicas, which is what the
   single-worker branch of the same function computes.

`apply_multi_worker_fixes()` patches both, only for Keras versions in
`VERIFIED_KERAS_VERSIONS` (others get a warning and no patch), only once, and
the patched code changes behaviour only under a multi-worker strategy. The
private Keras module is imported only then, so a Keras with another layout
cannot break a single-device run. `remove_multi_worker_fixes()` puts Keras'
own functions back.

Example:

    apply_multi_worker_fixes()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
"""

import functools
import importlib
import sys
import warnings

import keras
import tensorflow as tf

# Keras versions on which both failures were reproduced and the fix verified
# by tests/training/test_multi_worker.py.
VERIFIED_KERAS_VERSIONS = ("3.15.1",)

_PATCHED_MARKER = "_keras_bert_impl_multi_worker_fix"
_TRAINER_MODULE = "keras.src.backend.tensorflow.trainer"


def keras_trainer_module():
    """Keras' private TensorFlow trainer module, the one the fixes patch."""
    return importlib.import_module(_TRAINER_MODULE)


def apply_multi_worker_fixes():
    """Patches Keras `fit` for MultiWorkerMirroredStrategy; safe to repeat.

    Returns:
        True when the fixes are in place, False when this Keras version was
        not verified (a warning says so and nothing is patched).

    Example:

        apply_multi_worker_fixes()
    """
    if keras.__version__ not in VERIFIED_KERAS_VERSIONS:
        warnings.warn(
            f"keras_bert_impl: multi-worker fixes were verified on Keras "
            f"{', '.join(VERIFIED_KERAS_VERSIONS)}, not {keras.__version__}; "
            "not applying them. Model.fit under MultiWorkerMirroredStrategy "
            "may fail (keras#20585, tensorflow#72388).",
            stacklevel=2,
        )
        return False
    tf_trainer = keras_trainer_module()
    trainer_class = tf_trainer.TensorFlowTrainer
    if not getattr(trainer_class._maybe_symbolic_build, _PATCHED_MARKER, False):
        trainer_class._maybe_symbolic_build = _build_from_local_values(
            trainer_class._maybe_symbolic_build
        )
    if not getattr(tf_trainer.reduce_per_replica, _PATCHED_MARKER, False):
        # The step functions look the name up in the module when traced.
        tf_trainer.reduce_per_replica = _mean_over_replicas(
            tf_trainer.reduce_per_replica
        )
    return True


def remove_multi_worker_fixes():
    """Restores Keras' own functions where `apply_multi_worker_fixes` patched them.

    Returns:
        True when a patch was removed, False when none was in place.

    Example:

        apply_multi_worker_fixes()
        ...
        remove_multi_worker_fixes()
    """
    if not multi_worker_fixes_applied():
        return False
    tf_trainer = keras_trainer_module()
    trainer_class = tf_trainer.TensorFlowTrainer
    if getattr(trainer_class._maybe_symbolic_build, _PATCHED_MARKER, False):
        trainer_class._maybe_symbolic_build = trainer_class._maybe_symbolic_build.__wrapped__
    if getattr(tf_trainer.reduce_per_replica, _PATCHED_MARKER, False):
        tf_trainer.reduce_per_replica = tf_trainer.reduce_per_replica.__wrapped__
    return True


def multi_worker_fixes_applied():
    """Whether either fix is in place (False when Keras was never patched)."""
    tf_trainer = sys.modules.get(_TRAINER_MODULE)
    if tf_trainer is None:  # not even imported: nothing can be patched
        return False
    return any(
        getattr(function, _PATCHED_MARKER, False)
        for function in (
            tf_trainer.TensorFlowTrainer._maybe_symbolic_build,
            tf_trainer.reduce_per_replica,
        )
    )


def _is_multi_worker(strategy):
    return isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
    ) and strategy.extended._in_multi_worker_mode()


def _build_from_local_values(maybe_symbolic_build):
    """Wraps `_maybe_symbolic_build` to build from replica 0's local batch."""

    @functools.wraps(maybe_symbolic_build)
    def wrapper(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is not None and strategy and _is_multi_worker(strategy):
            # Same first-batch read as Keras, minus the cross-worker reduce.
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0],
                    next(batches),
                )
                break
            iterator = None
        return maybe_symbolic_build(self, iterator=iterator, data_batch=data_batch)

    setattr(wrapper, _PATCHED_MARKER, True)
    return wrapper


def _mean_over_replicas(reduce_per_replica):
    """Wraps `reduce_per_replica` so a multi-worker "mean" uses axis=None."""

    @functools.wraps(reduce_per_replica)
    def wrapper(values, strategy, reduction):
        if reduction in ("auto", "mean") and _is_multi_worker(strategy):
            return keras.tree.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values
            )
        return reduce_per_replica(values, strategy, reduction)

    setattr(wrapper, _PATCHED_MARKER, True)
    return wrapper
