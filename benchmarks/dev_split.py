"""A dev split for tuning the main job, held out of its pretraining too.

Tuning the main job on the split it is scored on ("validation") would fit
the recipe to those 400 sentences. This writes the embedded "train" split as
two TSV files, every `--every`-th sentence to dev.tsv and the rest to
train.tsv, and the embedded pretraining corpus less the dev sentences to
corpus.txt (one sentence per line, a blank line between documents), so a
model pretrained on corpus.txt has read neither dev nor validation. It then
prints naive Bayes' accuracy on dev, trained on train.tsv (the baseline of
`bench_main_job.py`).

Last it prints the main job's pretrain and finetune commands on the split
(built from `keras_bert_impl/cli/default_job.py`); vary the finetune flags
and `--seed` from there.

Example:

    python benchmarks/dev_split.py --output runs/dev-split
"""

import argparse
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_main_job  # noqa: E402

from keras_bert_impl.cli import default_job  # noqa: E402
from keras_bert_impl.data.embedded import embedded_pretraining_documents  # noqa: E402
from keras_bert_impl.io_utils import write_text_atomically  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="folder for train.tsv, dev.tsv, corpus.txt")
    parser.add_argument("--every", type=int, default=5, help="every N-th train sentence goes to dev")
    args = parser.parse_args(argv)
    if args.every < 2:
        parser.error(f"--every {args.every}: expected an integer of at least 2 (1 leaves no train sentence)")
    return args


def split(texts, labels, every):
    """(train, dev) lists of (text, label id): every `every`-th example is dev."""
    examples = list(zip(texts, labels))
    dev = [example for i, example in enumerate(examples) if i % every == 0]
    train = [example for i, example in enumerate(examples) if i % every != 0]
    return train, dev


def tsv_text(examples, label_names):
    lines = ["text\tlabel"]
    for text, label in examples:
        if "\t" in text or "\n" in text:
            raise ValueError(f"{text!r}: a tab or newline would break the TSV row")
        lines.append(f"{text}\t{label_names[label]}")
    return "\n".join(lines) + "\n"


def corpus_text(held_out):
    """The pretraining corpus less `held_out` (compared lower-cased, as the
    embedded corpus leaves out the validation sentences)."""
    held_out = {text.lower() for text in held_out}
    documents = []
    for sentences in embedded_pretraining_documents():
        sentences = [s.decode("utf-8") for s in sentences.numpy()]
        kept = [s for s in sentences if s.lower() not in held_out]
        if kept:
            documents.append("\n".join(kept))
    return "\n\n".join(documents) + "\n"


def main_job_commands(output):
    """The main job's pretrain and finetune argument lists, on the split in `output`."""
    steps = {argv[0]: argv for argv in default_job.steps()}
    pretrain_dir = os.path.join(output, "pretrain")
    pretrain = _setting(steps["pretrain"], output=pretrain_dir, corpus=os.path.join(output, "corpus.txt"))
    finetune = _setting(
        steps["finetune"], init=pretrain_dir, train=os.path.join(output, "train.tsv"),
        eval=os.path.join(output, "dev.tsv"), output=os.path.join(output, "classifier-seed0"), seed="0",
    )
    return pretrain, finetune


def _setting(argv, **values):
    """`argv` with `--NAME VALUE` for each of `values`, replaced where given, else appended."""
    argv = list(argv)
    for name, value in values.items():
        flag = "--" + name
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


def main(argv=None):
    args = parse_args(argv)
    texts, labels, label_names = bench_main_job.split_texts("train")
    train, dev = split(texts, labels, args.every)
    write_text_atomically(os.path.join(args.output, "train.tsv"), tsv_text(train, label_names))
    write_text_atomically(os.path.join(args.output, "dev.tsv"), tsv_text(dev, label_names))
    write_text_atomically(os.path.join(args.output, "corpus.txt"), corpus_text([text for text, _ in dev]))
    predict = bench_main_job.naive_bayes([t for t, _ in train], [l for _, l in train], len(label_names))
    correct = sum(predict(text) == label for text, label in dev)
    print(f"{len(train)} train and {len(dev)} dev sentences in {args.output}")
    print(f"bag-of-words naive Bayes trained on train.tsv: dev accuracy {correct / len(dev):.4f}")
    print("the main job's pretraining and fine-tuning on the split:")
    for command in main_job_commands(args.output):
        print(f"python train_tf.py {shlex.join(command)}")


if __name__ == "__main__":
    main()
