"""GPU pretraining throughput and MFU: BERT MLM at seq 128, plain, XLA and packed.

For each config (default bert_base and bert_large) and mode, builds this
package's `BertPretrainer` in `--precision` (default mixed_bfloat16), takes
the largest batch of `--batch-sizes` that fits in memory (an out-of-memory
error moves on to the next one) and times `model.fit` on one synthetic batch
(`common.synthetic_batch`: random ids, 20 masked positions), as
bench_train.py does. Modes:

- `graph`: `jit_compile=False` (a TensorFlow graph, Keras' default);
- `xla`: `jit_compile=True`;
- `packed`: XLA on packed rows, `--examples-per-row` examples per row with
  block-diagonal attention and positions restarting per example, where the
  package has packed inputs (`keras_bert_impl.models.backbone.
  PACKED_INPUT_NAMES`); otherwise the mode is reported as unavailable.

MFU = sequences/s x matmul FLOPs per sequence
(`common.training_flops_per_sequence`, forward + backward) / the bfloat16
matmul peak that this process measures first (`peak.matmul_gflops`, chained
`--peak-size`^2 products, median of 10). The published anchor for the same
job is NVIDIA's TensorFlow 2 BERT-large seq-128 pretraining on one A100 80GB
at 485.6 sequences/s in mixed precision (NVIDIA DeepLearningExamples); the
table gives each bert_large row as a ratio of it.

`--tiny` runs the same code with toy sizes on whatever device there is (CPU
included): the test of this script.

Examples:

    python benchmarks/bench_gpu.py                        # on a GPU machine
    python benchmarks/bench_gpu.py --tiny                 # seconds, on CPU
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from peak import matmul_gflops  # noqa: E402

import keras_bert_impl as kbi  # noqa: E402
from keras_bert_impl.training.precision import set_precision  # noqa: E402

ANCHOR_SEQ_PER_S = 485.6  # NVIDIA TF2 BERT-large, seq 128, one A100 80GB, mixed precision
ANCHOR_CONFIG = "bert_large"
MODES = ("graph", "xla", "packed")
TINY = dict(configs="bert_tiny", seq_len=32, vocab_size=1000, batch_sizes="8,4", steps=3,
            repeats=1, peak_size=512, examples_per_row=2)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="bert_base,bert_large", help="comma-separated presets")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated: {MODES}")
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--batch-sizes", default="512,256,128,64",
                        help="tried largest first; the first that fits is timed")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed fit")
    parser.add_argument("--repeats", type=int, default=2, help="timed fits per row (median)")
    parser.add_argument("--peak-size", type=int, default=8192, help="matrix side of the peak matmul")
    parser.add_argument("--examples-per-row", type=int, default=4, help="packed mode")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a test that runs on CPU")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.tiny:
        for name, value in TINY.items():
            setattr(args, name, value)
    return args


def packed_input_names():
    """The backbone's packed-row inputs, or None where this checkout has no packing."""
    try:
        from keras_bert_impl.models.backbone import PACKED_INPUT_NAMES
    except ImportError:
        return None
    return PACKED_INPUT_NAMES


