"""Masked-LM pretraining on a real-length corpus: useful (non-padding) tokens
per second, keras_bert_impl on packed rows against keras-hub on rows of one
example each, padded to `--seq-len` as keras-hub pads.

Both packages get batches of `--batch-size` rows from this package's
pretraining pipeline on the same corpus (the embedded one, or `--corpus`
files), with the same masking rate and AdamW, and train the same sizes in
this process; each round times one `fit` of `--steps` steps per package, in
an order drawn anew each round (warm-up fits, which trace, are not timed).
Useful tokens/s = steps/s x the real tokens a batch holds on average
(measured over `--sample-batches` batches of each pipeline). The table gives
medians over the rounds and the ratio ours / keras-hub.

Examples:

    python benchmarks/bench_pretrain.py                       # embedded corpus, bert_small, seq 128
    python benchmarks/bench_pretrain.py --preset bert_tiny --rounds 2 --steps 4
    python benchmarks/bench_pretrain.py --corpus 'wiki/*.txt' --seq-len 512
"""

import argparse
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import keras  # noqa: E402

import keras_bert_impl as kbi  # noqa: E402
from keras_bert_impl.convert.keras_hub import keras_hub_backbone  # noqa: E402
from keras_bert_impl.data import pretraining_dataset, pretraining_documents  # noqa: E402
from keras_bert_impl.data.packing import packing_efficiency  # noqa: E402
from keras_bert_impl.text import Tokenizer, learn_vocab  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="embedded", help="'embedded' or text files / a glob")
    parser.add_argument("--preset", default="bert_small", choices=kbi.PRESETS)
    parser.add_argument("--vocab-size", type=int, default=8000, help="WordPiece vocabulary learned from the corpus")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32, help="rows per step, both packages")
    parser.add_argument("--steps", type=int, default=6, help="steps per timed fit (the first is not timed)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample-batches", type=int, default=50, help="batches that measure real tokens per batch")
    parser.add_argument("--precision", default="float32", choices=common.PRECISIONS)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def corpus_tokenizer(args, documents):
    vocab_file = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    texts = (sentence.decode() for sentences in documents.as_numpy_iterator() for sentence in sentences)
    learn_vocab(texts, args.vocab_size, output_path=vocab_file)
    return Tokenizer(vocab_file)


def make_datasets(args, documents, tokenizer):
    """`{package: (endless batches, real tokens per batch)}`."""
    max_predictions = math.ceil(0.15 * args.seq_len)

    def batches(pack):
        return pretraining_dataset(
            documents, tokenizer, seq_len=args.seq_len, batch_size=args.batch_size,
            max_predictions=max_predictions, seed=args.seed, epochs=None, pack=pack,
        )

    ours, padded = batches(True), batches(False)
    # keras-hub's masked LM has one output: its labels are not nested by name.
    hub = padded.map(lambda x, y, weights: (x, y["mlm"], weights["mlm"]))
    datasets = {}
    for name, dataset in ((common.OURS, ours), (common.HUB, hub)):
        efficiency, _ = packing_efficiency(dataset, max_batches=args.sample_batches)
        datasets[name] = (dataset, efficiency * args.batch_size * args.seq_len)
    return datasets


def build_models(args, vocab_size):
    import keras_hub

    common.set_precision(args.precision)
    config = common.bert_config(args.preset, vocab_size)
    models = {
        common.OURS: kbi.BertPretrainer(kbi.bert_backbone(config)),
        common.HUB: keras_hub.models.BertMaskedLM(
            keras_hub_backbone(config), preprocessor=None
        ),
    }
    for model in models.values():
        model.compile(optimizer=common.make_optimizer())
    return models


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    documents = pretraining_documents(args.corpus)
    tokenizer = corpus_tokenizer(args, documents)
    datasets = make_datasets(args, documents, tokenizer)
    models = build_models(args, tokenizer.vocab_size)
    print(common.machine_description())
    print(f"{args.preset}, seq {args.seq_len}, {args.batch_size} rows/step, {args.precision}, "
          f"{args.rounds} rounds x {args.steps} steps, corpus {args.corpus}\n")
    for name, model in models.items():
        model.fit(datasets[name][0], epochs=1, steps_per_epoch=2, verbose=0)
    rates = common.alternate(
        {name: (lambda n=name: common.fit_steps_per_second(models[n], datasets[n][0], args.steps))
         for name in models},
        args.rounds, seed=args.seed,
    )
    rows, useful = [], {}
    for name in (common.OURS, common.HUB):
        steps_per_s = common.median(rates[name])
        real_tokens = datasets[name][1]
        useful[name] = steps_per_s * real_tokens
        rows.append([name, "packed" if name == common.OURS else "one example per row",
                     f"{real_tokens / (args.batch_size * args.seq_len):.0%}",
                     f"{steps_per_s:.3f}", f"{useful[name]:.0f}"])
    common.print_table(["package", "rows", "real tokens", "steps/s", "useful tokens/s"], rows)
    print(f"\nuseful tokens/s, ours / keras-hub: {useful[common.OURS] / useful[common.HUB]:.2f}x")


if __name__ == "__main__":
    main()
