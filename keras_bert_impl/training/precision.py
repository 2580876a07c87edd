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


def resolve_precision(name, device_kinds):
    """`name`, or for "auto" the policy that suits the devices a run computes on, and why.

    "auto" is mixed_bfloat16 where bfloat16 matmuls run natively (TPUs, GPUs
    of compute capability 8.0 or more, a CPU with one of `_BFLOAT16_CPU_FLAGS`)
    and float32 elsewhere: a CPU without them emulates bfloat16, which is
    no faster than float32 (`benchmarks/peak.py` on an AVX2-only CPU: 65
    against 67 GFLOP/s) and rounds more.

    Args:
        name: one of `PRECISIONS`, or "auto".
        device_kinds: the kinds of device the run's strategy computes on
            ({"CPU"}, {"GPU"}, {"TPU"}): `training.strategy.compute_device_kinds`.

    Returns:
        `(precision, reason)`; `reason` is None unless `name` is "auto".

    Example:

    >>> resolve_precision("auto", {"TPU"})
    ('mixed_bfloat16', 'TPUs')
    """
    if name != "auto":
        return name, None
    if "TPU" in device_kinds:
        return "mixed_bfloat16", "TPUs"
    if "GPU" in device_kinds:
        return _gpu_precision()
    native = sorted(_BFLOAT16_CPU_FLAGS & cpu_flags())
    if native:
        return "mixed_bfloat16", f"a CPU with native bfloat16 ({', '.join(native)})"
    return "float32", "a CPU without native bfloat16 instructions"


def _gpu_precision():
    # The slowest GPU decides: a Mirrored run computes on every visible GPU.
    details = [tf.config.experimental.get_device_details(gpu) for gpu in tf.config.list_physical_devices("GPU")]
    capabilities = [detail.get("compute_capability") for detail in details]
    if not capabilities or None in capabilities:
        return "float32", "GPUs of unknown compute capability"
    major, minor = min(capabilities)
    if (major, minor) >= (8, 0):
        return "mixed_bfloat16", f"GPUs of compute capability {major}.{minor}"
    return "float32", f"a GPU of compute capability {major}.{minor} (bfloat16 is native from 8.0)"


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
