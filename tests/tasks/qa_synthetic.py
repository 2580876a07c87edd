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


def squad_json(path, num_questions, seed, min_words=5, max_words=70, unanswerable_every=0):
    """Writes a SQuAD file and returns its path.

    With `unanswerable_every=k`, every k-th question's context has no code
    (SQuAD 2.0's `is_impossible`).
    """
    rng = random.Random(seed)
    paragraphs = []
    for index in range(num_questions):
        words = [rng.choice(FILLER) for _ in range(rng.randint(min_words, max_words))]
        qa = {"id": f"q{index}", "question": "What is the code?", "answers": []}
        if unanswerable_every and index % unanswerable_every == 0:
            context = " ".join(words) + "."
            qa["is_impossible"] = True
        else:
            answer = f"{rng.choice(STARTS)} {rng.choice(ENDS)}"
            where = rng.randint(0, len(words))
            prefix = " ".join(words[:where] + [""]) if where else ""
            context = prefix + answer + "".join(" " + w for w in words[where:]) + "."
            qa["answers"] = [{"text": answer, "answer_start": len(prefix)}]
        paragraphs.append({"context": context, "qas": [qa]})
    version = "v2.0" if unanswerable_every else "1.1"
    with open(path, "w", encoding="utf-8") as file:
        json.dump({"version": version, "data": [{"title": "synthetic", "paragraphs": paragraphs}]}, file)
    return str(path)
