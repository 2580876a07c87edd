"""Training throughput through `model.fit`: keras_bert_impl against keras-hub.

For each config, task (MLM pretraining, classification) and precision, builds
this package's model (`BertPretrainer` / `BertClassifier`) and keras-hub's
(`BertMaskedLM` / `BertTextClassifier`, `preprocessor=None`, on a
`BertBackbone` of the same sizes), compiles both with the same AdamW, feeds
both the same synthetic batch (MLM: 20 masked positions at seq 128, vocab
30522) and measures them alternately in this process. Warm-up fits (tracing)
are excluded; each repeat is one `fit` of `--steps` steps, timed from the end
of its first step to the end of its last; the table shows median
sequences/s, the ratio ours / keras-hub and, with `--mfu`, model FLOPs
utilisation against the matmul peak of the run's dtype, measured by
`peak.py`'s matmul in this process, alternated with the fits.

`--input-check` instead compares this package's MLM step rate on the
synthetic batch with the same model fed by `keras_bert_impl.data.pipelines`
on the embedded corpus, and the pipeline's own batch rate.

Examples:

    python benchmarks/bench_train.py                       # bert_tiny + bert_small, both precisions
    python benchmarks/bench_train.py --configs bert_small --tasks mlm --repeats 5
    python benchmarks/bench_train.py --configs bert_base   # when time allows
    python benchmarks/bench_train.py --input-check --configs bert_small
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import keras  # noqa: E402
import peak  # noqa: E402
import tensorflow as tf  # noqa: E402

PEAK = "matmul peak"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="bert_tiny,bert_small",
                        help="comma-separated presets (bert_tiny, bert_small, bert_base, ...)")
    parser.add_argument("--tasks", default="mlm,classify", help="comma-separated: mlm, classify")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16",
                        help="comma-separated Keras dtype policies")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--steps", type=int, default=6,
                        help="steps per timed fit (the first is not timed)")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per model")
    parser.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--only", choices=[common.OURS, common.HUB],
                        help="measure one package only (A/B of a change)")
    parser.add_argument("--mfu", action="store_true",
                        help="also measure the matmul peak of the run's dtype (peak.py's 2048^2 matmul), "
                        "alternated with the fits in this process, for the MFU column")
    parser.add_argument("--input-check", action="store_true",
                        help="synthetic vs real (embedded corpus) input for this package's MLM")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def measure_config(args, preset, task, precision):
    models = common.build_training_models(
        task, preset, args.vocab_size, precision,
        jit_compile=args.jit_compile, steps_per_execution=args.steps_per_execution,
    )
    if args.only:
        models = {args.only: models[args.only]}
    batches = common.synthetic_batch(task, args.batch_size, args.seq_len, args.vocab_size)
    datasets = {name: common.repeated_dataset(batches[name]) for name in models}
    for name, model in models.items():
        model.fit(datasets[name], epochs=1, verbose=0,
                  steps_per_epoch=max(args.warmup_steps, 1) * args.steps_per_execution)
    steps = max(args.steps, 2) * args.steps_per_execution
    measures = {name: (lambda n=name: common.fit_steps_per_second(models[n], datasets[n], steps))
                for name in models}
    if args.mfu:
        measures[PEAK] = peak.matmul_gflops(2048, tf.bfloat16 if "bfloat16" in precision else tf.float32)
    rates = common.alternate(measures, args.repeats)
    peak_gflops = common.median(rates.pop(PEAK)) if args.mfu else None
    config = common.bert_config(preset, args.vocab_size)
    flops = common.training_flops_per_sequence(config, task, args.seq_len)
    result = {"config": preset, "task": task, "precision": precision,
              "batch_size": args.batch_size, "seq_len": args.seq_len,
              "train_gflop_per_sequence": flops / 1e9, "peak_gflops": peak_gflops}
    for name, values in rates.items():
        sequences = [v * args.batch_size for v in values]
        result[name] = {"sequences_per_s": common.median(sequences), "runs": sequences,
                        "gflops": common.median(sequences) * flops / 1e9}
    if len(models) == 2:
        result["ratio"] = result[common.OURS]["sequences_per_s"] / result[common.HUB]["sequences_per_s"]
    keras.backend.clear_session()
    return result


def input_check(args, preset):
    """This package's MLM: step rate on one repeated synthetic batch vs the real pipeline."""
    import tempfile

    from keras_bert_impl.data import pretraining_dataset, pretraining_documents
    from keras_bert_impl.data.embedded import embedded_texts
    from keras_bert_impl.text import Tokenizer, learn_vocab

    import keras_bert_impl as kbi

    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = os.path.join(tmp, "vocab.txt")
        learn_vocab(embedded_texts(), 8000, output_path=vocab_file)
        tokenizer = Tokenizer(vocab_file)
    real = pretraining_dataset(
        pretraining_documents("embedded"), tokenizer, seq_len=args.seq_len,
        batch_size=args.batch_size, max_predictions=common.MAX_PREDICTIONS, seed=0,
        epochs=None,
    )
    # Fill the pipeline's cache (tokenized segments) once, as after the first epoch.
    start = time.perf_counter()
    iterator = iter(real)
    for _ in range(50):
        next(iterator)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(100):
        next(iterator)
    pipeline_rate = 100 / (time.perf_counter() - start)

    common.set_precision(args.precisions.split(",")[0])
    model = kbi.BertPretrainer(kbi.bert_backbone(common.bert_config(preset, tokenizer.vocab_size)))
    model.compile(optimizer=common.make_optimizer(), steps_per_execution=args.steps_per_execution)
    synthetic = common.repeated_dataset(
        common.synthetic_batch("mlm", args.batch_size, args.seq_len, tokenizer.vocab_size)[common.OURS]
    )
    datasets = {"synthetic": synthetic, "embedded pipeline": real}
    for dataset in datasets.values():
        model.fit(dataset, epochs=1, steps_per_epoch=args.warmup_steps, verbose=0)
    steps = max(args.steps, 2)
    rates = common.alternate(
        {name: (lambda d=dataset: common.fit_steps_per_second(model, d, steps))
         for name, dataset in datasets.items()},
        args.repeats,
    )
    print(f"\ninput check: {preset} MLM, vocab {tokenizer.vocab_size}, batch {args.batch_size}, "
          f"seq {args.seq_len}")
    print(f"pipeline alone: {pipeline_rate:.1f} batches/s once cached "
          f"(first 50 batches incl. tokenizing the corpus: {first:.1f} s)")
    rows = [[name, f"{common.median(v) * args.batch_size:.1f}",
             f"{1 / common.median(v) * 1000:.0f}"] for name, v in rates.items()]
    common.print_table(["input", "sequences/s", "ms/step"], rows)
    return {"pipeline_batches_per_s": pipeline_rate,
            **{name: common.median(v) * args.batch_size for name, v in rates.items()}}


