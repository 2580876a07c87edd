"""Precision policies a run may use, and which one suits this machine."""

import keras
import tensorflow as tf

from keras_bert_impl.choices import PRECISIONS

# CPU feature flags (Linux /proc/cpuinfo) of native bfloat16 matmuls: Intel
# and AMD AVX-512 BF16, Intel AMX, and Arm's BF16 extension.
_BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
_CPUINFO = "/proc/cpuinfo"


def set_precision(name):
    """Sets Keras' global dtype policy; must run before the model is built.

    Under the mixed policies variables, LayerNorms, the attention softmax and
    the logits stay float32; `mixed_float16` also gets dynamic loss scaling
    (Keras wraps the optimizer in a `LossScaleOptimizer` at compile).
    """
    if name not in PRECISIONS:
        raise ValueError(f"Unknown precision {name!r}; expected one of {PRECISIONS}.")
    keras.mixed_precision.set_global_policy(name)


def resolve_precision(name):
    """`name`, or for "auto" the policy that suits this machine, and why.

    "auto" is mixed_bfloat16 where bfloat16 matmuls run natively (a TPU, GPUs
    of compute capability 8.0 or more, a CPU with one of `_BFLOAT16_CPU_FLAGS`)
    and float32 elsewhere: a CPU without them emulates bfloat16, which is
    no faster than float32 (`benchmarks/peak.py` on an AVX2-only CPU: 65
    against 67 GFLOP/s) and rounds more. Call it after the strategy is made,
    which is when a TPU becomes visible.

    Returns:
        `(precision, reason)`; `reason` is None unless `name` is "auto".

    Example:

    >>> resolve_precision("float32")
    ('float32', None)
    """
    if name != "auto":
        return name, None
    if tf.config.list_logical_devices("TPU"):
        return "mixed_bfloat16", "a TPU"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)) for gpu in gpus]
        if min(capabilities) >= (8, 0):
            return "mixed_bfloat16", f"GPUs of compute capability {min(capabilities)[0]}.{min(capabilities)[1]}"
        return "float32", "a GPU older than compute capability 8.0"
    native = sorted(_BFLOAT16_CPU_FLAGS & cpu_flags())
    if native:
        return "mixed_bfloat16", f"a CPU with native bfloat16 ({', '.join(native)})"
    return "float32", "a CPU without native bfloat16 instructions"


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (x86 "flags", Arm "Features");
    empty where there is no such file (macOS, Windows)."""
    try:
        with open(_CPUINFO) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()
