"""`train_tf.py prepare`: a corpus of any size -> TFRecord shards for `pretrain --data`."""

import os


def register(subparsers):
    parser = subparsers.add_parser(
        "prepare",
        help="tokenize a pretraining corpus into TFRecord shards (for pretrain --data)",
        description=(
            "Stream a corpus of any size into TFRecord shards of tokenized, segmented, "
            "unmasked examples, with BERT's recipe (document shuffling through a bounded "
            "buffer, 10%% short sequences, random front/back truncation, NotNext segments "
            "from another document). Masks are drawn at training time. Memory stays "
            "bounded by --document-buffer documents."
        ),
    )
    parser.add_argument(
        "--corpus", nargs="+", required=True,
        help="text files in the BERT convention (globs and gs:// allowed), 'tfds:NAME', "
        "or 'embedded'",
    )
    parser.add_argument("--text-feature", default="text", help="text feature of a tfds corpus")
    parser.add_argument("--split", default="train", help="tfds split (default train)")
    parser.add_argument("--vocab", required=True, help="the vocab.txt to tokenize with")
    parser.add_argument(
        "--cased", dest="lowercase", action="store_false", help="keep case and accents"
    )
    parser.add_argument("--output", required=True, help="folder to write (replaced if it exists)")
    parser.add_argument("--seq-len", type=int, default=128, help="packed length (default 128)")
    parser.add_argument("--nsp", action="store_true", help="A/B pairs for next-sentence prediction")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--num-shards", type=int, default=16,
        help="TFRecord files to write (default 16; at least the number of training workers)",
    )
    parser.add_argument(
        "--document-buffer", type=int, default=1000,
        help="documents held for shuffling and NotNext sampling (default 1000)",
    )
    parser.add_argument(
        "--short-seq-prob", type=float, default=0.1,
        help="share of documents cut to a shorter random length (default 0.1)",
    )
    parser.set_defaults(run=run)


def run(args):
    # Imported here: `prepare --help` answers before TensorFlow loads.
    from keras_bert_impl.data import shards
    from keras_bert_impl.text import Tokenizer

    for flag in ("seq_len", "num_shards", "document_buffer"):
        if getattr(args, flag) <= 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}.")
    if not 0 <= args.short_seq_prob <= 1:
        raise ValueError(f"--short-seq-prob must be in [0, 1], got {args.short_seq_prob}.")
    tokenizer = Tokenizer(args.vocab, lowercase=args.lowercase)
    documents = shards.stream_corpus_documents(
        args.corpus if len(args.corpus) > 1 else args.corpus[0],
        text_feature=args.text_feature,
        split=args.split,
    )
    metadata = shards.write_pretraining_shards(
        documents, tokenizer, args.output, seq_len=args.seq_len, nsp=args.nsp, seed=args.seed,
        num_shards=args.num_shards, short_seq_prob=args.short_seq_prob,
        document_buffer=args.document_buffer,
    )
    print(
        f"wrote {metadata['examples']} examples of seq_len {args.seq_len} in "
        f"{len(metadata['shards'])} shards to {os.path.abspath(args.output)}"
    )
    return 0
