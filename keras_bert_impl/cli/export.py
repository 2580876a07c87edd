"""`train_tf.py export`: a model directory as a versioned SavedModel for TF Serving."""

import os

from keras_bert_impl.choices import DEFAULT_MAX_MASKS, DEFAULT_TOP_K


def register(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="export a model directory as a TF Serving SavedModel",
        description=(
            "Writes OUTPUT/<version>/ (the layout TF Serving watches): a SavedModel whose "
            "signatures take raw text and tokenize it in-graph, plus warmup requests. "
            "Classifiers get serving_default (text), serving_pair (text, text_b), "
            "predict_ids and embed; token classifiers get serving_default (entities with "
            "byte offsets), tag_words, predict_ids and embed; pretrained models get "
            "fill_mask (also serving_default) and embed. See docs/SERVING.md."
        ),
    )
    parser.add_argument("--model", required=True, help="model directory (from pretrain or finetune)")
    parser.add_argument(
        "--output",
        help="the model's base path, e.g. saved_models/NAME (default saved_models/<model dir name>)",
    )
    parser.add_argument(
        "--version", type=int,
        help="version number to write (default: one more than the highest existing, or 1)",
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace --version if it exists (the new version is swapped in whole)",
    )
    parser.add_argument(
        "--seq-len", type=int,
        help="most tokens per text, [CLS]/[SEP] included (default: the length the model "
        "was trained at, recorded in its directory); longer text is truncated, shorter "
        "batches are padded only to their longest text",
    )
    parser.add_argument(
        "--max-masks", type=int, default=DEFAULT_MAX_MASKS,
        help=f"fill_mask: masks predicted per text (default {DEFAULT_MAX_MASKS})",
    )
    parser.add_argument(
        "--top-k", type=int, default=DEFAULT_TOP_K,
        help=f"fill_mask: tokens returned per mask (default {DEFAULT_TOP_K})",
    )
    parser.set_defaults(run=run)


def run(args):
    from keras_bert_impl.serving import export_saved_model

    output = args.output or os.path.join("saved_models", os.path.basename(os.path.abspath(args.model)))
    path = export_saved_model(
        args.model,
        output,
        version=args.version,
        overwrite=args.overwrite,
        seq_len=args.seq_len,
        max_masks=args.max_masks,
        top_k=args.top_k,
    )
    print(f"exported {path}")
    return 0
