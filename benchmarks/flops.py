"""Matmul FLOPs per training sequence, as the MFU figures count them.

Prints `common.training_flops_per_sequence` (its docstring writes the
formula out) for each preset and task, so the GFLOP per sequence quoted in
docs/PERFORMANCE.md comes from the same code that divides the measured
throughput.

Example:

    python benchmarks/flops.py --configs bert_small bert_base --seq-len 128
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["bert_small"], help="BERT presets")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--max-predictions", type=int, default=common.MAX_PREDICTIONS,
                        help="masked positions per MLM sequence")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rows = []
    for preset in args.configs:
        config = common.bert_config(preset, args.vocab_size)
        for task in common.TASKS:
            flops = common.training_flops_per_sequence(
                config, task, args.seq_len, max_predictions=args.max_predictions
            )
            rows.append([preset, task, f"{flops / 1e9:.2f}"])
    print(f"seq {args.seq_len}, vocab {args.vocab_size}, {args.max_predictions} masked positions "
          "(MLM); forward + backward = 3 x forward")
    common.print_table(["config", "task", "training GFLOP per sequence"], rows)


if __name__ == "__main__":
    main()
