"""Fine-tune a real BERT checkpoint for extractive QA on long documents through the CLI, timed.

    python benchmarks/qa_finetune.py --train train-v1.1.json --eval dev-v1.1.json
    python benchmarks/qa_finetune.py --questions 2000   # no SQuAD files at hand

The checkpoint is all-MiniLM-L6-v2 (see `minilm.py`). The run is
`train_tf.py finetune --init FOLDER --train TRAIN.json --eval EVAL.json`
(the task is inferred from the SQuAD JSON) in a subprocess; the script prints
that command, its wall time, the CPU count, the load average before and after
(the machine may be shared), the share of questions whose context is longer
than one window, and the exact match and F1 from `metrics.json`.

`--questions N` writes SQuAD 1.1 files when no SQuAD data is at hand (no
package registry this project may use ships any). The contexts are real
documents of the running Python's standard library, read at run time: a
module's reference page, "name: first paragraph of its docstring" for each
documented function, class and method, 16 to 40 entries per page, so most
pages run past 384 tokens. Each question asks what one entry does ("What does
json.dumps do?") and its answer is the first sentence of that entry's
docstring, at its character offset in the page. Modules are split between
training and evaluation by a hash of their name, so evaluation pages are
unseen. The questions come from one template family, so the scores show the
pipeline and the windows at work on long real text, not BERT's accuracy on
SQuAD. keras-hub has no span head, so this figure has no keras-hub ratio.
"""

import argparse
import importlib
import inspect
import json
import os
import re
import sys
import tempfile
import warnings
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from minilm import REPO, extract_checkpoint, timed_finetune  # noqa: E402

QUESTION_TEMPLATES = ("What does {} do?", "What is {} for?", "What is the purpose of {}?")
ENTRIES_PER_PAGE = (16, 40)
# Modules whose import prints, opens a browser or starts a GUI demo.
NOISY_MODULES = {"this", "antigravity", "idlelib", "turtledemo", "turtle", "tkinter"}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MAX_ANSWER_WORDS = 20


def documented_entries(module_name):
    """(qualified name, first docstring paragraph, its first sentence) per documented member."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = importlib.import_module(module_name)
        except Exception:  # Platform-only or broken modules simply give no page.
            return []
    entries = []
    for name, member in sorted(vars(module).items()):
        if name.startswith("_") or getattr(member, "__module__", None) != module_name:
            continue
        entries += _entry(f"{module_name}.{name}", member)
        if inspect.isclass(member):
            for method_name, method in sorted(vars(member).items()):
                if not method_name.startswith("_") and callable(method):
                    entries += _entry(f"{module_name}.{name}.{method_name}", method)
    return entries


def _entry(qualified_name, member):
    doc = inspect.getdoc(member) if callable(member) else None
    if not doc:
        return []
    paragraph = " ".join(doc.split("\n\n")[0].split())
    first = SENTENCE_END.split(paragraph)[0]
    words = first.split()
    if not (4 <= len(words) <= MAX_ANSWER_WORDS) or sum(w.isalpha() for w in words) < 0.6 * len(words):
        return []
    return [(qualified_name, paragraph, first)]


def module_pages(module_name):
    """SQuAD paragraphs for one module: its entries cut into pages, one question per entry."""
    entries = documented_entries(module_name)
    pages = []
    size = ENTRIES_PER_PAGE[0] + zlib.crc32(module_name.encode()) % (ENTRIES_PER_PAGE[1] - ENTRIES_PER_PAGE[0])
    for begin in range(0, len(entries), size):
        page = entries[begin:begin + size]
        if len(page) < ENTRIES_PER_PAGE[0] // 2:
            continue
        pages.append(_paragraph(page))
    return pages


def _paragraph(page):
    lines, questions, offset = [], [], 0
    for index, (name, paragraph, first) in enumerate(page):
        line = f"{name}: {paragraph}"
        answer_start = offset + len(name) + 2
        lines.append(line)
        offset += len(line) + 1
        template = QUESTION_TEMPLATES[zlib.crc32(name.encode()) % len(QUESTION_TEMPLATES)]
        questions.append({
            "id": f"{name}#{index}",
            "question": template.format(name),
            "answers": [{"text": first, "answer_start": answer_start}],
        })
    context = " ".join(lines)
    # An answer sentence that occurs twice in a page is ambiguous: drop its question.
    questions = [q for q in questions if context.count(q["answers"][0]["text"]) == 1]
    return {"context": context, "qas": questions}


def write_squad_files(folder, num_questions):
    """Writes train.json (~num_questions) and eval.json (~num_questions / 5); returns their paths."""
    names = sorted(
        name for name in sys.stdlib_module_names if not name.startswith("_") and name not in NOISY_MODULES
    )
    splits = {"train": [], "eval": []}
    counts = {"train": 0, "eval": 0}
    targets = {"train": num_questions, "eval": max(1, num_questions // 5)}
    for name in names:
        split = "eval" if zlib.crc32(f"split:{name}".encode()) % 5 == 0 else "train"
        if counts[split] >= targets[split]:
            continue
        for page in module_pages(name):
            splits[split].append(page)
            counts[split] += len(page["qas"])
    paths = {}
    for split, paragraphs in splits.items():
        paths[split] = os.path.join(folder, f"{split}.json")
        with open(paths[split], "w", encoding="utf-8") as f:
            json.dump({"version": "1.1", "data": [{"title": split, "paragraphs": paragraphs}]}, f)
    return paths["train"], paths["eval"], counts


def long_context_share(squad_file, vocab_file, seq_len):
    """Fraction of questions whose context has more word pieces than one window holds."""
    sys.path.insert(0, REPO)
    from keras_bert_impl.text import Tokenizer

    tokenizer = Tokenizer(vocab_file, lowercase=True)
    with open(squad_file, encoding="utf-8") as f:
        paragraphs = [p for article in json.load(f)["data"] for p in article["paragraphs"]]
    lengths = tokenizer([p["context"] for p in paragraphs]).row_lengths().numpy()
    weights = [len(p["qas"]) for p in paragraphs]
    return sum(w for w, n in zip(weights, lengths) if n > seq_len) / max(1, sum(weights))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", help="SQuAD JSON training file")
    parser.add_argument("--eval", help="SQuAD JSON evaluation file")
    parser.add_argument("--questions", type=int, help="write about this many training questions instead")
    parser.add_argument("--seq-len", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--precision", default="mixed_bfloat16", help="train_tf.py --precision (default mixed_bfloat16)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="qa-bench-")
    if args.questions:
        args.train, args.eval, counts = write_squad_files(work, args.questions)
        print(f"wrote {counts['train']} training and {counts['eval']} evaluation questions to {work}")
    elif not (args.train and args.eval):
        parser.error("give --train and --eval SQuAD JSON files, or --questions N")
    checkpoint = extract_checkpoint(os.path.join(work, "all-MiniLM-L6-v2"))
    share = long_context_share(args.train, os.path.join(checkpoint, "vocab.txt"), args.seq_len)
    print(f"{share:.0%} of the training questions have a context longer than {args.seq_len} word pieces")
    metrics = timed_finetune(checkpoint, os.path.join(work, "answerer"), [
        "--train", args.train, "--eval", args.eval,
        "--seq-len", str(args.seq_len), "--doc-stride", str(args.doc_stride),
        "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
        "--learning-rate", str(args.learning_rate), "--precision", args.precision,
    ])
    print(f"exact match {metrics['exact_match']:.4f}  F1 {metrics['f1']:.4f}")


if __name__ == "__main__":
    main()
