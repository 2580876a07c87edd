"""The machine's measured matmul peak, and the training MFU against it.

Peak: `tf.linalg.matmul` of two large square matrices (2 n^3 FLOPs each),
float32 and bfloat16, in a `tf.function`, median GFLOP/s over repeats. This
is what the CPU (oneDNN) actually delivers on this machine, not its
datasheet number.

MFU (`--train`): this package's training throughput (`model.fit`, synthetic
batch, as bench_train.py) times the matmul FLOPs per sequence of
`common.training_flops_per_sequence` (written out there), divided by the
measured float32 peak; mixed_bfloat16 runs are also given against the
bfloat16 peak. The matmul and the training step are measured alternately
so both see the same machine load.

Examples:

    python benchmarks/peak.py                               # peak only
    python benchmarks/peak.py --train --configs bert_small  # + MFU of bert_small MLM/classify
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def matmul_gflops(size, dtype, iterations=4):
    """Returns a function measuring one run's GFLOP/s of `size`^2 matmuls."""
    a = tf.random.normal([size, size], dtype=tf.float32)
    a = tf.cast(a, dtype)
    b = tf.cast(tf.random.normal([size, size], dtype=tf.float32), dtype)

    scale = tf.cast(1.0 / size**0.5, dtype)

    @tf.function
    def run():
        # Each product feeds the next, so Grappler can neither merge identical
        # matmuls (common-subexpression elimination made an earlier version
        # report 4x the real rate) nor shrink one to the sliced corner; the
        # scale keeps values bounded.
        x = a
        for _ in range(iterations):
            x = tf.linalg.matmul(x, b) * scale
        return tf.reduce_sum(x[:1, :1])

    run()

    def measure():
        start = time.perf_counter()
        run().numpy()
        return iterations * 2 * size**3 / (time.perf_counter() - start) / 1e9

    return measure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2048, help="matrix side")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train", action="store_true", help="also measure training MFU")
    parser.add_argument("--configs", default="bert_small")
    parser.add_argument("--tasks", default="mlm,classify")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    print(common.machine_description())

    peaks = {"float32": matmul_gflops(args.size, tf.float32),
             "bfloat16": matmul_gflops(args.size, tf.bfloat16)}
    if not args.train:
        results = common.alternate(peaks, args.repeats)
        common.print_table(
            ["dtype", f"matmul {args.size}^2 GFLOP/s (median)", "runs"],
            [[k, f"{common.median(v):.0f}", " ".join(f"{x:.0f}" for x in v)]
             for k, v in results.items()],
        )
        return

    rows = []
    for preset in args.configs.split(","):
        config = common.bert_config(preset, args.vocab_size)
        for precision in args.precisions.split(","):
            for task in args.tasks.split(","):
                model = common.build_training_models(task, preset, args.vocab_size, precision)[common.OURS]
                batch = common.synthetic_batch(task, args.batch_size, args.seq_len, args.vocab_size)
                dataset = common.repeated_dataset(batch[common.OURS])
                model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)
                flops = common.training_flops_per_sequence(config, task, args.seq_len)
                measures = dict(peaks)
                measures["train"] = lambda: (
                    common.fit_steps_per_second(model, dataset, args.steps)
                    * args.batch_size * flops / 1e9
                )
                results = {k: common.median(v) for k, v in common.alternate(measures, args.repeats).items()}
                peak_dtype = "bfloat16" if "bfloat16" in precision else "float32"
                rows.append([
                    preset, task, precision, f"{flops / 1e9:.1f}",
                    f"{results['train'] / args.batch_size / flops * 1e9 * args.batch_size:.1f}",
                    f"{results['train']:.0f}", f"{results['float32']:.0f}",
                    f"{100 * results['train'] / results['float32']:.0f}%",
                    f"{results['bfloat16']:.0f}",
                    f"{100 * results['train'] / results[peak_dtype]:.0f}%",
                ])
                keras.backend.clear_session()
                print(rows[-1], flush=True)
    common.print_table(
        ["config", "task", "precision", "GFLOP/seq", "seq/s", "train GFLOP/s",
         "fp32 peak", "MFU vs fp32 peak", "bf16 peak", "MFU vs own-dtype peak"],
        rows,
    )


if __name__ == "__main__":
    main()
