"""What in-graph text handling costs per request, stage by stage, against keras-hub's.

Times, at batch 1 in `tf.function`s (as a serving signature runs them), each
stage of this package's raw-text path up to the model, every one including
the stages before it, and keras-hub's `BertTextClassifierPreprocessor` on
the same vocabulary, which does the same work (tokenize, pack, pad):

- `call overhead`: a function that only measures the string's length;
- `normalize`: `keras_bert_impl.text.tokenizer.normalize` (invalid UTF-8,
  dropped characters, NFD, accents, lower case);
- `split words`: `split_words` (+ punctuation and CJK split on whitespace);
- `tokenize`: `Tokenizer.__call__` (+ WordPiece);
- `tokenize + pack`: + `SegmentPacker` to `--seq-len` (what the raw-text
  signatures add before the model);
- `keras-hub preprocess`: its preprocessor, padding to `--seq-len`.

The calls are interleaved one by one in a shuffled order; the table gives
the median per stage. Compare with a whole request's latency from
bench_serve.py to see the share the text handling takes.

Example:

    python benchmarks/profile_tokenizer.py --calls 300
"""

import argparse
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import keras_hub  # noqa: E402
import tensorflow as tf  # noqa: E402
from bench_serve import TEXTS, time_interleaved  # noqa: E402

from keras_bert_impl.data.embedded import embedded_texts  # noqa: E402
from keras_bert_impl.text import SegmentPacker, Tokenizer, learn_vocab  # noqa: E402
from keras_bert_impl.text.tokenizer import normalize, split_words  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--calls", type=int, default=300, help="calls per stage and text")
    parser.add_argument("--seed", type=int, default=0, help="seeds the call order")
    return parser.parse_args(argv)


def stages(vocab_file, seq_len):
    """`{stage: tf.function(texts)}`, cumulative, and keras-hub's preprocessor."""
    tokenizer = Tokenizer(vocab_file)
    packer = SegmentPacker.from_tokenizer(tokenizer, seq_len)
    hub = keras_hub.models.BertTextClassifierPreprocessor(
        keras_hub.models.BertTokenizer(vocabulary=vocab_file, lowercase=True), sequence_length=seq_len
    )
    functions = {
        "call overhead": tf.strings.length,
        "normalize": normalize,
        "split words": split_words,
        "tokenize": tokenizer,
        "tokenize + pack": lambda texts: packer(tokenizer(texts)),
        "keras-hub preprocess": hub,
    }
    spec = [tf.TensorSpec([None], tf.string)]
    return {name: tf.function(fn, input_signature=spec) for name, fn in functions.items()}


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = os.path.join(tmp, "vocab.txt")
        learn_vocab(embedded_texts(), args.vocab_size, output_path=vocab_file)
        functions = stages(vocab_file, args.seq_len)
    rng = random.Random(args.seed)
    rows = []
    load_before = os.getloadavg()[0]
    for length, text in TEXTS.items():
        texts = tf.constant([text])
        # time_interleaved reads one output; give every stage a dict output.
        calls = {name: (lambda fn=fn: {"out": tf.nest.flatten(fn(texts), expand_composites=True)[0]})
                 for name, fn in functions.items()}
        times = time_interleaved(calls, args.calls, rng)
        for name, values in times.items():
            rows.append([length, name, f"{common.median(values) * 1e3:.3f}"])
    print(common.machine_description())
    print(f"batch 1, {args.calls} calls per stage, interleaved (seed {args.seed}); 1-minute load "
          f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n")
    common.print_table(["text", "stage (cumulative)", "p50 ms"], rows)


if __name__ == "__main__":
    main()