def main(argv=None):
    args = parse_args(argv)
    print(common.machine_description())
    print(f"batch {args.batch_size}, seq {args.seq_len}, vocab {args.vocab_size}, "
          f"{args.repeats} repeats x {args.steps} steps, jit_compile={args.jit_compile}, "
          f"steps_per_execution={args.steps_per_execution}\n")
    if args.input_check:
        results = [input_check(args, preset) for preset in args.configs.split(",")]
    else:
        results = []
        for preset in args.configs.split(","):
            for precision in args.precisions.split(","):
                for task in args.tasks.split(","):
                    results.append(measure_config(args, preset, task, precision))
                    print_results(results[-1:], header=len(results) == 1)
                    sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def print_results(results, header=True):
    rows = []
    for r in results:
        row = [r["config"], r["task"], r["precision"]]
        for name in (common.OURS, common.HUB):
            row.append(f"{r[name]['sequences_per_s']:.1f}" if name in r else "-")
        row.append(f"{r['ratio']:.2f}x" if "ratio" in r else "-")
        ours = r.get(common.OURS)
        row.append(f"{ours['gflops']:.0f}" if ours else "-")
        peak_gflops = r.get("peak_gflops")
        row.append(f"{100 * ours['gflops'] / peak_gflops:.0f}% of {peak_gflops:.0f}"
                   if ours and peak_gflops else "-")
        rows.append(row)
    columns = ["config", "task", "precision", "ours seq/s", "keras-hub seq/s", "ratio",
               "ours GFLOP/s", "ours MFU (of the dtype's matmul peak)"]
    if header:
        common.print_table(columns, rows)
    else:
        for row in rows:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
