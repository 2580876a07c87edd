"""Atomic file writes: every file this package writes appears whole or not at all."""

import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary sibling path that is renamed to `path` on success.

    Works for files and directories: the caller writes to the yielded path;
    on an exception the temporary is removed and `path` is left untouched.

    Example:

    >>> with atomic_path("/tmp/out.txt") as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("done")
    """
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temp_path = tempfile.mktemp(dir=directory, prefix=f".tmp-{os.path.basename(path)}-")
    try:
        yield temp_path
        os.replace(temp_path, path)
    finally:
        if os.path.isdir(temp_path):
            shutil.rmtree(temp_path, ignore_errors=True)
        elif os.path.exists(temp_path):
            os.unlink(temp_path)


def write_text_atomically(path, text):
    """Writes `text` (UTF-8) to `path` through a temporary sibling and a rename."""
    with atomic_path(path) as temp_path:
        with open(temp_path, "w", encoding="utf-8") as f:
            f.write(text)
