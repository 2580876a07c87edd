"""Durable atomic writes: every file this package writes appears whole or not at all.

A write goes to a fresh private temporary folder beside the target (made by
`tempfile.mkdtemp`, so no other process can take the name), its contents are
fsynced, it is renamed onto the target, and then the target's directory is
fsynced so the rename itself survives a power loss.

Example:

>>> with atomic_path("/tmp/out.txt") as tmp:
...     with open(tmp, "w") as f:
...         _ = f.write("done")
"""

import contextlib
import os
import shutil
import tempfile

# Prefix of the temporary folders; a run that was killed may leave some behind.
TEMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path that becomes `path` on success, durably.

    Works for files and directories: the caller creates what it likes at the
    yielded path (it does not exist yet). On success it is fsynced, renamed
    to `path` (replacing it) and the parent directory fsynced; on an
    exception it is removed and `path` is left untouched.
    """
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    holder = tempfile.mkdtemp(dir=directory, prefix=f"{TEMP_PREFIX}{os.path.basename(path)}-")
    temp_path = os.path.join(holder, os.path.basename(path))
    try:
        yield temp_path
        replace_durably(temp_path, path)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def replace_durably(source, target):
    """`os.replace(source, target)` after fsyncing `source`, then fsyncs the directory."""
    fsync_tree(source)
    os.replace(source, target)
    fsync_directory(os.path.dirname(os.path.abspath(target)))


def fsync_tree(path):
    """Flushes a file, or every file and folder under a directory, to disk."""
    if not os.path.isdir(path):
        _fsync(path, os.O_RDONLY)
        return
    for folder, _, files in os.walk(path):
        for name in files:
            _fsync(os.path.join(folder, name), os.O_RDONLY)
        fsync_directory(folder)


def fsync_directory(path):
    """Flushes a directory's entries (new and renamed names) to disk."""
    # Windows cannot open a directory; its renames are journalled by NTFS.
    if os.name != "nt":
        _fsync(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path, flags):
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomically(path, text):
    """Writes `text` (UTF-8) to `path` through a temporary file, fsync and rename."""
    with atomic_path(path) as temp_path:
        with open(temp_path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
