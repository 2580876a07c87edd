"""`--precision auto`: mixed_bfloat16 only where bfloat16 matmuls are native."""

import pytest

from keras_bert_impl.training import precision

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
def test_auto_reads_the_cpu_flags(tmp_path, monkeypatch, cpuinfo, expected):
    path = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        path.write_text(cpuinfo)
    monkeypatch.setattr(precision, "_CPUINFO", str(path))
    monkeypatch.setattr(precision.tf.config, "list_physical_devices", lambda kind: [])
    assert precision.resolve_precision("auto") == expected


def test_named_precisions_pass_through():
    assert precision.resolve_precision("mixed_float16") == ("mixed_float16", None)
