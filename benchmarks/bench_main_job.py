"""The main job's figures: its wall-clock and CPU time, the load average
around it, its masked LM's first and last training loss and accuracy, its
fill-mask score on the embedded held-out sentences, and its classifier's eval
accuracy against a bag-of-words naive Bayes baseline on the same embedded split.
Twenty sentences are a noisy score, so the masked LM is also scored on every
held-out sentence the fill-mask rule applies to that fits its training length.

The baseline is multinomial naive Bayes over lower-cased words with add-one
smoothing, trained on the embedded "train" split and scored on "validation",
the split the main job's classifier is scored on. No library in the stack
ships naive Bayes (scikit-learn is not a dependency), and it is a dozen lines.
400 sentences leave a point or two of accuracy to chance, so the two are also
compared sentence by sentence: how many each gets right that the other gets
wrong, and McNemar's exact test on those.

Examples:

    python benchmarks/bench_main_job.py              # run `python train_tf.py`, then score it
    python benchmarks/bench_main_job.py --no-run     # score the existing runs/default
    python benchmarks/bench_main_job.py --no-run --pretrain-dir runs/bert-init/pretrain
    python benchmarks/bench_main_job.py --no-run --classifier-dir runs/pooled/classifier
    python benchmarks/bench_main_job.py --no-run --pretrain-dir runs/seed1/pretrain \
        --classifier-dir runs/seed1/classifier   # both models of another run
    python benchmarks/bench_main_job.py --baseline-only
"""

import argparse
import collections
import json
import math
import os
import re
import resource
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from keras_bert_impl.cli import default_job  # noqa: E402
from keras_bert_impl.data.embedded import embedded_classification  # noqa: E402

_WORD = re.compile(r"[a-z]+")
MAIN_JOB_PRETRAIN_DIR = os.path.join(default_job.RUN_DIR, "pretrain")
MAIN_JOB_CLASSIFIER_DIR = os.path.join(default_job.RUN_DIR, "classifier")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-run", dest="run", action="store_false",
                        help="score existing models (default: runs/default) instead of running the main job")
    parser.add_argument("--baseline-only", action="store_true", help="only the naive Bayes baseline")
    parser.add_argument(
        "--pretrain-dir",
        help="with --no-run: the pretrained model to score (default: the main job's), e.g. one "
        "trained by the main job's pretrain command with other flags; alone unless "
        "--classifier-dir is given too",
    )
    parser.add_argument(
        "--classifier-dir",
        help="with --no-run: the classifier to score against naive Bayes (default: the main "
        "job's), e.g. one fine-tuned by the main job's finetune command with other flags; "
        "alone unless --pretrain-dir is given too",
    )
    args = parser.parse_args(argv)
    named_model, named_classifier = args.pretrain_dir is not None, args.classifier_dir is not None
    if (named_model or named_classifier) and args.run:
        parser.error("--pretrain-dir and --classifier-dir score an existing model: add --no-run")
    # Naming one model scores it alone; naming both (or neither) scores both.
    args.score_pretrained = named_model or not named_classifier
    args.score_classifier = named_classifier or not named_model
    args.pretrain_dir = args.pretrain_dir or MAIN_JOB_PRETRAIN_DIR
    args.classifier_dir = args.classifier_dir or MAIN_JOB_CLASSIFIER_DIR
    return args


def words(text):
    return _WORD.findall(text.lower())


def split_texts(split):
    dataset, label_names = embedded_classification(split)
    texts = [example["text"].numpy().decode() for example in dataset]
    labels = [int(example["label"]) for example in dataset]
    return texts, labels, label_names


def naive_bayes(texts, labels, num_labels):
    """Multinomial naive Bayes over words, add-one smoothing; returns `predict(text)`."""
    word_counts = [collections.Counter() for _ in range(num_labels)]
    for text, label in zip(texts, labels):
        word_counts[label].update(words(text))
    vocabulary = set().union(*word_counts)
    priors = [math.log(labels.count(label) / len(labels)) for label in range(num_labels)]
    totals = [sum(counts.values()) + len(vocabulary) for counts in word_counts]

    def predict(text):
        scores = [
            prior + sum(math.log((counts[w] + 1) / total) for w in words(text) if w in vocabulary)
            for prior, counts, total in zip(priors, word_counts, totals)
        ]
        return max(range(len(scores)), key=scores.__getitem__)

    return predict


def naive_bayes_correct():
    """Naive Bayes trained on the embedded "train" split: for each "validation"
    sentence, whether it gets the label right."""
    texts, labels, label_names = split_texts("train")
    predict = naive_bayes(texts, labels, len(label_names))
    eval_texts, eval_labels, _ = split_texts("validation")
    return [predict(text) == label for text, label in zip(eval_texts, eval_labels)]


def classifier_correct(classifier_dir):
    """The classifier in `classifier_dir`: for each "validation" sentence, whether
    it gets the label right."""
    from keras_bert_impl.inference import classify
    from keras_bert_impl.model_dir import load_model_dir

    loaded = load_model_dir(classifier_dir, compile=False)
    texts, labels, label_names = split_texts("validation")
    predictions = classify(loaded.model, loaded.tokenizer, texts, label_names)
    return [prediction["label_id"] == label for prediction, label in zip(predictions, labels)]


