"""`train_tf.py fill-mask`: the likeliest tokens for each [MASK] in a text."""

import json

from keras_bert_impl.cli.predict import add_source_arguments, read_texts
from keras_bert_impl.serving.local import load_model_dir_signatures, load_saved_model_signatures
from keras_bert_impl.serving.signatures import DEFAULT_MAX_MASKS, DEFAULT_TOP_K, PRETRAINER
from keras_bert_impl.text.vocab import MASK_TOKEN


def register(subparsers):
    parser = subparsers.add_parser(
        "fill-mask",
        help="predict the tokens behind [MASK] with a pretrained model",
        description=(
            "For each TEXT (or line of stdin) containing the literal [MASK], prints the "
            "most likely tokens and their probabilities for each mask, and the text with "
            "every mask replaced by its best token. Works on a pretrained model directory "
            "or its export (the fill_mask signature)."
        ),
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help='texts such as "the [MASK] sat." (default: lines of stdin)')
    add_source_arguments(parser)
    parser.add_argument(
        "--top-k", type=int,
        help=f"tokens per mask (default {DEFAULT_TOP_K} with --model, all the export has "
        "with --saved-model, which can only show fewer)",
    )
    parser.add_argument(
        "--max-masks", type=int,
        help=f"with --model: masks predicted per text (default {DEFAULT_MAX_MASKS}); an export "
        "keeps the number it was exported with",
    )
    parser.set_defaults(run=run)


def run(args):
    texts = read_texts(args)
    signatures = _load(args)
    if signatures.kind != PRETRAINER:
        raise ValueError(
            f"{signatures.source} is a classifier; fill-mask needs a pretrained (masked-LM) "
            "model. Use predict."
        )
    top_k = signatures.output_shape("fill_mask", "top_scores")[-1]
    if args.top_k is not None:
        if not 1 <= args.top_k <= top_k:
            raise ValueError(f"--top-k {args.top_k}: {signatures.source} returns 1 to {top_k} tokens per mask.")
        top_k = args.top_k
    outputs = signatures("fill_mask", text=texts)
    results = [_result(text, outputs, i, top_k) for i, text in enumerate(texts)]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return 0
    for result in results:
        print(result["text"])
        for number, mask in enumerate(result["masks"], start=1):
            candidates = ", ".join(f"{c['token']} {c['score']:.3f}" for c in mask["candidates"])
            print(f"  [MASK] {number}: {candidates}")
        missed = result["text"].count(MASK_TOKEN) - len(result["masks"])
        if MASK_TOKEN not in result["text"]:
            print(f"  (no {MASK_TOKEN} in this text)")
        elif missed:
            print(f"  ({missed} [MASK] not predicted: past the export's max masks or cut by the sequence length)")
        if result["masks"]:
            print(f"  -> {result['filled']}")
    return 0


def _load(args):
    if args.saved_model:
        if args.max_masks is not None:
            raise ValueError("--max-masks applies to --model only; an export keeps the number it was exported with.")
        return load_saved_model_signatures(args.saved_model)
    return load_model_dir_signatures(
        args.model,
        seq_len=args.seq_len,
        max_masks=args.max_masks or DEFAULT_MAX_MASKS,
        top_k=args.top_k or DEFAULT_TOP_K,
    )


def _result(text, outputs, index, top_k):
    masks = []
    for slot in range(int(outputs["mask_count"][index])):
        tokens = outputs["top_tokens"][index, slot, :top_k]
        scores = outputs["top_scores"][index, slot, :top_k]
        masks.append(
            {
                "position": int(outputs["mask_positions"][index, slot]),
                "candidates": [
                    {"token": token.decode("utf-8"), "score": float(score)}
                    for token, score in zip(tokens, scores)
                ],
            }
        )
    # Masks are predicted in text order, so the n-th prediction fills the n-th "[MASK]".
    pieces = text.split(MASK_TOKEN)
    filled = pieces[0]
    for number, piece in enumerate(pieces[1:]):
        best = masks[number]["candidates"][0]["token"] if number < len(masks) else MASK_TOKEN
        filled += best + piece
    return {"text": text, "masks": masks, "filled": filled}