def mlm_batch(args, batch_size, packed):
    """`(x, y, sample_weight)` of one synthetic MLM batch; `packed` adds packed-row inputs.

    A packed row holds `--examples-per-row` equal-length examples: ids 1, 2, ...
    per example, positions restarting at 0, and each example's [CLS] position.
    """
    x, y, weights = common.synthetic_batch("mlm", batch_size, args.seq_len, args.vocab_size)[common.OURS]
    if packed:
        length = args.seq_len // args.examples_per_row
        example = np.minimum(np.arange(args.seq_len) // length, args.examples_per_row - 1)
        x = dict(x)
        x["example_ids"] = np.tile(example + 1, (batch_size, 1)).astype("int32")
        x["position_ids"] = np.tile(np.arange(args.seq_len) - example * length, (batch_size, 1)).astype("int32")
        x["cls_positions"] = np.tile(np.arange(args.examples_per_row) * length, (batch_size, 1)).astype("int32")
    return x, y, weights


def build_pretrainer(args, preset, jit_compile):
    set_precision(args.precision)
    config = common.bert_config(preset, args.vocab_size)
    model = kbi.BertPretrainer(kbi.bert_backbone(config))
    model.compile(optimizer=common.make_optimizer(), jit_compile=jit_compile)
    return model


def is_out_of_memory(error):
    return isinstance(error, tf.errors.ResourceExhaustedError) or "out of memory" in str(error).lower()


def time_largest_batch(args, preset, mode, batch_sizes):
    """`(batch size, [sequences/s per repeat])` for the largest batch that fits, or None."""
    for batch_size in batch_sizes:
        try:
            model = build_pretrainer(args, preset, jit_compile=mode != "graph")
            dataset = common.repeated_dataset(mlm_batch(args, batch_size, packed=mode == "packed"))
            model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)  # tracing, compiling
            rates = [common.fit_steps_per_second(model, dataset, args.steps) * batch_size
                     for _ in range(args.repeats)]
            return batch_size, rates
        except (tf.errors.OpError, RuntimeError) as error:
            if not is_out_of_memory(error):
                raise
            print(f"{preset} {mode}: batch {batch_size} does not fit, trying a smaller one", flush=True)
        finally:
            keras.backend.clear_session()
    return None


def measure_row(args, preset, mode, batch_sizes, peak):
    """One result row: throughput, MFU against `peak` GFLOP/s, ratio to the anchor."""
    row = {"config": preset, "mode": mode, "precision": args.precision, "seq_len": args.seq_len}
    if mode == "packed" and packed_input_names() is None:
        return {**row, "unavailable": "this checkout has no packed inputs"}
    timed = time_largest_batch(args, preset, mode, batch_sizes)
    if timed is None:
        return {**row, "unavailable": f"no batch of {batch_sizes} fits"}
    batch_size, rates = timed
    flops = common.training_flops_per_sequence(common.bert_config(preset, args.vocab_size), "mlm", args.seq_len)
    sequences_per_s = common.median(rates)
    row.update(batch_size=batch_size, runs=rates, sequences_per_s=sequences_per_s,
               train_gflop_per_sequence=flops / 1e9, tflops=sequences_per_s * flops / 1e12,
               mfu=sequences_per_s * flops / 1e9 / peak)
    if preset == ANCHOR_CONFIG:
        row["vs_anchor"] = sequences_per_s / ANCHOR_SEQ_PER_S
    return row


def print_rows(rows, peak):
    print(f"bfloat16 matmul peak measured here: {peak / 1e3:.1f} TFLOP/s")
    table = []
    for row in rows:
        if "unavailable" in row:
            table.append([row["config"], row["mode"], "-", "-", "-", "-", row["unavailable"]])
            continue
        anchor = f"{row['vs_anchor']:.2f}x of {ANCHOR_SEQ_PER_S}" if "vs_anchor" in row else "-"
        table.append([row["config"], row["mode"], row["batch_size"], f"{row['sequences_per_s']:.1f}",
                      f"{row['tflops']:.1f}", f"{100 * row['mfu']:.0f}%", anchor])
    common.print_table(["config", "mode", "batch", "seq/s", "TFLOP/s", "MFU (bf16 peak)",
                        "vs NVIDIA A100 anchor"], table)


def main(argv=None):
    args = parse_args(argv)
    print(common.machine_description())
    print("GPUs:", [device.name for device in tf.config.list_physical_devices("GPU")] or "none")
    measure_peak = matmul_gflops(args.peak_size, tf.bfloat16)
    peak = common.median([measure_peak() for _ in range(10)])
    print(f"bf16 peak {peak:.0f} GFLOP/s; {args.precision}, seq {args.seq_len}", flush=True)
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    rows = []
    for preset in args.configs.split(","):
        for mode in args.modes.split(","):
            rows.append(measure_row(args, preset, mode, batch_sizes, peak))
            print(json.dumps(rows[-1]), flush=True)
    print_rows(rows, peak)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflops": peak, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
