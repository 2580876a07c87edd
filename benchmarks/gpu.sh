#!/usr/bin/env bash
# One prepared GPU run (about 8 minutes on one H200): installs what the package
# needs, then runs benchmarks/bench_gpu.py (bert_base and bert_large MLM at
# seq 128 in mixed_bfloat16: plain graph, XLA and packed rows, the largest
# batch that fits, MFU against the bf16 matmul peak measured in the same
# process) and writes its table and JSON to OUT_DIR.
#
# Usage, from anywhere:
#   benchmarks/gpu.sh [--wheels DIR] [--skip-install] [--out DIR] [--tiny] [bench_gpu.py args...]
#
#   --wheels DIR    install from these wheel files only (a machine without a
#                   package index); default: pip's configured index
#   --skip-install  use the Python environment as it is
#   --out DIR       where gpu.log and gpu.json go (default: $OUT, else ./gpu-results)
#   --tiny          toy sizes on any device (the CPU test of this script:
#                   tests/test_benchmark_scripts.py)
#
# TensorFlow 2.21's GPU build loads CUDA 12: the machine needs a package index,
# a --wheels folder of everything install_dependencies installs
# (tensorflow[and-cuda] alone is over 3.1 GB of wheels), or all of it installed
# already (--skip-install). docs/PERFORMANCE.md (GPU) records a lent H200 that
# had none of the three.
#
# The package runs from this checkout (PYTHONPATH), not installed: setup.cfg
# pins Python 3.11, GPU images often have 3.12, and TensorFlow 2.21 supports both.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
wheels=""
install=1
out_dir="${OUT:-$repo/gpu-results}"
bench_args=()
while (($#)); do
    case "$1" in
        --wheels) wheels="$2"; shift 2 ;;
        --skip-install) install=0; shift ;;
        --out) out_dir="$2"; shift 2 ;;
        *) bench_args+=("$1"); shift ;;
    esac
done

install_dependencies() {
    # The versions setup.cfg pins; and-cuda brings the CUDA libraries TensorFlow loads.
    local source=()
    if [[ -n "$wheels" ]]; then source=(--no-index --find-links "$wheels"); fi
    "$python" -m pip install -q "${source[@]}" "tensorflow[and-cuda]==2.21.*" \
        "tensorflow-text==2.21.*" "keras>=3.15,<3.16" keras-hub tensorboard numpy
}

mkdir -p "$out_dir"
if ((install)); then
    echo "== installing dependencies ($(date -u +%T))"
    install_dependencies
fi
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
fi
echo "== bench_gpu.py ($(date -u +%T))"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
"$python" "$repo/benchmarks/bench_gpu.py" --json "$out_dir/gpu.json" "${bench_args[@]}" \
    2>&1 | tee "$out_dir/gpu.log"
echo "== done ($(date -u +%T)): $out_dir/gpu.log, $out_dir/gpu.json"
