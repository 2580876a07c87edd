"""`train_tf.py fill-mask`: the likeliest tokens for each [MASK] in a text."""

import json
import os
import sys

from keras_bert_impl.choices import DEFAULT_MAX_MASKS, DEFAULT_TOP_K
from keras_bert_impl.cli.predict import add_source_arguments, check_source, read_texts


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
        "--embedded-held-out", action="store_true",
        help="instead of TEXTs (with --model): the embedded corpus's 20 held-out sentences "
        "(never pretrained on), one content word masked in each; prints how many have that "
        "word in the top k, and how many of the words are one vocabulary piece (a word of "
        "several pieces cannot fill one [MASK])",
    )
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
    parser.add_argument(
        "--allow-untrained-head", action="store_true",
        help="with --model: run even when the model directory records its masked-LM head "
        "as untrained (converted from a checkpoint without one); its words are random",
    )
    parser.set_defaults(run=run)


def run(args):
    from keras_bert_impl.serving.signatures import PRETRAINER

    texts, words = _texts_and_words(args)
    _check_every_text_has_a_mask(texts)
    check_source(args)
    if args.model:
        _check_mlm_head_trained(args.model, args.allow_untrained_head)
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
    if words:
        _score(results, words, _vocabulary(args.model))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        _print_results(results)
        if words:
            hits = sum(result["word_in_top_k"] for result in results)
            one_piece = sum(result["word_is_one_piece"] for result in results)
            print(
                f"held-out fill-mask: the masked word is in the top {top_k} for {hits} of {len(results)} "
                f"sentences ({one_piece} of the {len(results)} words are one vocabulary piece)"
            )
    return 0


def _texts_and_words(args):
    """The texts to fill and, with --embedded-held-out, the word behind each mask (else None)."""
    if not args.embedded_held_out:
        return read_texts(args), None
    if args.texts:
        raise ValueError("--embedded-held-out brings its own sentences; drop the TEXT arguments.")
    if not args.model:
        raise ValueError(
            "--embedded-held-out needs --model: its vocabulary tells which masked words are one "
            "piece, the only words one [MASK] can hold."
        )
    from keras_bert_impl.data.embedded import embedded_fill_mask_examples

    texts, words = zip(*embedded_fill_mask_examples())
    return list(texts), list(words)


def _vocabulary(model_dir):
    from keras_bert_impl.model_dir import VOCAB_FILE
    from keras_bert_impl.text.vocab import load_vocab

    return set(load_vocab(os.path.join(model_dir, VOCAB_FILE)))


def _score(results, words, vocabulary):
    """Adds `word` (the masked one), `word_is_one_piece` and `word_in_top_k` to
    each one-mask result. One [MASK] predicts one piece, so only a word that is
    one vocabulary piece can be a hit; the others are counted apart."""
    for result, word in zip(results, words):
        tokens = [candidate["token"] for mask in result["masks"][:1] for candidate in mask["candidates"]]
        result["word"] = word
        result["word_is_one_piece"] = word in vocabulary
        result["word_in_top_k"] = result["word_is_one_piece"] and word in tokens


def _check_every_text_has_a_mask(texts):
    """Before anything loads: a text without a literal [MASK] has nothing to fill."""
    from keras_bert_impl.text.vocab import MASK_TOKEN

    for number, text in enumerate(texts, start=1):
        if MASK_TOKEN not in text:
            raise ValueError(
                f"text {number} ({text[:60]!r}) has no {MASK_TOKEN}; fill-mask predicts the "
                f'tokens behind literal {MASK_TOKEN}s, as in "the {MASK_TOKEN} sat on the mat."'
            )


def _check_mlm_head_trained(model_dir, allowed):
    from keras_bert_impl.model_dir import MLM_HEAD, read_untrained_heads

    if MLM_HEAD not in read_untrained_heads(model_dir):
        return
    message = (
        f"{model_dir}: its masked-LM head was newly initialised, not trained (the "
        "checkpoint it was converted from had none), so its predictions are random words"
    )
    if not allowed:
        raise ValueError(
            f"{message}. Pretrain or fine-tune it with an MLM head first, or pass "
            "--allow-untrained-head to see them anyway."
        )
    print(f"warning: {message}.", file=sys.stderr)


def _print_results(results):
    from keras_bert_impl.text.vocab import MASK_TOKEN

    for result in results:
        print(result["text"])
        for number, mask in enumerate(result["masks"], start=1):
            candidates = ", ".join(f"{c['token']} {c['score']:.3f}" for c in mask["candidates"])
            print(f"  [MASK] {number}: {candidates}")
        missed = result["text"].count(MASK_TOKEN) - len(result["masks"])
        if missed:
            print(f"  ({missed} [MASK] not predicted: past the export's max masks or cut by the sequence length)")
        if result["masks"]:
            print(f"  -> {result['filled']}")
        if "word" in result:
            print(f"  masked word: {result['word']} ({'in' if result['word_in_top_k'] else 'not in'} the top)")


def _load(args):
    from keras_bert_impl.serving.local import (
        load_model_dir_signatures,
        load_saved_model_signatures,
    )

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
    from keras_bert_impl.text.vocab import MASK_TOKEN

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
