"""Version folders: auto-increment, no overwrite without asking, nothing half-written."""

import os

import pytest

from keras_bert_impl.model_dir import load_model_dir
from keras_bert_impl.serving import export as export_lib
from keras_bert_impl.serving import export_saved_model, next_version
from tiny_models import make_tiny_model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "classifier"
    return load_model_dir(make_tiny_model_dir(str(path), "classifier"))


def entries(root):
    return sorted(os.listdir(root))


# Written beside the versions by the first successful export.
DEPLOYMENT_FILES = ["batching_parameters.txt", "models.config"]


@pytest.fixture
def quick_saved_model(monkeypatch):
    """Replaces the SavedModel writing (seconds) by one file: these tests are about folders."""

    def write(serving, path):
        os.makedirs(path)
        open(os.path.join(path, "saved_model.pb"), "w").close()

    monkeypatch.setattr(export_lib, "_write_saved_model", write)


def test_versions_increment_and_overwrite_needs_the_flag(model_dir, tmp_path, quick_saved_model):
    root = str(tmp_path / "cls")
    assert next_version(root) == 1
    assert export_saved_model(model_dir, root, seq_len=8) == os.path.join(root, "1")
    assert export_saved_model(model_dir, root, seq_len=8) == os.path.join(root, "2")
    os.makedirs(os.path.join(root, "not-a-version"))  # ignored, as TF Serving does
    assert export_saved_model(model_dir, root, version=7, seq_len=8) == os.path.join(root, "7")
    assert next_version(root) == 8

    with pytest.raises(FileExistsError, match="overwrite"):
        export_saved_model(model_dir, root, version=2, seq_len=8)
    marker = os.path.join(root, "2", "old-version-marker")
    open(marker, "w").close()
    export_saved_model(model_dir, root, version=2, overwrite=True, seq_len=8)
    assert not os.path.exists(marker)
    assert os.path.isfile(os.path.join(root, "2", "saved_model.pb"))
    assert entries(root) == ["1", "2", "7", *DEPLOYMENT_FILES, "not-a-version"]


@pytest.mark.parametrize("version", [0, -1, "3", True])
def test_bad_version_is_refused(model_dir, tmp_path, version):
    with pytest.raises(ValueError, match="positive integer"):
        export_saved_model(model_dir, str(tmp_path), version=version)


def test_failure_mid_export_leaves_no_version(model_dir, tmp_path, monkeypatch):
    root = str(tmp_path / "cls")

    def fail(*args, **kwargs):
        # Runs after the SavedModel is written, before the warmup file.
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_lib, "write_warmup_file", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(model_dir, root, seq_len=8)
    assert entries(root) == []
    assert next_version(root) == 1


def test_failed_overwrite_keeps_the_old_version(model_dir, tmp_path, monkeypatch, quick_saved_model):
    root = str(tmp_path / "cls")
    export_saved_model(model_dir, root, seq_len=8)
    before = entries(os.path.join(root, "1"))

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_lib, "write_warmup_file", fail)
    with pytest.raises(RuntimeError):
        export_saved_model(model_dir, root, version=1, overwrite=True, seq_len=8)
    assert entries(root) == ["1", *DEPLOYMENT_FILES]
    assert entries(os.path.join(root, "1")) == before


def test_bad_sizes_are_refused_before_writing(model_dir, tmp_path):
    with pytest.raises(ValueError, match="seq_len=2"):
        export_saved_model(model_dir, str(tmp_path / "cls"), seq_len=2)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        export_saved_model(model_dir, str(tmp_path / "cls"), seq_len=100_000)
    with pytest.raises(ValueError, match="top_k"):
        export_saved_model(model_dir, str(tmp_path / "cls"), top_k=0)
    assert not os.path.exists(tmp_path / "cls")


def test_overwrite_failing_at_the_final_rename_restores_the_old_version(
    model_dir, tmp_path, monkeypatch, quick_saved_model
):
    root = str(tmp_path / "cls")
    export_saved_model(model_dir, root, seq_len=8)
    marker = os.path.join(root, "1", "old-version-marker")
    open(marker, "w").close()
    real_replace = os.replace
    calls = []

    def replace(source, target):
        # 1: the old version moves aside; 2: the new one would move in.
        calls.append((source, target))
        if len(calls) == 2:
            raise OSError("rename failed")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="rename failed"):
        export_saved_model(model_dir, root, version=1, overwrite=True, seq_len=8)
    monkeypatch.undo()
    assert len(calls) == 3  # the third put the old version back
    assert os.path.exists(marker)
    assert entries(root) == ["1", *DEPLOYMENT_FILES]
