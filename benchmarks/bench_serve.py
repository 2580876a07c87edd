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
Serving loads a model): loads the three SavedModels and measures, alternately,

- ours, raw text: `serving_default(text)`;
- ours, token ids: `predict_ids(...)` on ids packed beforehand;
- keras-hub, token ids: `serving_default(...)` on ids packed beforehand;
- keras-hub, text: its preprocessor SavedModel, then its model (the
  end-to-end cost of serving keras-hub from raw text).

Latency is batch 1 (p50/p95 over `--requests` calls per repeat, medians over
repeats); throughput is sequences/s at batch 32. Texts: a short sentence
(19 tokens) and a long one (about 120), both docstrings of the running Python
read at run time. Our raw-text signature
pads a batch to its longest text; keras-hub's preprocessor always pads to
`sequence_length`, which is why both lengths are shown.

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

# The texts are the running Python's own docstrings, read at run time (as the
# embedded data is): the first paragraph of `sorted.__doc__` (19 tokens with
# [CLS] and [SEP] under the default vocabulary) and the first 100 words of
# `open.__doc__` (about 120 tokens).
LONG_TEXT_WORDS = 100


def docstring_text(obj, paragraphs=None, words=None):
    """`obj.__doc__` on one line: its first `paragraphs` paragraphs, then its first `words` words."""
    text = " ".join(obj.__doc__.split("\n\n")[:paragraphs])
    return " ".join(text.split()[:words])


SHORT_TEXT = docstring_text(sorted, paragraphs=1)
LONG_TEXT = docstring_text(open, words=LONG_TEXT_WORDS)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="bert_small", help="BERT preset")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=8000,
                        help="size of the WordPiece vocab learned from the embedded corpus")
    parser.add_argument("--batch-size", type=int, default=32, help="throughput batch")
    parser.add_argument("--requests", type=int, default=40, help="batch-1 calls per repeat")
    parser.add_argument("--throughput-calls", type=int, default=5, help="batch calls per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", help="keep the exports here (default: a temp dir)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # step 2, in the fresh process
    return parser.parse_args(argv)


def export_both(args, workdir):
    """Step 1: writes ours/1, hub_model and hub_preprocessor under `workdir`."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import common  # noqa: F401  (sets the Keras backend)
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

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocab), num_layers=config.num_layers, num_heads=config.num_heads,
        hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
        max_sequence_length=config.max_position_embeddings,
    )
    hub = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
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


def measure(args, workdir):
    """Step 2, in a process that has imported only tensorflow and tensorflow_text."""
    import statistics
    import time

    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops the SavedModels use)

    # (tensorflow itself imports keras; neither package nor keras-hub is loaded here.)
    assert "keras_hub" not in sys.modules and "keras_bert_impl" not in sys.modules

    ours = tf.saved_model.load(os.path.join(workdir, "ours", "1"))
    hub = tf.saved_model.load(os.path.join(workdir, "hub_model"))
    hub_pre = tf.saved_model.load(os.path.join(workdir, "hub_preprocessor"))
    ours_text = ours.signatures["serving_default"]
    ours_ids = ours.signatures["predict_ids"]
    hub_ids = hub.signatures["serving_default"]
    hub_text_pre = hub_pre.signatures["serving_default"]
    hub_specs = hub_ids.structured_input_signature[1]
    hub_input_names = sorted(hub_specs)

    def ours_ids_inputs(texts):
        # The ids our own raw-text signature would build: same tokenizer, same packing.
        packed = hub_text_pre(text=texts)  # only for shapes: [batch, seq_len] int32 ids
        return {name: tf.cast(packed[name], tf.int32)
                for name in ("token_ids", "segment_ids", "padding_mask")}

    def hub_full(texts):
        packed = hub_text_pre(text=texts)
        # keras-hub's preprocessor gives a bool padding mask; its export takes int32.
        return hub_ids(**{name: tf.cast(packed[name], hub_specs[name].dtype)
                          for name in hub_input_names})

    cases = {}
    for length, text in (("short", SHORT_TEXT), ("long", LONG_TEXT)):
        for batch in (1, args.batch_size):
            texts = tf.constant([text] * batch)
            ids = ours_ids_inputs(texts)
            hub_inputs = {name: ids[name] for name in hub_input_names}
            cases[(length, batch)] = {
                "ours raw text": lambda t=texts: ours_text(text=t),
                "ours token ids": lambda i=ids: ours_ids(**i),
                "keras-hub token ids": lambda i=hub_inputs: hub_ids(**i),
                "keras-hub preprocess + token ids": lambda t=texts: hub_full(t),
            }
    real_tokens = {
        length: int(tf.reduce_sum(ours_ids_inputs(tf.constant([text]))["padding_mask"]))
        for length, text in (("short", SHORT_TEXT), ("long", LONG_TEXT))
    }
    for functions in cases.values():
        for fn in functions.values():
            for _ in range(3):
                fn()

    results = {"real_tokens": real_tokens, "latency_ms": {}, "throughput": {}}
    for (length, batch), functions in cases.items():
        calls = args.requests if batch == 1 else args.throughput_calls
        samples = {name: [] for name in functions}
        for _ in range(args.repeats):
            for name, fn in functions.items():
                times = []
                for _ in range(calls):
                    start = time.perf_counter()
                    out = fn()
                    next(iter(out.values())).numpy()
                    times.append(time.perf_counter() - start)
                samples[name].append(times)
        for name, runs in samples.items():
            if batch == 1:
                p50 = statistics.median(float(np.percentile(r, 50)) for r in runs) * 1000
                p95 = statistics.median(float(np.percentile(r, 95)) for r in runs) * 1000
                results["latency_ms"].setdefault(length, {})[name] = {"p50": p50, "p95": p95}
            else:
                rate = statistics.median(batch * len(r) / sum(r) for r in runs)
                results["throughput"].setdefault(length, {})[name] = rate
    print(json.dumps(results))


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
    report(args, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def report(args, results):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import machine_description, print_table

    print(machine_description())
    print(f"{args.config} classifier, seq_len {args.seq_len}; real tokens per text: "
          f"{results['real_tokens']}; {args.repeats} repeats, medians\n")
    rows = []
    for length, by_name in results["latency_ms"].items():
        reference = by_name["keras-hub preprocess + token ids"]["p50"]
        for name, value in by_name.items():
            throughput = results["throughput"][length][name]
            rows.append([length, name, f"{value['p50']:.1f}", f"{value['p95']:.1f}",
                         f"{value['p50'] / reference:.2f}x", f"{throughput:.1f}"])
    print_table(["text", "path", "p50 ms (batch 1)", "p95 ms", "p50 / keras-hub text",
                 f"seq/s (batch {args.batch_size})"], rows)


if __name__ == "__main__":
    main()
