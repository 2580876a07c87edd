"""Exports a model directory as a versioned SavedModel for TF Serving.

TF Serving watches a model's base path and loads the numbered folders in it:

```
saved_models/NAME/
  1/
    saved_model.pb, variables/, fingerprint.pb
    assets.extra/tf_serving_warmup_requests
    assets.extra/labels.json        classifiers: label names, index = label id
  2/
  batching_parameters.txt           TF Serving batching defaults (see deployment.py)
  models.config                     a model config entry for NAME
```

A version is written to a hidden temporary sibling (`.tmp-2-...`, which TF
Serving ignores because it is not a number) and renamed into place when
complete, so a half-written version is never visible. Replacing a version
(`overwrite=True`) moves the old folder aside, renames the new one in and
only then deletes the old one.

Example:

>>> export_saved_model("runs/cls", "saved_models/cls")  # doctest: +SKIP
'saved_models/cls/1'
"""

import contextlib
import json
import os
import shutil
import tempfile

import keras

from keras_bert_impl.io_utils import atomic_path
from keras_bert_impl.model_dir import ModelDir, load_model_dir
from keras_bert_impl.serving.deployment import write_deployment_files
from keras_bert_impl.serving.signatures import (
    DEFAULT_MAX_MASKS,
    DEFAULT_TOP_K,
    ServingFunctions,
)
from keras_bert_impl.serving.warmup import ASSETS_EXTRA_DIR, warmup_requests, write_warmup_file

LABELS_FILE = "labels.json"


def existing_versions(output_root):
    """Sorted version numbers (integer-named folders) under `output_root`."""
    if not os.path.isdir(output_root):
        return []
    return sorted(
        int(name)
        for name in os.listdir(output_root)
        if name.isdigit() and os.path.isdir(os.path.join(output_root, name))
    )


def next_version(output_root):
    """One more than the highest version under `output_root`, or 1."""
    versions = existing_versions(output_root)
    return versions[-1] + 1 if versions else 1


def export_saved_model(
    model,
    output_root,
    version=None,
    overwrite=False,
    seq_len=None,
    max_masks=DEFAULT_MAX_MASKS,
    top_k=DEFAULT_TOP_K,
):
    """Writes `output_root/<version>/`: a SavedModel with named signatures and warmup requests.

    Beside the versions it also writes, when absent, `batching_parameters.txt`
    and `models.config` for TF Serving (`serving.deployment`).

    Args:
        model: a model directory path or a loaded `ModelDir` (classifier or
            pretrainer).
        output_root: the model's base path in TF Serving, e.g. `saved_models/NAME`.
        version: positive integer; default: the next one after the highest
            existing version (1 for a new `output_root`).
        overwrite: replace `version` if it exists.
        seq_len: most tokens per text in the raw-text signatures; longer
            text is truncated. Default: the length the model was trained
            at, recorded in the model directory.
        max_masks: masks per text that `fill_mask` predicts.
        top_k: tokens returned per mask by `fill_mask`.

    Returns:
        The path of the version folder.

    Raises:
        FileExistsError: the version exists and `overwrite` is False.
        ValueError: a bad version, size or model.
        FileNotFoundError: `model` is not a model directory.
    """
    version_dir = _version_dir(output_root, version, overwrite)
    model_dir = model if isinstance(model, ModelDir) else load_model_dir(model, compile=False)
    serving = ServingFunctions(model_dir, seq_len=seq_len, max_masks=max_masks, top_k=top_k)
    with _atomic_version(version_dir) as temp_dir:
        _write_version(serving, temp_dir, model_name=os.path.basename(os.path.abspath(output_root)))
    write_deployment_files(output_root)
    return version_dir


def _version_dir(output_root, version, overwrite):
    """The folder of `version` (default the next one), refusing to replace it unasked."""
    if version is None:
        version = next_version(output_root)
    elif isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version={version!r}: expected a positive integer.")
    version_dir = os.path.join(output_root, str(version))
    if os.path.exists(version_dir) and not overwrite:
        raise FileExistsError(
            f"{version_dir} already exists; pass overwrite=True (--overwrite) to replace "
            f"it, or another version (existing: {existing_versions(output_root)})."
        )
    return version_dir


@contextlib.contextmanager
def _atomic_version(version_dir):
    """Yields a temporary folder that becomes `version_dir` once the block succeeds.

    An existing version is moved aside just before the rename and deleted only
    after it, and moved back if the rename fails: TF Serving always sees either
    the old or the new version, complete.
    """
    holder = replaced = None
    try:
        with atomic_path(version_dir) as temp_dir:
            yield temp_dir
            if os.path.exists(version_dir):
                holder = tempfile.mkdtemp(
                    dir=os.path.dirname(version_dir),
                    prefix=f".old-{os.path.basename(version_dir)}-",
                )
                replaced = os.path.join(holder, os.path.basename(version_dir))
                os.replace(version_dir, replaced)
    except BaseException:
        if replaced is not None and not os.path.exists(version_dir):
            os.replace(replaced, version_dir)
        raise
    finally:
        # Never delete the old version while it is the only copy.
        if holder is not None and os.path.exists(version_dir):
            shutil.rmtree(holder, ignore_errors=True)


def _write_version(serving, path, model_name):
    """Writes one complete version folder: SavedModel, warmup requests, extra assets.

    Every step asks `serving` what to write, so a new task adds its signatures
    to `ServingFunctions`, their example inputs to `warmup.example_inputs` and
    any file its clients read to `extra_assets`; versioning, warmup and the
    atomic write stay the same for every task.
    """
    _write_saved_model(serving, path)
    write_warmup_file(path, warmup_requests(serving, model_name=model_name))
    _write_extra_assets(serving, path)


def _write_saved_model(serving, path):
    archive = keras.export.ExportArchive()
    # No archive.track(model): the endpoints capture the variables they use,
    # and tracking the Keras model as well stores every weight a second time.
    for name, (fn, input_signature) in serving.signatures.items():
        archive.add_endpoint(name, fn, input_signature=input_signature)
    archive.write_out(path, verbose=False)


def extra_assets(serving):
    """`{file name: JSON value}` an export of `serving` writes to `assets.extra/`.

    TF Serving ignores these files; clients read them (`read_export_labels`).
    """
    if serving.label_names is None:
        return {}
    return {LABELS_FILE: serving.label_names}


def _write_extra_assets(serving, path):
    directory = os.path.join(path, ASSETS_EXTRA_DIR)
    os.makedirs(directory, exist_ok=True)
    for name, value in extra_assets(serving).items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            json.dump(value, f, ensure_ascii=False)


def read_export_labels(saved_model_dir):
    """A classifier export's label names (`assets.extra/labels.json`), or None."""
    path = os.path.join(saved_model_dir, ASSETS_EXTRA_DIR, LABELS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)
