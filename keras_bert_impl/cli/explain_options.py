"""`predict --explain`: which words made a classifier decide, in the terminal or as HTML."""

import json
import sys

from keras_bert_impl.choices import DEFAULT_EXPLAIN_STEPS


def add_explain_arguments(parser):
    """Adds --explain, --explain-html, --explain-label and --explain-steps to `predict`."""
    parser.add_argument(
        "--explain", action="store_true",
        help="with --model: show how much each word moved the predicted label, or each "
        "entity of a token classifier (integrated gradients), shaded on a terminal and ranked; "
        "a classifier trained with --stride explains texts of one window only",
    )
    parser.add_argument(
        "--explain-html", metavar="FILE",
        help="write the explanations as a self-contained HTML heatmap to FILE (implies --explain)",
    )
    parser.add_argument(
        "--explain-label", metavar="LABEL",
        help="explain this label instead of the predicted one (token classifier: only "
        "entities of this type)",
    )
    parser.add_argument(
        "--explain-steps", type=int, default=DEFAULT_EXPLAIN_STEPS,
        help=f"integration steps (default {DEFAULT_EXPLAIN_STEPS}); more is slower and more exact",
    )


def wants_explanation(args):
    return bool(args.explain or args.explain_html or args.explain_label)


def run_explain(args, texts):
    """Explains `texts` with `args.model`; prints and/or writes HTML; returns 0."""
    # Imported here: `--help` must not wait for TensorFlow.
    from keras_bert_impl.explanation_views import (
        flat_explanations,
        format_explanation,
        write_explanation_html,
    )
    from keras_bert_impl.explanations import explain
    from keras_bert_impl.model_dir import load_model_dir

    if args.saved_model:
        raise ValueError(
            "--explain needs --model (a model directory): the gradients come from the "
            "Keras model, which an export does not keep."
        )
    if args.text_b is not None or args.embed:
        raise ValueError("--explain takes single texts; drop --text-b and --embed.")
    loaded = load_model_dir(args.model, compile=False)
    explanations = explain(
        loaded.model,
        loaded.tokenizer,
        texts,
        target=args.explain_label,
        label_names=loaded.label_names,
        steps=args.explain_steps,
        seq_len=args.seq_len,
    )
    if args.explain_html:
        write_explanation_html(args.explain_html, flat_explanations(explanations))
    if args.json:
        print(json.dumps(explanations, ensure_ascii=False, indent=2))
    else:
        color = sys.stdout.isatty()
        print("\n".join(format_explanation(e, color=color) for e in flat_explanations(explanations)))
        if args.explain_html:
            print(f"wrote {args.explain_html}")
    return 0
