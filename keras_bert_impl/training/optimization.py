"""BERT's optimisation recipe: AdamW (or LAMB), linear warmup then linear decay.

As in the original BERT, weight decay skips LayerNorm parameters and biases,
and gradients are clipped to a global norm of 1.0. Keras has the optimizers;
the schedule is written here because Keras has no warmup-then-linear-decay
schedule (its `CosineDecay` warms up but decays along a cosine).

Under several replicas Keras 3 clips each replica's gradient before the
all-reduce, so a global-norm clip acts on local gradients and a Mirrored run
drifts from the single-device run (4.3e-3 on a tiny BERT after a few steps).
`ClipSummedGradients` clips the summed gradient instead, as one device would;
it overrides two private hooks of Keras' TensorFlow optimizer, read and verified
on `SUPPORTED_KERAS` only: a multi-replica run on another Keras is refused with
an error naming the range (one replica needs no override and runs anywhere).

Example:

>>> optimizer = create_optimizer(learning_rate=1e-4, total_steps=10000)
>>> float(optimizer.learning_rate)  # step 0 of the warmup
0.0
"""

import keras
import tensorflow as tf
from keras import ops

from keras_bert_impl.choices import OPTIMIZERS

# Variable names (as regular expressions on `variable.name`) left out of
# weight decay: LayerNorm scale/offset and every bias.
NO_DECAY_NAMES = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `peak` over `warmup_steps`, then falls linearly
    to 0 at `total_steps` (and stays there).

    Args:
        peak: the learning rate at the end of the warmup.
        total_steps: the step at which the rate reaches 0.
        warmup_steps: length of the warmup.
    """

    def __init__(self, peak, total_steps, warmup_steps):
        if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"Need 0 <= warmup_steps ({warmup_steps}) <= total_steps "
                f"({total_steps}) and total_steps > 0."
            )
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = step / max(self.warmup_steps, 1)
        decay = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        fraction = ops.where(step < self.warmup_steps, warmup, decay)
        return self.peak * ops.clip(fraction, 0.0, 1.0)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
        }


# [first, end) Keras (major, minor) versions whose optimizer hooks were verified.
SUPPORTED_KERAS = ((3, 15), (3, 16))
# The private methods of Keras' TensorFlow optimizer `ClipSummedGradients` uses.
_KERAS_OPTIMIZER_HOOKS = (
    "_clip_gradients",
    "_backend_update_step",
    "_all_reduce_sum_gradients",
    "_distributed_tf_update_step",
)


def _keras_version():
    return tuple(int(part) for part in keras.__version__.split(".")[:2])


def check_optimizer_hooks(optimizer, num_replicas):
    """Refuses a multi-replica run on a Keras whose optimizer hooks were not verified.

    Args:
        optimizer: a `ClipSummedGradients` optimizer.
        num_replicas: replicas of the strategy the optimizer was made under.

    Raises:
        RuntimeError: `num_replicas > 1` and the Keras version is outside
            `SUPPORTED_KERAS` or lacks a hook.
    """
    if num_replicas <= 1:
        return
    first, end = SUPPORTED_KERAS
    missing = [name for name in _KERAS_OPTIMIZER_HOOKS if not hasattr(optimizer, name)]
    if first <= _keras_version() < end and not missing:
        return
    supported = f"keras>={first[0]}.{first[1]},<{end[0]}.{end[1]}"
    lacking = f" (it lacks {missing})" if missing else ""
    raise RuntimeError(
        f"{type(optimizer).__name__} clips the all-reduced gradient through private hooks "
        f"of Keras' TensorFlow optimizer, verified on {supported}; this is Keras "
        f"{keras.__version__}{lacking}. Install '{supported}' or train on one device."
    )


def _replicas_in_sync():
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1


class ClipSummedGradients:
    """Optimizer mixin: clip after the cross-replica sum, not before."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Keras' TensorFlow optimizer keeps the strategy in scope at construction.
        check_optimizer_hooks(self, self._distribution_strategy.num_replicas_in_sync)

    def _clip_gradients(self, grads):
        if _replicas_in_sync() > 1:
            return grads  # clipped in _backend_update_step, once summed
        return super()._clip_gradients(grads)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if _replicas_in_sync() == 1:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        variables = [
            v.value if isinstance(v, keras.Variable) else v for v in trainable_variables
        ]
        summed = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        clipped = super()._clip_gradients([grad for grad, _ in summed])
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._distributed_tf_update_step,
            self._distribution_strategy,
            list(zip(clipped, [variable for _, variable in summed])),
            learning_rate,
        )


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertAdamW(ClipSummedGradients, keras.optimizers.AdamW):
    """Keras `AdamW` whose gradient clipping sees the all-reduced gradient."""


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertLamb(ClipSummedGradients, keras.optimizers.Lamb):
    """Keras `Lamb` whose gradient clipping sees the all-reduced gradient."""


def create_optimizer(
    learning_rate,
    total_steps,
    warmup_ratio=0.1,
    optimizer="adamw",
    weight_decay=0.01,
    global_clipnorm=1.0,
    beta_2=0.999,
):
    """Returns BERT's optimizer with its learning-rate schedule.

    Args:
        learning_rate: peak learning rate.
        total_steps: number of training steps (the schedule reaches 0 there).
        warmup_ratio: fraction of `total_steps` spent warming up.
        optimizer: `"adamw"` (BERT) or `"lamb"` (large batches, as in
            "Large Batch Optimization for Deep Learning", You et al.).
        weight_decay: decoupled weight decay rate.
        global_clipnorm: gradients are clipped to this global norm.
        beta_2: decay of the second-moment estimate (BERT's 0.999; RoBERTa's
            0.98 forgets old gradient scales sooner, which keeps short runs at
            high learning rates stable).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}.")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}.")
    if not 0 <= warmup_ratio < 1:
        raise ValueError(f"warmup_ratio must be in [0, 1), got {warmup_ratio}.")
    if not 0 < beta_2 < 1:
        raise ValueError(f"beta_2 must be in (0, 1), got {beta_2}.")
    schedule = WarmupLinearDecay(
        learning_rate, total_steps, int(round(warmup_ratio * total_steps))
    )
    optimizer_class = BertAdamW if optimizer == "adamw" else BertLamb
    result = optimizer_class(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_2=beta_2,
        epsilon=1e-6,
        global_clipnorm=global_clipnorm,
    )
    result.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return result
