"""Fine-tune a real BERT checkpoint for NER through the CLI, timed.

    python benchmarks/ner_finetune.py --train train.conll --eval dev.conll
    python benchmarks/ner_finetune.py --synthetic 3000   # no CoNLL data at hand

The checkpoint is all-MiniLM-L6-v2 (see `minilm.py`). The run is
`train_tf.py finetune --task token_classification --init FOLDER` in a
subprocess; the script prints that command, its wall time, the CPU
count, the load average before and after (the machine may be shared) and
the entity F1 from `metrics.json`.

`--synthetic N` writes N training and N / 5 evaluation sentences in CoNLL
format from templates (person, place and organisation names in short
sentences), for when no annotated corpus is at hand; its F1 says that the
pipeline learns, not how well BERT does on real text. keras-hub has no token
classifier, so this figure has no keras-hub ratio.
"""

import argparse
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from minilm import extract_checkpoint, timed_finetune  # noqa: E402

PEOPLE = ["anna berg", "tom white", "maria lopez", "ken sato", "olga ivanova", "peter novak",
          "lena fischer", "omar haddad", "julia rossi", "sam carter", "nina holm", "raj patel"]
PLACES = ["berlin", "lisbon", "kyoto", "toronto", "nairobi", "oslo", "madrid", "seoul",
          "new york", "buenos aires", "cape town", "vienna"]
ORGS = ["united nations", "red cross", "general motors", "bank of canada", "world bank",
        "acme corp", "city council", "national library"]
TEMPLATES = [
    "{PER} moved to {LOC} last year .",
    "{PER} works for {ORG} in {LOC} .",
    "the {ORG} office in {LOC} opened on monday .",
    "yesterday {PER} met {PER} at the {ORG} .",
    "{LOC} and {LOC} signed a deal with {ORG} .",
    "a spokesman for {ORG} said {PER} would visit {LOC} .",
    "prices rose again in {LOC} , officials said .",
    "{PER} , who was born in {LOC} , joined {ORG} in 2019 .",
]


def write_synthetic_conll(path, count, seed):
    """CoNLL lines (token, tag) of `count` template sentences with BIO tags."""
    rng = random.Random(seed)
    names = {"PER": PEOPLE, "LOC": PLACES, "ORG": ORGS}
    lines = []
    for _ in range(count):
        for word in rng.choice(TEMPLATES).split():
            if word.startswith("{"):
                kind = word.strip("{}")
                for i, part in enumerate(rng.choice(names[kind]).split()):
                    lines.append(f"{part.title()} {'B' if i == 0 else 'I'}-{kind}")
            else:
                lines.append(f"{word} O")
        lines.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", help="CoNLL training file")
    parser.add_argument("--eval", help="CoNLL evaluation file")
    parser.add_argument("--synthetic", type=int, help="write this many template training sentences instead")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ner-bench-")
    if args.synthetic:
        args.train = write_synthetic_conll(os.path.join(work, "train.conll"), args.synthetic, seed=1)
        args.eval = write_synthetic_conll(os.path.join(work, "eval.conll"), max(1, args.synthetic // 5), seed=2)
    elif not (args.train and args.eval):
        parser.error("give --train and --eval CoNLL files, or --synthetic N")
    checkpoint = extract_checkpoint(os.path.join(work, "all-MiniLM-L6-v2"))
    metrics = timed_finetune(checkpoint, os.path.join(work, "tagger"), [
        "--task", "token_classification", "--train", args.train, "--eval", args.eval,
        "--seq-len", str(args.seq_len), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
    ])
    print(f"entity F1 {metrics['entity_f1']:.4f}  precision {metrics['entity_precision']:.4f}  "
          f"recall {metrics['entity_recall']:.4f}  token accuracy {metrics['token_accuracy']:.4f}  "
          f"({metrics['sentences']} eval sentences)")


if __name__ == "__main__":
    main()
