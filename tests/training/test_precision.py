"""`--precision auto`: mixed_bfloat16 only where the run's devices compute bfloat16 natively."""

import pytest
import tensorflow as tf

from keras_bert_impl.training import precision
from keras_bert_impl.training.strategy import compute_device_kinds

X86_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
X86_AVX2 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n"


@pytest.mark.parametrize(
    "cpuinfo, expected",
    [
        (X86_BF16, ("mixed_bfloat16", "a CPU with native bfloat16 (avx512_bf16)")),
        (ARM_BF16, ("mixed_bfloat16", "a CPU with native bfloat16 (bf16)")),
        (X86_AVX2, ("float32", "a CPU without native bfloat16 instructions")),
        (None, ("float32", "a CPU without native bfloat16 instructions")),
    ],
)
def test_auto_on_cpus_reads_their_flags(tmp_path, monkeypatch, cpuinfo, expected):
    path = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        path.write_text(cpuinfo)
    monkeypatch.setattr(precision, "_CPUINFO", str(path))
    assert precision.resolve_precision("auto", {"CPU"}) == expected


@pytest.mark.parametrize(
    "capabilities, expected",
    [
        ([(9, 0), (8, 0)], ("mixed_bfloat16", "GPUs of compute capability 8.0")),
        ([(8, 6), (7, 5)], ("float32", "a GPU of compute capability 7.5 (bfloat16 is native from 8.0)")),
        ([None], ("float32", "GPUs of unknown compute capability")),
    ],
)
def test_auto_on_gpus_reads_their_compute_capability(monkeypatch, capabilities, expected):
    # The CPU's flags must not matter when the run computes on GPUs.
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    gpus = [f"GPU:{index}" for index in range(len(capabilities))]
    monkeypatch.setattr(precision.tf.config, "list_physical_devices", lambda kind: gpus if kind == "GPU" else [])
    details = dict(zip(gpus, capabilities))
    monkeypatch.setattr(
        precision.tf.config.experimental, "get_device_details",
        lambda gpu: {} if details[gpu] is None else {"compute_capability": details[gpu]},
    )
    assert precision.resolve_precision("auto", {"GPU"}) == expected


def test_named_precisions_pass_through_and_tpus_get_bfloat16():
    assert precision.resolve_precision("mixed_float16", {"TPU"}) == ("mixed_float16", None)
    assert precision.resolve_precision("auto", {"TPU"}) == ("mixed_bfloat16", "TPUs")


def test_strategies_name_the_devices_they_compute_on():
    assert compute_device_kinds(tf.distribute.OneDeviceStrategy("/cpu:0")) == {"CPU"}
    expected = {"GPU"} if tf.config.list_logical_devices("GPU") else {"CPU"}
    assert compute_device_kinds(tf.distribute.get_strategy()) == expected
