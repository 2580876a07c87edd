"""Serving latency and throughput: this package's SavedModel against keras-hub's.

Step 1 (this process, with Keras): builds a `BertClassifier` of the chosen
size with a WordPiece vocabulary learned from the embedded corpus and exports
it with `keras_bert_impl.serving.export_saved_model` (raw-text signature
`serving_default` and token-id signature `predict_ids`). Builds keras-hub's
`BertTextClassifier` of the same sizes and weights-shape, exports it with
`model.export` (token ids in), and saves keras-hub's
`BertTextClassifierPreprocessor` (`BertTokenizer` on the same vocabulary,
`sequence_length` = `--seq-len`) as its own SavedModel, since keras-hub's
export does not include the preprocessor.

Step 2 (a fresh process importing only tensorflow and tensorflow_text, as TF
Serving loads a model): loads the three SavedModels and times four paths,

- ours, raw text: `serving_default(text)`, which pads a batch only to its
  longest text;
- ours, token ids: `predict_ids(...)` on ids packed beforehand to `--seq-len`;
- keras-hub, token ids: `serving_default(...)` on the same ids;
- keras-hub, text: its preprocessor SavedModel, then its model (the
  end-to-end cost of serving keras-hub from raw text; the preprocessor
  always pads to `sequence_length`).

Every table row says how long the sequences it ran were ("padded to").
The calls are interleaved one by one in an order shuffled every round, so
a noisy neighbour slows every path alike; the 1-minute load average before
and after is printed with the table. Latency is batch 1 (p50/p95 over
`--requests` calls); throughput is sequences/s at `--batch-size` (from the
median call). Texts, docstrings of the running Python read at run time: a
short sentence (19 tokens), a long one (about 120) and a "full" one longer
than `--seq-len`, which both sides cut to exactly `--seq-len`: at that
length the two raw-text paths run the model at equal padding.

Examples:

    python benchmarks/bench_serve.py                      # bert_small, seq 128
    python benchmarks/bench_serve.py --config bert_tiny --requests 50
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# The texts are the running Python's own docstrings, read at run time (as the
# embedded data is): the first paragraph of `sorted.__doc__` (19 tokens with
# [CLS] and [SEP] under the default vocabulary) and the first 100 words of
# `open.__doc__` (about 120 tokens).
LONG_TEXT_WORDS = 100


def docstring_text(obj, paragraphs=None, words=None):
    """`obj.__doc__` on one line: its first `paragraphs` paragraphs, then its first `words` words."""
    text = " ".join(obj.__doc__.split("\n\n")[:paragraphs])
    return " ".join(text.split()[:words])


TEXTS = {
    "short": docstring_text(sorted, paragraphs=1),
    "long": docstring_text(open, words=LONG_TEXT_WORDS),
    # Longer than any --seq-len up to 512: both sides cut it and run the
    # model at exactly --seq-len, the like-for-like (equal padding) case.
    "full": docstring_text(open),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="bert_small", help="BERT preset")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=8000,
                        help="size of the WordPiece vocab learned from the embedded corpus")
    parser.add_argument("--batch-size", type=int, default=32, help="throughput batch")
    parser.add_argument("--requests", type=int, default=100, help="batch-1 calls per path and text")
    parser.add_argument("--throughput-calls", type=int, default=10,
                        help="batch calls per path and text")
    parser.add_argument("--seed", type=int, default=0, help="seeds the call order")
    parser.add_argument("--workdir", help="keep the exports here (default: a temp dir)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # step 2, in the fresh process
    return parser.parse_args(argv)


def export_both(args, workdir):
    """Step 1: writes ours/1, hub_model and hub_preprocessor under `workdir`."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import common  # (also sets the Keras backend)
    import keras
    import keras_hub
    import tensorflow as tf

    import keras_bert_impl as kbi
    from keras_bert_impl.data.embedded import embedded_texts
    from keras_bert_impl.model_dir import save_model_dir
    from keras_bert_impl.serving import export_saved_model
    from keras_bert_impl.text import learn_vocab

    vocab_file = os.path.join(workdir, "vocab.txt")
    vocab = learn_vocab(embedded_texts(), args.vocab_size, output_path=vocab_file)
    config = kbi.BertConfig.preset(args.config, vocab_size=len(vocab))
    ours = kbi.BertClassifier(kbi.bert_backbone(config), num_classes=2)
    save_model_dir(os.path.join(workdir, "ours_model"), ours, vocab_file, True,
                   seq_len=args.seq_len, label_names=["negative", "positive"])
    export_saved_model(os.path.join(workdir, "ours_model"), os.path.join(workdir, "ours"),
                       version=1, seq_len=args.seq_len)

    hub = keras_hub.models.BertTextClassifier(
        common.keras_hub_backbone(config), num_classes=2, preprocessor=None
    )
    hub.export(os.path.join(workdir, "hub_model"), format="tf_saved_model", verbose=False)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        keras_hub.models.BertTokenizer(vocabulary=vocab_file, lowercase=True),
        sequence_length=args.seq_len,
    )
    module = tf.Module()
    module.preprocessor = preprocessor
    module.serve = tf.function(
        lambda text: preprocessor(text),
        input_signature=[tf.TensorSpec([None], tf.string, name="text")],
    )
    tf.saved_model.save(module, os.path.join(workdir, "hub_preprocessor"),
                        signatures={"serving_default": module.serve})
    keras.backend.clear_session()


