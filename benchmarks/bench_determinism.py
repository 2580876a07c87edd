"""What `--deterministic` (tf.config.experimental.enable_op_determinism) costs.

Runs the same seeded masked-LM training of --preset on synthetic batches in
fresh processes, twice without and twice with op determinism, and prints
each run's step rate and whether the per-step losses of the two runs of each
mode are identical bit for bit.

    python benchmarks/bench_determinism.py --preset bert_tiny --steps 60
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def child(args):
    import keras
    import tensorflow as tf

    from keras_bert_impl.config import BertConfig
    from keras_bert_impl.models import BertPretrainer, bert_backbone

    keras.utils.set_random_seed(0)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    config = BertConfig.preset(args.preset, vocab_size=4000)
    rng = np.random.default_rng(0)
    batch, seq_len, masks = 32, 128, 20
    x = {
        "token_ids": rng.integers(5, 4000, [batch, seq_len]).astype("int32"),
        "segment_ids": np.zeros([batch, seq_len], "int32"),
        "padding_mask": np.ones([batch, seq_len], "int32"),
        "mask_positions": rng.integers(1, seq_len, [batch, masks]).astype("int32"),
    }
    y = {"mlm": rng.integers(5, 4000, [batch, masks]).astype("int32")}
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    model = BertPretrainer(bert_backbone(config))
    model.compile(optimizer=keras.optimizers.AdamW(1e-4))
    model.fit(data, steps_per_epoch=5, epochs=1, verbose=0)  # compile and warm up
    losses = []
    callback = keras.callbacks.LambdaCallback(on_batch_end=lambda b, logs: losses.append(float(logs["loss"])))
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=[callback])
    print(json.dumps({"steps_per_s": args.steps / (time.perf_counter() - start), "losses": losses}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bert_tiny")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--deterministic", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    results = {}
    # Interleaved, so a change in machine load hits both modes alike.
    for mode in ("default", "deterministic", "default", "deterministic"):
        command = [sys.executable, __file__, "--child", "--preset", args.preset, "--steps", str(args.steps)]
        output = subprocess.run(
            command + (["--deterministic"] if mode == "deterministic" else []),
            capture_output=True, text=True, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ).stdout
        results.setdefault(mode, []).append(json.loads(output.strip().splitlines()[-1]))
    for mode, runs in results.items():
        rates = [run["steps_per_s"] for run in runs]
        same = runs[0]["losses"] == runs[1]["losses"]
        print(f"{mode:>13}: {np.mean(rates):.2f} steps/s (runs {', '.join(f'{r:.2f}' for r in rates)}); "
              f"two runs' losses identical: {same}")
    ratio = np.mean([r["steps_per_s"] for r in results["deterministic"]]) / np.mean(
        [r["steps_per_s"] for r in results["default"]])
    print(f"deterministic / default step rate: {ratio:.3f}")


if __name__ == "__main__":
    main()
