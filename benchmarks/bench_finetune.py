"""Fine-tuning on real-length text to a fixed number of epochs: wall-clock and
eval accuracy, keras_bert_impl (packed rows, length-bucketed eval) against
keras-hub (every example padded to its fixed `sequence_length`).

Both packages fine-tune the same initial weights (this package's random
backbone, copied into keras-hub's with `to_keras_hub`; gelu_approximate as
keras-hub computes it), on the same tokenized examples, with the same AdamW
schedule and examples per step, in this process. Each round trains a fresh
model of each package, in an order drawn anew each round, and times
`fit(epochs=...)` from the call to its return (tracing included: it is what a
user waits for); accuracy comes from the same `tasks.classification.evaluate` for both.
The table gives medians over the rounds and the ratio keras-hub time / ours.

Examples:

    python benchmarks/bench_finetune.py                      # embedded 4-topic task
    python benchmarks/bench_finetune.py --preset bert_tiny --rounds 2 --epochs 1
    python benchmarks/bench_finetune.py --data train.tsv --eval dev.tsv
"""

import argparse
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import keras  # noqa: E402

import keras_bert_impl as kbi  # noqa: E402
from keras_bert_impl.convert.keras_hub import (  # noqa: E402
    KERAS_HUB_HIDDEN_ACT,
    KERAS_HUB_LAYER_NORM_EPS,
)
from keras_bert_impl.data import pipelines, sources  # noqa: E402
from keras_bert_impl.data.packing import packing_efficiency  # noqa: E402
from keras_bert_impl.text import Tokenizer, learn_vocab  # noqa: E402
from keras_bert_impl.models.task import sparse_cross_entropy  # noqa: E402
from keras_bert_impl.tasks import TaskData, classification  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=sources.EMBEDDED_SOURCE,
                        help="training data: 'embedded' or a .tsv/.csv/.jsonl with text,label columns")
    parser.add_argument("--eval", help="evaluation file (default: the embedded validation split)")
    parser.add_argument("--preset", default="bert_small", choices=kbi.PRESETS)
    parser.add_argument("--vocab-size", type=int, default=8000, help="WordPiece vocabulary learned from the training text")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32, help="examples per step, both packages")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--rounds", type=int, default=3, help="fresh fine-tunings per package")
    parser.add_argument("--precision", default="float32", choices=common.PRECISIONS)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def load_examples(args):
    """`(tokenizer, train_examples, eval_examples, label_names)`, tokenizer learned here."""
    eval_source = args.eval or args.data
    eval_split = "train" if args.eval else "validation"
    if args.data != sources.EMBEDDED_SOURCE and not args.eval:
        raise SystemExit("error: --eval is required with --data FILE")
    train, label_names = sources.classification_examples(args.data, split="train")
    evaluation, _ = sources.classification_examples(eval_source, label_names=label_names, split=eval_split)
    texts = [example["text"].numpy().decode() for example in train]
    vocab_file = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    learn_vocab(texts, args.vocab_size, output_path=vocab_file)
    return Tokenizer(vocab_file), train, evaluation, label_names


def make_datasets(args, tokenizer, train, evaluation):
    """Each package's (one training pass, endless training passes, eval) batches of the same examples."""
    def batches(examples, shuffle, epochs=1, **layout):
        return pipelines.classification_dataset(
            examples, tokenizer, seq_len=args.seq_len, batch_size=args.batch_size,
            shuffle=shuffle, seed=args.seed, epochs=epochs, **layout,
        )

    def training(**layout):
        # One pass to count an epoch's steps; then every epoch its own shuffled pass.
        return batches(train, True, **layout), batches(train, True, epochs=None, **layout)

    return {
        common.OURS: (*training(pack=True), batches(evaluation, False, bucket_by_length=True)),
        common.HUB: (*training(), batches(evaluation, False)),
    }


def make_classifier(name, initial_backbone, num_classes):
    """A fresh classifier of package `name` on a copy of `initial_backbone`'s weights."""
    import keras_hub

    if name == common.OURS:
        backbone = kbi.BertBackbone.from_config(initial_backbone.get_config())
        backbone.set_weights(initial_backbone.get_weights())
        return kbi.BertClassifier(backbone, num_classes=num_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hub_backbone = kbi.to_keras_hub(initial_backbone)
    return keras_hub.models.BertTextClassifier(hub_backbone, num_classes=num_classes, preprocessor=None)


def fine_tune(args, name, initial_backbone, data, label_names):
    """Trains a fresh model for `args.epochs`; returns (seconds, eval accuracy)."""
    one_pass, train_stream, eval_data = data
    steps_per_epoch = int(one_pass.reduce(0, lambda count, _: count + 1))
    model = make_classifier(name, initial_backbone, len(label_names))
    model.compile(
        optimizer=kbi.create_optimizer(args.learning_rate, total_steps=steps_per_epoch * args.epochs),
        # Averaged over real examples (packed rows weigh empty slots 0).
        loss=sparse_cross_entropy(),
    )
    start = time.perf_counter()
    # As `finetune` does: a fixed step count per epoch, each epoch its own shuffled pass.
    model.fit(train_stream, epochs=args.epochs, steps_per_epoch=steps_per_epoch, verbose=0)
    seconds = time.perf_counter() - start
    accuracy = classification.evaluate(model, TaskData(eval_data, label_names))["accuracy"]
    return seconds, accuracy


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    common.set_precision(args.precision)
    tokenizer, train, evaluation, label_names = load_examples(args)
    datasets = make_datasets(args, tokenizer, train, evaluation)
    config = kbi.BertConfig.preset(
        args.preset, vocab_size=tokenizer.vocab_size, hidden_act=KERAS_HUB_HIDDEN_ACT,
        layer_norm_eps=KERAS_HUB_LAYER_NORM_EPS, max_position_embeddings=max(512, args.seq_len),
    )
    initial_backbone = kbi.bert_backbone(config)
    print(common.machine_description())
    for name, (one_pass, _, _) in datasets.items():
        efficiency, steps = packing_efficiency(one_pass)
        print(f"{name}: {steps} steps/epoch, {efficiency:.0%} of the training tokens are real text")
    print(f"{args.preset}, seq {args.seq_len}, {args.batch_size} examples/step, {args.epochs} epochs, "
          f"{args.precision}, {args.rounds} rounds, data {args.data}\n")

    def measure(name):
        seconds, accuracy = fine_tune(args, name, initial_backbone, datasets[name], label_names)
        print(f"  {name}: {seconds:.1f} s, accuracy {accuracy:.4f}", flush=True)
        return seconds, accuracy

    results = common.alternate(
        {name: (lambda n=name: measure(n)) for name in datasets}, args.rounds, seed=args.seed
    )
    print_table(results)


def print_table(results):
    seconds = {name: common.median([s for s, _ in runs]) for name, runs in results.items()}
    accuracy = {name: common.median([a for _, a in runs]) for name, runs in results.items()}
    rows = [[name, f"{seconds[name]:.1f}", f"{accuracy[name]:.4f}"] for name in (common.OURS, common.HUB)]
    common.print_table(["package", "fine-tuning s (median)", "eval accuracy (median)"], rows)
    print(f"\nspeed-up keras-hub time / ours: {seconds[common.HUB] / seconds[common.OURS]:.2f}x; "
          f"accuracy ours - keras-hub: {accuracy[common.OURS] - accuracy[common.HUB]:+.4f}")


if __name__ == "__main__":
    main()
