"""Peak memory of `train_tf.py prepare` does not grow with the corpus.

Generates a synthetic BERT-format corpus of --megabytes (random words from a
generated word list, sentences of 8-24 words, documents of 3-30 sentences),
a vocabulary of those words, runs `train_tf.py prepare` on it in a child
process and prints the child's peak resident memory (ru_maxrss) and speed.

    python benchmarks/prepare_memory.py --megabytes 20 --workdir /tmp/rss
    python benchmarks/prepare_memory.py --megabytes 200 --workdir /tmp/rss
"""

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."]


def _words(count, rng):
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return sorted({"".join(rng.choice(letters, rng.integers(3, 9))) for _ in range(count)})


def write_corpus(path, megabytes, words, rng):
    target = megabytes * 1_000_000
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            lines = []
            for _ in range(int(rng.integers(3, 31))):
                sentence = rng.choice(words, int(rng.integers(8, 25)))
                lines.append(" ".join(sentence) + " .")
            text = "\n".join(lines) + "\n\n"
            f.write(text)
            written += len(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--workdir", default="/tmp/prepare_memory")
    parser.add_argument("--seq-len", type=int, default=128)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    rng = np.random.default_rng(0)
    words = _words(3000, rng)
    vocab = os.path.join(args.workdir, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(SPECIAL + words) + "\n")
    corpus = os.path.join(args.workdir, f"corpus_{args.megabytes}mb.txt")
    if not os.path.exists(corpus):
        write_corpus(corpus, args.megabytes, words, rng)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), "prepare", "--corpus", corpus,
         "--vocab", vocab, "--output", os.path.join(args.workdir, f"shards_{args.megabytes}mb"),
         "--seq-len", str(args.seq_len), "--nsp"],
        check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size_mb = os.path.getsize(corpus) / 1e6
    print(f"corpus {size_mb:.0f} MB: peak RSS {peak_mb:.0f} MB, {seconds:.0f} s ({size_mb / seconds:.2f} MB/s)")


if __name__ == "__main__":
    main()