OURS_TEXT = "ours raw text"
OURS_IDS = "ours token ids"
HUB_IDS = "keras-hub token ids"
HUB_TEXT = "keras-hub preprocess + token ids"
PATHS = (OURS_TEXT, OURS_IDS, HUB_IDS, HUB_TEXT)


def measure(args, workdir):
    """Step 2, in a process that has imported only tensorflow and tensorflow_text."""
    import random

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops the SavedModels use)

    # (tensorflow itself imports keras; neither package nor keras-hub is loaded here.)
    assert "keras_hub" not in sys.modules and "keras_bert_impl" not in sys.modules
    signatures = load_signatures(workdir)
    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    results = {"real_tokens": {}, "tokens_run": {}, "latency_ms": {}, "throughput": {}}
    for length, text in TEXTS.items():
        results["real_tokens"][length] = real_tokens(signatures, text)
        results["tokens_run"][length] = tokens_run(args, results["real_tokens"][length])
        latency = time_interleaved(path_calls(signatures, text, 1), args.requests, rng)
        results["latency_ms"][length] = {
            name: {"p50": percentile(times, 50) * 1e3, "p95": percentile(times, 95) * 1e3}
            for name, times in latency.items()
        }
        batched = time_interleaved(path_calls(signatures, text, args.batch_size),
                                   args.throughput_calls, rng)
        results["throughput"][length] = {
            name: args.batch_size / percentile(times, 50) for name, times in batched.items()
        }
    results["load_average"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    print(json.dumps(results))


def load_signatures(workdir):
    """The four serving paths' signatures from the three SavedModels in `workdir`."""
    import tensorflow as tf

    ours = tf.saved_model.load(os.path.join(workdir, "ours", "1"))
    hub = tf.saved_model.load(os.path.join(workdir, "hub_model"))
    hub_pre = tf.saved_model.load(os.path.join(workdir, "hub_preprocessor"))
    # Loaded objects own the signatures' variables: keep them referenced.
    return {"objects": (ours, hub, hub_pre),
            "ours_text": ours.signatures["serving_default"],
            "ours_ids": ours.signatures["predict_ids"],
            "hub_ids": hub.signatures["serving_default"],
            "hub_pre": hub_pre.signatures["serving_default"]}


def hub_ids_inputs(signatures, texts):
    """keras-hub's packed ids for `texts`, [batch, seq_len], in the dtypes its export takes.

    Both packages tokenize and pack alike (the same WordPiece rules,
    vocabulary and [CLS] A [SEP] layout), so these are also the ids our
    token-id signature gets.
    """
    import tensorflow as tf

    specs = signatures["hub_ids"].structured_input_signature[1]
    packed = signatures["hub_pre"](text=texts)
    # keras-hub's preprocessor gives a bool padding mask; its export takes int32.
    return {name: tf.cast(packed[name], spec.dtype) for name, spec in specs.items()}


def path_calls(signatures, text, batch):
    """`{path: call}` serving `batch` copies of `text` on each of `PATHS`."""
    import tensorflow as tf

    texts = tf.constant([text] * batch)
    ids = hub_ids_inputs(signatures, texts)
    ours_ids = {name: tf.cast(value, tf.int32) for name, value in ids.items()}
    return {
        OURS_TEXT: lambda: signatures["ours_text"](text=texts),
        OURS_IDS: lambda: signatures["ours_ids"](**ours_ids),
        HUB_IDS: lambda: signatures["hub_ids"](**ids),
        HUB_TEXT: lambda: signatures["hub_ids"](**hub_ids_inputs(signatures, texts)),
    }


def real_tokens(signatures, text):
    """Tokens of `text` packed at `--seq-len`, [CLS] and [SEP] included."""
    import tensorflow as tf

    mask = hub_ids_inputs(signatures, tf.constant([text]))["padding_mask"]
    return int(tf.reduce_sum(tf.cast(mask, tf.int32)))


def tokens_run(args, real):
    """Sequence length each path runs the model at for a text of `real` tokens."""
    return {OURS_TEXT: real, OURS_IDS: args.seq_len, HUB_IDS: args.seq_len, HUB_TEXT: args.seq_len}


def time_interleaved(calls, rounds, rng, warmup=3):
    """Seconds per call of each of `calls`, one call of each per round in a random order.

    Interleaving call by call, in an order shuffled every round, gives every
    path the same share of a noisy neighbour's load.

    Returns:
        `{name: [seconds per call]}`.
    """
    for call in calls.values():
        for _ in range(warmup):
            call()
    times = {name: [] for name in calls}
    names = list(calls)
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            start = time.perf_counter()
            outputs = calls[name]()
            next(iter(outputs.values())).numpy()
            times[name].append(time.perf_counter() - start)
    return times


def percentile(values, q):
    import numpy as np

    return float(np.percentile(values, q))


def main(argv=None):
    args = parse_args(argv)
    if args.measure:
        measure(args, args.measure)
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        if not os.path.isdir(os.path.join(workdir, "hub_preprocessor")):
            export_both(args, workdir)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        command = [sys.executable, os.path.abspath(__file__), "--measure", workdir,
                   *(argv if argv is not None else sys.argv[1:])]
        output = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
        results = json.loads(output.stdout.strip().splitlines()[-1])
        results["export_megabytes"] = export_sizes(workdir)
    report(args, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def export_sizes(workdir):
    """`{export: {"saved_model.pb": MB, "variables": MB}}` of the three SavedModels."""
    sizes = {}
    for name in ("ours/1", "hub_model", "hub_preprocessor"):
        variables = os.path.join(workdir, name, "variables")
        sizes[name] = {
            "saved_model.pb": os.path.getsize(os.path.join(workdir, name, "saved_model.pb")) / 1e6,
            "variables": sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables)) / 1e6,
        }
    return sizes


