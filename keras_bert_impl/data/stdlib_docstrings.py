"""Docstrings of standard-library modules, read in a clean Python process.

The embedded default data (`embedded.py`) is made of these docstrings. Read in
the caller's own process, it would depend on what that process imported
before: libraries patch the standard library at import time (torch replaces
`inspect.getfile`, transformers adds methods to `logging.Logger`, pytest
replaces `threading.excepthook`), and the corpus, its vocabulary and the
classification split would then change with them. So the modules are read by
this file run as a script in a fresh interpreter (`python -I -S`: no site
packages, no environment variables, no script folder on the path), which
imports nothing but the standard library.

Example:

>>> groups = [("text", ["textwrap"])]
>>> topic, sentences = read_in_clean_python(groups)[0]  # doctest: +SKIP
>>> topic  # doctest: +SKIP
'text'
"""

import inspect
import json
import re
import subprocess
import sys

# A sentence ends at ".", "!" or "?" followed by whitespace; the same rule as
# `sources.split_sentences`, applied after a docstring's wrapped lines are joined.
# Written again here because that one is in-graph and this script may import
# only the standard library.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def read_in_clean_python(module_groups):
    """[(topic, [sentence, ...]), ...]: one document per module and per public class.

    Args:
        module_groups: [(topic, [module name, ...]), ...]; a topic is any
            JSON value, passed through.

    Returns:
        A list of (topic, sentences) in module order: each module's
        docstring with those of its public functions, then each public
        class's with those of its own public methods. A class reached from
        two modules is one document.
    """
    result = subprocess.run(
        [sys.executable, "-I", "-S", __file__],
        input=json.dumps(module_groups), capture_output=True, text=True, encoding="utf-8", check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"reading the standard library's docstrings failed:\n{result.stderr[-2000:]}")
    return [(topic, sentences) for topic, sentences in json.loads(result.stdout)]


def read_here(module_groups):
    """`read_in_clean_python`'s documents, read in this process."""
    import importlib

    documents = []
    seen = set()  # A class re-exported by two modules becomes one document.
    for topic, module_names in module_groups:
        for module_name in module_names:
            module = importlib.import_module(module_name)
            for owner, docstrings in module_docstrings(module):
                if id(owner) in seen:
                    continue
                seen.add(id(owner))
                sentences = [s for d in docstrings for s in docstring_sentences(d)]
                if sentences:
                    documents.append((topic, sentences))
    return documents


def module_docstrings(module):
    """Yields (owner, docstrings): the module with its functions, then each class."""
    names = getattr(module, "__all__", None) or [
        name for name in vars(module) if not name.startswith("_")
    ]
    function_docs = [module.__doc__]
    classes = []
    for name in sorted(set(names)):
        member = getattr(module, name, None)
        if inspect.isclass(member):
            classes.append(member)
        elif callable(member):
            function_docs.append(member.__doc__)
    yield module, function_docs
    for cls in classes:
        # Only the class's own methods: inherited ones would repeat object's docs.
        method_docs = [
            getattr(member, "__doc__", None)
            for name, member in sorted(vars(cls).items())
            if not name.startswith("_") and (callable(member) or isinstance(member, property))
        ]
        yield cls, [cls.__doc__] + method_docs


def docstring_sentences(docstring):
    """Splits one docstring into clean sentences; skips doctest paragraphs."""
    if not isinstance(docstring, str):
        return []
    sentences = []
    for paragraph in re.split(r"\n\s*\n", inspect.cleandoc(docstring)):
        lines = [line.strip() for line in paragraph.splitlines()]
        if any(line.startswith((">>>", "...")) for line in lines):
            continue
        text = " ".join(" ".join(lines).split())
        sentences.extend(s for s in SENTENCE_END.split(text) if any(c.isalpha() for c in s))
    return sentences


if __name__ == "__main__":
    json.dump(read_here(json.load(sys.stdin)), sys.stdout)
