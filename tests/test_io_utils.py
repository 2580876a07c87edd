"""Atomic writes are durable: the file, then its directory, reach the disk."""

import os

import pytest

from keras_bert_impl import io_utils


@pytest.fixture
def synced(monkeypatch):
    """Paths passed to fsync, in order."""
    paths = []
    real_fsync = os.fsync

    def fsync(fd):
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return paths


def test_file_is_synced_then_renamed_then_its_directory_synced(tmp_path, synced):
    target = tmp_path / "out.txt"
    io_utils.write_text_atomically(str(target), "done\n")
    assert target.read_text() == "done\n"
    assert synced[-1] == str(tmp_path)
    assert any(os.path.basename(path) == "out.txt" for path in synced[:-1])
    assert os.listdir(tmp_path) == ["out.txt"]


def test_directory_contents_are_synced(tmp_path, synced):
    with io_utils.atomic_path(str(tmp_path / "model")) as temp:
        os.makedirs(os.path.join(temp, "assets"))
        with open(os.path.join(temp, "assets", "labels.json"), "w") as f:
            f.write("[]")
    assert (tmp_path / "model" / "assets" / "labels.json").read_text() == "[]"
    assert any(path.endswith("labels.json") for path in synced)
    assert synced[-1] == str(tmp_path)


def test_a_failed_write_leaves_the_target_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io_utils.atomic_path(str(target)) as temp:
            with open(temp, "w") as f:
                f.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