def report(args, results):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import machine_description, print_table

    print(machine_description())
    load = results["load_average"]
    print(f"{args.config} classifier, seq_len {args.seq_len}; {args.requests} batch-1 and "
          f"{args.throughput_calls} batch-{args.batch_size} calls per path, interleaved in a "
          f"shuffled order (seed {args.seed}); 1-minute load average {load['before']:.1f} before, "
          f"{load['after']:.1f} after\n")
    rows = []
    for length, by_name in results["latency_ms"].items():
        reference = by_name[HUB_TEXT]["p50"]
        for name in PATHS:
            value = by_name[name]
            rows.append([f"{length} ({results['real_tokens'][length]})", name,
                         results["tokens_run"][length][name],
                         f"{value['p50']:.1f}", f"{value['p95']:.1f}",
                         f"{value['p50'] / reference:.2f}x",
                         f"{results['throughput'][length][name]:.1f}"])
    sizes = "; ".join(f"{name}: graph {size['saved_model.pb']:.1f} MB, variables {size['variables']:.1f} MB"
                      for name, size in results["export_megabytes"].items())
    print(f"export sizes: {sizes}\n")
    print_table(["text (real tokens)", "path", "padded to", "p50 ms (batch 1)", "p95 ms",
                 "p50 / keras-hub text", f"seq/s (batch {args.batch_size})"], rows)


if __name__ == "__main__":
    main()
