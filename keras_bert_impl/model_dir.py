"""The model directory: everything a trained model needs, in one folder.

Every command that writes a model writes this layout, and every command that
reads one (`finetune --init`, `evaluate`, `export`, `predict`, `fill-mask`)
takes it as it is:

```
DIR/
  config.json             BertConfig, Hugging Face keys
  vocab.txt               WordPiece vocabulary
  tokenizer_config.json   {"do_lower_case": bool, "model_max_length": int}, Hugging
                          Face keys; model_max_length is the seq_len the model was
                          trained at, the default length of everything that reads
                          text with it afterwards (export, predict, inference.*)
  labels.json             label names, classifiers only
  heads.json              {"untrained_heads": [...]}: heads newly initialised rather
                          than trained, e.g. ["mlm"] for a checkpoint converted
                          without a masked-LM head (fill-mask refuses such a model)
  model.keras             the whole Keras model (BertPretrainer or BertClassifier)
  model.weights.h5        its weights alone
```

Each file is written to a temporary sibling and renamed, and `model.keras`
is written last, so a folder with `model.keras` is complete.

Example:

>>> save_model_dir("runs/cls", classifier, "vocab.txt", lowercase=True,
...                seq_len=64, label_names=["neg", "pos"])  # doctest: +SKIP
>>> loaded = load_model_dir("runs/cls")  # doctest: +SKIP
>>> loaded.label_names, loaded.seq_len  # doctest: +SKIP
(['neg', 'pos'], 64)
"""

import dataclasses
import json
import os
import shutil
import warnings
import zipfile

import keras

# Imported for their Keras registrations: `load_model` finds the model
# classes and the learning-rate schedule by their registered names.
import keras_bert_impl.models  # noqa: F401
import keras_bert_impl.training.optimization  # noqa: F401
from keras_bert_impl.choices import DEFAULT_SEQ_LEN
from keras_bert_impl.config import BertConfig
from keras_bert_impl.data.sources import load_label_names, save_label_names
from keras_bert_impl.io_utils import atomic_path, write_text_atomically
from keras_bert_impl.text import Tokenizer

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
LABELS_FILE = "labels.json"
HEADS_FILE = "heads.json"
# The masked-LM head's name in `untrained_heads` (a BertPretrainer's "mlm" output).
MLM_HEAD = "mlm"
MODEL_FILE = "model.keras"
WEIGHTS_FILE = "model.weights.h5"


@dataclasses.dataclass
class ModelDir:
    """A loaded model directory.

    Attributes:
        path: the folder.
        model: the Keras model (`BertPretrainer` or `BertClassifier`).
        config: its `BertConfig`.
        tokenizer: a `Tokenizer` on the folder's vocabulary, whose
            `model_max_length` is `seq_len`.
        label_names: label names of a classifier, else None.
        seq_len: tokens per sequence the model was trained at, [CLS] and
            [SEP] included: the default length for reading text with it.
        untrained_heads: names of heads that were newly initialised, not
            trained (e.g. ["mlm"]); empty for a trained model.
    """

    path: str
    model: keras.Model
    config: BertConfig
    tokenizer: Tokenizer
    label_names: list = None
    seq_len: int = DEFAULT_SEQ_LEN
    untrained_heads: tuple = ()

    @property
    def vocab_file(self):
        return os.path.join(self.path, VOCAB_FILE)

    @property
    def lowercase(self):
        return self.tokenizer.lowercase


def save_model_dir(
    path, model, vocab_file, lowercase, *, seq_len, label_names=None, untrained_heads=()
):
    """Writes `model` and what it needs to read text into `path`.

    Args:
        path: the folder (created if needed; files in it are replaced).
        model: a `BertPretrainer` or `BertClassifier`.
        vocab_file: the vocabulary the model was trained with.
        lowercase: whether that vocabulary is uncased.
        seq_len: tokens per sequence the model was trained at (for a
            converted checkpoint, its `max_position_embeddings`).
        label_names: a classifier's label names, index = label id.
        untrained_heads: heads newly initialised rather than trained (a
            list of names, such as `MLM_HEAD`); empty after training.

    Raises:
        ValueError: `seq_len` outside 3 to `max_position_embeddings`.
    """
    config = model.backbone.config
    _check_seq_len(seq_len, config, f"seq_len={seq_len!r}")
    os.makedirs(path, exist_ok=True)
    config.save_json_file(os.path.join(path, CONFIG_FILE))
    target_vocab = os.path.join(path, VOCAB_FILE)
    if os.path.abspath(vocab_file) != os.path.abspath(target_vocab):
        with atomic_path(target_vocab) as temp:
            shutil.copyfile(vocab_file, temp)
    write_text_atomically(
        os.path.join(path, TOKENIZER_CONFIG_FILE),
        json.dumps({"do_lower_case": bool(lowercase), "model_max_length": int(seq_len)}) + "\n",
    )
    if label_names is not None:
        save_label_names(os.path.join(path, LABELS_FILE), label_names)
    write_text_atomically(
        os.path.join(path, HEADS_FILE),
        json.dumps({"untrained_heads": sorted(untrained_heads)}) + "\n",
    )
    # The temporary paths end like the targets, as Keras requires.
    with atomic_path(os.path.join(path, WEIGHTS_FILE)) as temp:
        model.save_weights(temp)
    with atomic_path(os.path.join(path, MODEL_FILE)) as temp:
        model.save(temp)


