"""`train_tf.py predict`: classify texts (or embed them) with an export or a model directory.

TensorFlow-side modules are imported in the functions that run the command,
so that `predict --help` (and `fill-mask --help`, which shares its flags)
answers at once.
"""

import json
import os
import sys

from keras_bert_impl.cli.explain_options import add_explain_arguments, run_explain, wants_explanation


def add_source_arguments(parser):
    """--model / --saved-model (one of them), shared with fill-mask."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--saved-model", help="an export: saved_models/NAME/VERSION, or saved_models/NAME for the latest")
    source.add_argument("--model", help="a model directory (from pretrain or finetune)")
    parser.add_argument(
        "--seq-len", type=int,
        help="with --model: most tokens per text (default: the length the model was "
        "trained at); an export keeps the length it was exported with",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def check_source(args):
    """A model directory given as --saved-model, or an export as --model: name the fix."""
    from keras_bert_impl.model_dir import is_model_dir

    if args.saved_model and is_model_dir(args.saved_model):
        raise ValueError(
            f"--saved-model {args.saved_model} is a model directory, not an export: "
            f"pass --model {args.saved_model} (or export it first with train_tf.py export)."
        )
    if args.model and os.path.isfile(os.path.join(args.model, "saved_model.pb")):
        raise ValueError(
            f"--model {args.model} is a SavedModel export, not a model directory: "
            f"pass --saved-model {args.model}."
        )


def read_texts(args):
    """The TEXT arguments, or the lines of stdin when there are none."""
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        raise ValueError("No text given: pass TEXT arguments or lines on stdin.")
    return texts


def register(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help="classify or tag texts with an exported SavedModel or a model directory",
        description=(
            "Classifies each TEXT (or each line of stdin) with a fine-tuned classifier and "
            "prints the label and class probabilities; a token classifier prints the "
            "entities found (type, UTF-8 byte span, score, text); --embed prints "
            "embeddings instead (any model). Tokenization happens inside the model, as "
            "in TF Serving."
        ),
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify (default: lines of stdin)")
    add_source_arguments(parser)
    parser.add_argument(
        "--text-b", action="append", metavar="TEXT",
        help="second segment of a sentence pair, once per TEXT, in order (serving_pair)",
    )
    parser.add_argument(
        "--embed", action="store_true",
        help="print pooled_output and mean_embedding instead of a label",
    )
    parser.add_argument("--question", help="question answering: the question (with --context-file)")
    parser.add_argument("--context-file", help="question answering: a UTF-8 file holding the context")
    add_explain_arguments(parser)
    parser.set_defaults(run=run)


def load_signatures(args, **sizes):
    from keras_bert_impl.serving.local import load_model_dir_signatures, load_saved_model_signatures

    check_source(args)
    if args.saved_model:
        return load_saved_model_signatures(args.saved_model)
    return load_model_dir_signatures(args.model, seq_len=args.seq_len, **sizes)


def run(args):
    from keras_bert_impl.serving.signatures import CLASSIFIER, QUESTION_ANSWERER, TOKEN_CLASSIFIER
    from keras_bert_impl.tasks import tagging

    if args.question is not None or args.context_file is not None:
        return _answer(args)
    texts = read_texts(args)
    if args.text_b is not None and len(args.text_b) != len(texts):
        raise ValueError(
            f"--text-b given {len(args.text_b)} times for {len(texts)} texts; "
            "expected one --text-b per TEXT."
        )
    if wants_explanation(args):
        return run_explain(args, texts)
    signatures = load_signatures(args)
    if args.embed:
        if args.text_b is not None:
            raise ValueError("--embed takes single texts; drop --text-b.")
        return _print_embeddings(texts, signatures("embed", text=texts), args.json)
    if signatures.kind == TOKEN_CLASSIFIER:
        if args.text_b is not None:
            raise ValueError("a token classifier tags single texts; drop --text-b.")
        tagging.print_predictions(texts, signatures("serving_default", text=texts), args.json)
        return 0
    if signatures.kind == QUESTION_ANSWERER:
        raise ValueError(f"{signatures.source} answers questions: pass --question and --context-file.")
    if signatures.kind != CLASSIFIER:
        raise ValueError(
            f"{signatures.source} is a pretrained (masked-LM) model, not a classifier: "
            "use fill-mask, or predict --embed."
        )
    if args.text_b is None:
        outputs = signatures("serving_default", text=texts)
    else:
        outputs = signatures("serving_pair", text=texts, text_b=args.text_b)
    num_classes = outputs["probabilities"].shape[1]
    label_names = signatures.label_names or [str(i) for i in range(num_classes)]
    results = []
    for i, text in enumerate(texts):
        result = {"text": text}
        if args.text_b is not None:
            result["text_b"] = args.text_b[i]
        result["label"] = outputs["label"][i].decode("utf-8")
        result["label_id"] = int(outputs["label_id"][i])
        result["probabilities"] = {
            name: float(p) for name, p in zip(label_names, outputs["probabilities"][i])
        }
        results.append(result)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return 0
    for result in results:
        shown = result["text"] if "text_b" not in result else f"{result['text']} ||| {result['text_b']}"
        others = ", ".join(f"{name} {p:.3f}" for name, p in result["probabilities"].items())
        print(f"{result['label']}\t{result['probabilities'][result['label']]:.3f}\t{shown}\t({others})")
    return 0


def _answer(args):
    from keras_bert_impl.serving.signatures import QUESTION_ANSWERER

    if args.question is None or args.context_file is None:
        raise ValueError("question answering needs both --question and --context-file.")
    try:
        with open(args.context_file, encoding="utf-8") as file:
            context = file.read()
    except UnicodeDecodeError as error:
        raise ValueError(f"{args.context_file}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    signatures = load_signatures(args)
    if signatures.kind != QUESTION_ANSWERER:
        raise ValueError(f"{signatures.source} is not a question answering model (it is a {signatures.kind}).")
    outputs = signatures("serving_default", question=[args.question], context=[context])
    result = {
        "question": args.question,
        "answer": outputs["answer"][0].decode("utf-8"),
        "start_char": int(outputs["start_char"][0]),
        "end_char": int(outputs["end_char"][0]),
        "score": float(outputs["score"][0]),
        "no_answer_score": float(outputs["no_answer_score"][0]),
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        answer = result["answer"] or "(no answer)"
        print(f"{answer}\t[{result['start_char']}:{result['end_char']}]\tscore {result['score']:.3f}"
              f"\tno-answer {result['no_answer_score']:.3f}")
    return 0


def _print_embeddings(texts, outputs, as_json):
    results = [
        {
            "text": text,
            "pooled_output": outputs["pooled_output"][i].tolist(),
            "mean_embedding": outputs["mean_embedding"][i].tolist(),
        }
        for i, text in enumerate(texts)
    ]
    if as_json:
        print(json.dumps(results, ensure_ascii=False))
        return 0
    for result in results:
        print(result["text"])
        for name in ("pooled_output", "mean_embedding"):
            vector = result[name]
            head = ", ".join(f"{v:.4f}" for v in vector[:4])
            print(f"  {name} [{len(vector)}]: {head}, ...")
    return 0
