"""The model directory: everything a trained model needs, in one folder.

Every command that writes a model writes this layout, and every command that
reads one (`finetune --init`, `evaluate`, `export`, `predict`, `fill-mask`)
takes it as it is:

```
DIR/
  config.json             BertConfig, Hugging Face keys
  vocab.txt               WordPiece vocabulary
  tokenizer_config.json   {"do_lower_case": bool}, Hugging Face key
  labels.json             label names, classifiers only
  model.keras             the whole Keras model (BertPretrainer or BertClassifier)
  model.weights.h5        its weights alone
```

Each file is written to a temporary sibling and renamed, and `model.keras`
is written last, so a folder with `model.keras` is complete.

Example:

>>> save_model_dir("runs/cls", classifier, "vocab.txt", lowercase=True,
...                label_names=["neg", "pos"])  # doctest: +SKIP
>>> loaded = load_model_dir("runs/cls")  # doctest: +SKIP
>>> loaded.label_names  # doctest: +SKIP
['neg', 'pos']
"""

import dataclasses
import json
import os
import shutil
import zipfile

import keras

from keras_bert_impl.config import BertConfig
from keras_bert_impl.data.sources import load_label_names, save_label_names
from keras_bert_impl.io_utils import atomic_path, write_text_atomically
from keras_bert_impl.text import Tokenizer

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
LABELS_FILE = "labels.json"
MODEL_FILE = "model.keras"
WEIGHTS_FILE = "model.weights.h5"


@dataclasses.dataclass
class ModelDir:
    """A loaded model directory.

    Attributes:
        path: the folder.
        model: the Keras model (`BertPretrainer` or `BertClassifier`).
        config: its `BertConfig`.
        tokenizer: a `Tokenizer` on the folder's vocabulary.
        label_names: label names of a classifier, else None.
    """

    path: str
    model: keras.Model
    config: BertConfig
    tokenizer: Tokenizer
    label_names: list = None

    @property
    def vocab_file(self):
        return os.path.join(self.path, VOCAB_FILE)

    @property
    def lowercase(self):
        return self.tokenizer.lowercase


def save_model_dir(path, model, vocab_file, lowercase, label_names=None):
    """Writes `model` and what it needs to read text into `path`.

    Args:
        path: the folder (created if needed; files in it are replaced).
        model: a `BertPretrainer` or `BertClassifier`.
        vocab_file: the vocabulary the model was trained with.
        lowercase: whether that vocabulary is uncased.
        label_names: a classifier's label names, index = label id.
    """
    os.makedirs(path, exist_ok=True)
    model.backbone.config.save_json_file(os.path.join(path, CONFIG_FILE))
    target_vocab = os.path.join(path, VOCAB_FILE)
    if os.path.abspath(vocab_file) != os.path.abspath(target_vocab):
        with atomic_path(target_vocab) as temp:
            shutil.copyfile(vocab_file, temp)
    write_text_atomically(
        os.path.join(path, TOKENIZER_CONFIG_FILE),
        json.dumps({"do_lower_case": bool(lowercase)}) + "\n",
    )
    if label_names is not None:
        save_label_names(os.path.join(path, LABELS_FILE), label_names)
    with atomic_path(os.path.join(path, WEIGHTS_FILE)) as temp:
        model.save_weights(temp + ".weights.h5")
        os.replace(temp + ".weights.h5", temp)
    with atomic_path(os.path.join(path, MODEL_FILE)) as temp:
        model.save(temp + ".keras")
        os.replace(temp + ".keras", temp)


def read_lowercase(path):
    """Returns the `do_lower_case` flag of a model or Hugging Face folder.

    Missing file: True, the common uncased BERT.
    """
    file = os.path.join(path, TOKENIZER_CONFIG_FILE)
    if not os.path.exists(file):
        return True
    try:
        with open(file, encoding="utf-8") as f:
            return bool(json.load(f).get("do_lower_case", True))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{file}: not valid JSON ({e}).") from None


def is_model_dir(path):
    """Whether `path` is a complete model directory written by this package."""
    return os.path.isfile(os.path.join(path, MODEL_FILE))


def load_model_dir(path, compile=True):
    """Loads a model directory written by `save_model_dir`.

    Raises:
        FileNotFoundError: naming the missing file.
        ValueError: naming a file that is present but unreadable.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Model directory not found: {path}")
    for name in (CONFIG_FILE, VOCAB_FILE, MODEL_FILE):
        if not os.path.isfile(os.path.join(path, name)):
            raise FileNotFoundError(
                f"{path} is not a keras_bert_impl model directory: {name} is missing "
                f"(expected {CONFIG_FILE}, {VOCAB_FILE}, {MODEL_FILE})."
            )
    model_file = os.path.join(path, MODEL_FILE)
    if not zipfile.is_zipfile(model_file):
        raise ValueError(
            f"{model_file}: not a .keras archive (truncated or corrupted); "
            f"{WEIGHTS_FILE} beside it holds the same weights."
        )
    try:
        model = keras.saving.load_model(model_file, compile=compile)
    except Exception as e:  # Keras raises many types for a damaged archive.
        raise ValueError(f"{model_file}: cannot be loaded ({type(e).__name__}: {e}).") from None
    labels_file = os.path.join(path, LABELS_FILE)
    label_names = load_label_names(labels_file) if os.path.exists(labels_file) else None
    tokenizer = Tokenizer(os.path.join(path, VOCAB_FILE), lowercase=read_lowercase(path))
    return ModelDir(
        path=path,
        model=model,
        config=model.backbone.config,
        tokenizer=tokenizer,
        label_names=label_names,
    )