def _read_tokenizer_config(path):
    """The folder's `tokenizer_config.json` as a dict ({} when absent)."""
    return read_json_settings(path, TOKENIZER_CONFIG_FILE)


def read_json_settings(path, file_name):
    """A JSON object saved in a model directory, as a dict ({} when the file is
    absent): the tokenizer config, or the settings a task saved beside its
    model (`model_files` in `tasks/__init__.py`).

    Raises:
        ValueError: the file is not a JSON object.
    """
    file = os.path.join(path, file_name)
    if not os.path.exists(file):
        return {}
    try:
        with open(file, encoding="utf-8") as f:
            values = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{file}: not valid JSON ({e}).") from None
    if not isinstance(values, dict):
        raise ValueError(f"{file}: expected a JSON object, got {type(values).__name__}.")
    return values


def read_lowercase(path):
    """Returns the `do_lower_case` flag of a model or Hugging Face folder.

    Missing file: True, the common uncased BERT.
    """
    return bool(_read_tokenizer_config(path).get("do_lower_case", True))


def _check_seq_len(seq_len, config, what):
    if isinstance(seq_len, bool) or not isinstance(seq_len, int):
        raise ValueError(f"{what}: expected an integer.")
    if not 3 <= seq_len <= config.max_position_embeddings:
        raise ValueError(
            f"{what}: expected 3 ([CLS] x [SEP]) to max_position_embeddings "
            f"({config.max_position_embeddings})."
        )


def read_seq_len(path, config):
    """The sequence length a model directory was trained at (`model_max_length`).

    A folder written before the length was recorded gets `DEFAULT_SEQ_LEN`
    (capped at `max_position_embeddings`) with a warning: the CLI trained at
    that length or less by default, so longer would reach position
    embeddings that were never trained, and it is the length such folders
    were exported at.

    Raises:
        ValueError: a recorded length that is not an integer in 3 to
            `max_position_embeddings`.
    """
    seq_len = _read_tokenizer_config(path).get("model_max_length")
    if seq_len is None:
        seq_len = min(DEFAULT_SEQ_LEN, config.max_position_embeddings)
        warnings.warn(
            f"{path}: {TOKENIZER_CONFIG_FILE} does not record the training length "
            f"(model_max_length); reading text at {seq_len} tokens. Pass a length "
            "(--seq-len) if the model was trained at another.",
            stacklevel=2,
        )
        return seq_len
    file = os.path.join(path, TOKENIZER_CONFIG_FILE)
    _check_seq_len(seq_len, config, f"{file}: model_max_length {seq_len!r}")
    return seq_len


def read_untrained_heads(path):
    """The heads a model directory records as untrained (a tuple of names).

    A folder without `heads.json` (written before it existed) came from
    `pretrain`, `finetune` or a conversion with its heads: none untrained.

    Raises:
        ValueError: `heads.json` is not `{"untrained_heads": [names]}`.
    """
    file = os.path.join(path, HEADS_FILE)
    if not os.path.exists(file):
        return ()
    try:
        with open(file, encoding="utf-8") as f:
            heads = json.load(f)["untrained_heads"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise ValueError(
            f'{file}: expected {{"untrained_heads": [names]}} ({type(e).__name__}: {e}).'
        ) from None
    if not isinstance(heads, list) or not all(isinstance(h, str) for h in heads):
        raise ValueError(f'{file}: "untrained_heads" must be a list of names, got {heads!r}.')
    return tuple(heads)


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
    config = model.backbone.config
    seq_len = read_seq_len(path, config)
    tokenizer = Tokenizer(
        os.path.join(path, VOCAB_FILE), lowercase=read_lowercase(path), model_max_length=seq_len
    )
    return ModelDir(
        path=path,
        model=model,
        config=config,
        tokenizer=tokenizer,
        label_names=label_names,
        seq_len=seq_len,
        untrained_heads=read_untrained_heads(path),
    )