def paired_comparison(first_correct, second_correct):
    """(right only by the first, right only by the second, two-sided p-value) of
    McNemar's exact test: under "equally accurate" a sentence that one of two
    classifiers gets right and the other wrong is a fair coin's toss. Written
    here because scipy is not a dependency and it is one binomial tail."""
    only_first = sum(a and not b for a, b in zip(first_correct, second_correct))
    only_second = sum(b and not a for a, b in zip(first_correct, second_correct))
    tosses = only_first + only_second
    tail = sum(math.comb(tosses, k) for k in range(min(only_first, only_second) + 1))
    return only_first, only_second, min(1.0, 2 * tail / 2 ** tosses)


def run_main_job():
    """Runs `python train_tf.py` as a user does; returns its wall-clock and CPU seconds."""
    start = time.perf_counter()
    cpu_before = _children_cpu_seconds()
    subprocess.run([sys.executable, "train_tf.py"], cwd=REPO_ROOT, check=True)
    return time.perf_counter() - start, _children_cpu_seconds() - cpu_before


def _children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def held_out_fill_mask_hits(pretrain_dir):
    """(hits, sentences): held-out sentences whose masked word the masked LM ranks top 5."""
    output = subprocess.run(
        [sys.executable, "train_tf.py", "fill-mask", "--model", pretrain_dir, "--embedded-held-out",
         "--top-k", "5", "--json"],
        cwd=REPO_ROOT, check=True, capture_output=True, text=True,
    ).stdout
    results = json.loads(output)
    return sum(result["word_in_top_k"] for result in results), len(results)


def wide_fill_mask_hits(pretrain_dir):
    """(hits, sentences) over `embedded_fill_mask_candidates()`: whether the masked LM
    in `pretrain_dir` ranks the masked word top 5, for each sentence that fits its training
    length and whose word is one vocabulary piece (one [MASK] holds one piece)."""
    from keras_bert_impl.data.embedded import embedded_fill_mask_candidates
    from keras_bert_impl.inference import fill_mask
    from keras_bert_impl.model_dir import load_model_dir

    loaded = load_model_dir(os.path.join(REPO_ROOT, pretrain_dir), compile=False)
    vocabulary = set(loaded.tokenizer.vocabulary)
    hits = sentences = 0
    for text, word in embedded_fill_mask_candidates():
        if word not in vocabulary:
            continue
        try:
            candidates = fill_mask(loaded.model, loaded.tokenizer, text, top_k=5)[0]
        except ValueError as error:
            if "exceeds seq_len" not in str(error):
                raise
            continue
        sentences += 1
        hits += word in [candidate["token"] for candidate in candidates]
    return hits, sentences


def print_pretraining_history(history_file):
    """The masked LM's loss and accuracy at the first and last epoch of the run."""
    with open(history_file) as f:
        history = json.load(f)
    for name in ("mlm_loss", "mlm_accuracy", "loss"):
        if history.get(name):
            print(f"pretraining {name}: {history[name][0]:.4f} -> {history[name][-1]:.4f}")


def main(argv=None):
    args = parse_args(argv)
    baseline_correct = naive_bayes_correct()
    baseline = sum(baseline_correct) / len(baseline_correct)
    print(f"bag-of-words naive Bayes, embedded validation split: accuracy {baseline:.4f}")
    if args.baseline_only:
        return
    if args.run:
        load_before = os.getloadavg()
        seconds, cpu_seconds = run_main_job()
        print(
            f"main job: {seconds / 60:.1f} minutes wall, {cpu_seconds / 60:.1f} minutes CPU "
            f"(user+sys); load average (1, 5, 15 min) {_loads(load_before)} before, "
            f"{_loads(os.getloadavg())} after"
        )
    if args.score_pretrained:
        print_pretraining_scores(args.pretrain_dir)
    if not args.score_classifier:
        return
    classifier_dir = os.path.join(REPO_ROOT, args.classifier_dir)
    with open(os.path.join(classifier_dir, "metrics.json")) as f:
        accuracy = json.load(f)["accuracy"]
    print(f"classifier {args.classifier_dir}: accuracy {accuracy:.4f} ({accuracy - baseline:+.4f} vs naive Bayes)")
    classifier = classifier_correct(classifier_dir)
    only_classifier, only_baseline, p_value = paired_comparison(classifier, baseline_correct)
    # Classified again by `classify` (its own batches and padding): under bfloat16 a
    # borderline sentence can then differ from metrics.json.
    print(
        f"same {len(classifier)} sentences, paired (classifier {sum(classifier) / len(classifier):.4f} "
        f"on them): right only by the classifier {only_classifier}, "
        f"only by naive Bayes {only_baseline}; McNemar's exact test, two-sided p = {p_value:.2f}"
    )


def print_pretraining_scores(pretrain_dir):
    """The masked LM's training curve ends and its held-out fill-mask scores."""
    print_pretraining_history(os.path.join(REPO_ROOT, pretrain_dir, "history.json"))
    hits, sentences = held_out_fill_mask_hits(pretrain_dir)
    print(f"fill-mask: the masked word is in the top 5 for {hits} of {sentences} held-out sentences")
    hits, sentences = wide_fill_mask_hits(pretrain_dir)
    print(
        f"fill-mask, every held-out sentence that fits and whose word is one piece: top 5 for "
        f"{hits} of {sentences} ({hits / max(sentences, 1):.1%})"
    )


def _loads(averages):
    return " ".join(f"{load:.2f}" for load in averages)


if __name__ == "__main__":
    main()
