"""A synthetic extractive QA task a tiny BERT learns in seconds, as SQuAD JSON.

Contexts are filler words with one answer "aX bY" (two tokens from sets
that appear nowhere else) anywhere, often far past the first window; every
question is "what is the code". Contexts mix in non-ASCII words so that the
character offsets are exercised.
"""

import json
import random

FILLER = [f"w{i}" for i in range(24)] + ["café", "naïve"]
STARTS = [f"a{i}" for i in range(4)]
ENDS = [f"b{i}" for i in range(4)]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "what", "is", "the", "code", "?", "."] + [
    w for w in FILLER if w.isascii()] + ["cafe", "naive"] + STARTS + ENDS


def squad_json(path, num_questions, seed, min_words=5, max_words=70):
    """Writes a SQuAD v1.1 file and returns its path."""
    rng = random.Random(seed)
    paragraphs = []
    for index in range(num_questions):
        words = [rng.choice(FILLER) for _ in range(rng.randint(min_words, max_words))]
        answer = f"{rng.choice(STARTS)} {rng.choice(ENDS)}"
        where = rng.randint(0, len(words))
        prefix = " ".join(words[:where] + [""]) if where else ""
        context = prefix + answer + "".join(" " + w for w in words[where:]) + "."
        paragraphs.append({"context": context, "qas": [{
            "id": f"q{index}", "question": "What is the code?",
            "answers": [{"text": answer, "answer_start": len(prefix)}],
        }]})
    with open(path, "w", encoding="utf-8") as file:
        json.dump({"version": "1.1", "data": [{"title": "synthetic", "paragraphs": paragraphs}]}, file)
    return str(path)
