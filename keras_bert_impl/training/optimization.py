"""BERT's optimisation recipe: AdamW (or LAMB), linear warmup then linear decay.

As in the original BERT, weight decay skips LayerNorm parameters and biases,
and gradients are clipped to a global norm of 1.0. Keras has the optimizers;
the schedule is written here because Keras has no warmup-then-linear-decay
schedule (its `CosineDecay` warms up but decays along a cosine).

Example:

>>> optimizer = create_optimizer(learning_rate=1e-4, total_steps=10000)
>>> float(optimizer.learning_rate)  # step 0 of the warmup
0.0
"""

import keras
from keras import ops

OPTIMIZERS = ("adamw", "lamb")

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


def create_optimizer(
    learning_rate,
    total_steps,
    warmup_ratio=0.1,
    optimizer="adamw",
    weight_decay=0.01,
    global_clipnorm=1.0,
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
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}.")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}.")
    if not 0 <= warmup_ratio < 1:
        raise ValueError(f"warmup_ratio must be in [0, 1), got {warmup_ratio}.")
    schedule = WarmupLinearDecay(
        learning_rate, total_steps, int(round(warmup_ratio * total_steps))
    )
    if optimizer == "adamw":
        result = keras.optimizers.AdamW(
            learning_rate=schedule,
            weight_decay=weight_decay,
            epsilon=1e-6,
            global_clipnorm=global_clipnorm,
        )
    else:
        result = keras.optimizers.Lamb(
            learning_rate=schedule,
            weight_decay=weight_decay,
            epsilon=1e-6,
            global_clipnorm=global_clipnorm,
        )
    result.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return result
