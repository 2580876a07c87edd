"""Writes notebooks/colab_tpu_finetune.ipynb from the cells below.

Edit the cells here, then run `python notebooks/make_colab_tpu_finetune.py`;
tests/test_notebook.py checks that the notebook matches this script and runs
it on CPU with the CI parameters.
"""

import os

import nbformat

NOTEBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "colab_tpu_finetune.ipynb")

INTRO = """\
# Fine-tune BERT on a Colab TPU with keras_bert_impl

Sentiment classification on GLUE SST-2 (`tfds:glue/sst2`, 67k training sentences, 872 validation
sentences): install the package, connect to the TPU, bring a pretrained checkpoint, fine-tune with
static shapes, evaluate, export a SavedModel for TF Serving and query it.

**Runtime:** *Runtime → Change runtime type → TPU*. On a v2-8 (8 cores) BERT-base at sequence
length 128 and a global batch of 256 compiles for about a minute, then runs an epoch of SST-2 in
a minute or two; expect 91-93% validation accuracy after two epochs (the BERT paper reports
93.5% for BERT-base on the SST-2 test set). These are expectations, not measurements from this
repository: the project is tested without a TPU (see `docs/TPU.md`).

The same notebook runs in the project's CI on CPU with a tiny model, the embedded offline data and
`STRATEGY = "cpu"` (`tests/test_notebook.py`), so its code is kept working."""

PARAMETERS_INTRO = """\
## 1. Parameters

Change these, nothing else. `CHECKPOINT` is one of:

- `"hf:ORG/NAME"`: a Hugging Face BERT, downloaded with `huggingface_hub` (e.g.
  `"hf:google-bert/bert-base-uncased"`); or a local Hugging Face folder path;
- `"keras_hub:PRESET"`: a keras-hub BERT preset (e.g. `"keras_hub:bert_base_en_uncased"`,
  downloaded from Kaggle by keras-hub);
- `"random:PRESET"`: no pretraining, a vocabulary learned from the training texts (only useful
  for testing the notebook)."""

PARAMETERS = """\
REPOSITORY = "git+https://github.com/OWNER/keras_bert_impl"  # where you get this package from
INSTALL = True             # install TensorFlow for TPU and the package (first run of a runtime)
STRATEGY = "tpu"           # "tpu", or "cpu"/"gpu"/"auto" elsewhere
CHECKPOINT = "hf:google-bert/bert-base-uncased"
TRAIN_DATA = "tfds:glue/sst2"
TEXT_COLUMN = "sentence"   # the text feature of the dataset
SEQ_LEN = 128              # every batch is padded to this: one shape, one XLA compile
BATCH_SIZE = 256           # global; 32 per core on a v2-8
EPOCHS = 2
LEARNING_RATE = 3e-5
PRECISION = "mixed_bfloat16"  # bfloat16 matmuls, native on TPUs
MAX_BATCHES = None         # None: whole epochs; a number: that many batches (quick tries)
OUTPUT_DIR = "runs/sst2"
EXPORT_DIR = "saved_models/sst2\""""

INSTALL_INTRO = """\
## 2. Install

A TPU needs TensorFlow's TPU build (`tensorflow-tpu` with `libtpu`) and a `tensorflow-text` of the
same minor version; the package is then installed without its dependencies, so that pip keeps the
TPU build (see `docs/TPU.md`, section 1, for the versions). Restart the runtime if pip replaced
TensorFlow."""

INSTALL = """\
import subprocess, sys

def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args], check=True)

if INSTALL:
    pip("tensorflow-tpu==2.20.*", "-f", "https://storage.googleapis.com/libtpu-tf-releases/index.html")
    pip("tensorflow-text==2.20.*", "keras>=3.15,<3.16", "keras-hub", "tensorflow-datasets", "tensorboard")
    pip("--no-deps", REPOSITORY)

import os
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras
import tensorflow as tf
import keras_bert_impl as kbi
print("TensorFlow", tf.__version__, "Keras", keras.__version__)"""

STRATEGY_INTRO = """\
## 3. Connect to the TPU

`get_strategy("tpu")` finds the TPU of this VM, initialises it once per process and returns a
`TPUStrategy`; a v2-8 shows 8 replicas. Models and optimizers must be created inside
`strategy.scope()` so their variables live on the TPU."""

STRATEGY_CELL = """\
from keras_bert_impl.training.precision import set_precision
from keras_bert_impl.training.strategy import get_strategy

set_precision(PRECISION if STRATEGY == "tpu" else "float32")
strategy = get_strategy(STRATEGY)
print(type(strategy).__name__, "with", strategy.num_replicas_in_sync, "replica(s)")
assert BATCH_SIZE % strategy.num_replicas_in_sync == 0, "the batch must split evenly over the cores\""""

CHECKPOINT_INTRO = """\
## 4. Bring a checkpoint

Each source becomes the same `BertBackbone` plus its vocabulary file and casing; the conversion
checks every tensor's name and shape. Downloads go to the runtime's disk."""

CHECKPOINT_CELL = """\
from keras_bert_impl.data import sources
from keras_bert_impl.model_dir import read_lowercase
from keras_bert_impl.text import Tokenizer, learn_vocab

def bring_checkpoint(checkpoint):
    kind, _, name = checkpoint.partition(":")
    if kind == "hf" and not os.path.isdir(checkpoint):
        from huggingface_hub import snapshot_download
        folder = snapshot_download(name, allow_patterns=["*.json", "*.txt", "*.safetensors"])
        return kbi.load_huggingface(folder), os.path.join(folder, "vocab.txt"), read_lowercase(folder)
    if os.path.isdir(checkpoint):
        return kbi.load_huggingface(checkpoint), os.path.join(checkpoint, "vocab.txt"), read_lowercase(checkpoint)
    if kind == "keras_hub":
        import keras_hub
        folder = os.path.join("checkpoints", name)
        keras_hub.models.BertMaskedLM.from_preset(name).save_to_preset(folder)
        model, vocab_file, lowercase = kbi.load_keras_hub_preset(folder)
        return getattr(model, "backbone", model), vocab_file, lowercase
    if kind == "random":
        examples, _ = sources.classification_examples(TRAIN_DATA, text_column=TEXT_COLUMN)
        vocab_file = os.path.join("checkpoints", "random", "vocab.txt")
        vocab = learn_vocab(examples.map(lambda example: example["text"]), 2000, output_path=vocab_file)
        config = kbi.BertConfig.preset(name, vocab_size=len(vocab))
        return kbi.bert_backbone(config), vocab_file, True
    raise ValueError(f"CHECKPOINT={checkpoint!r}: expected hf:, keras_hub:, random: or a folder")

with strategy.scope():
    backbone, vocab_file, lowercase = bring_checkpoint(CHECKPOINT)
tokenizer = Tokenizer(vocab_file, lowercase=lowercase)
print(backbone.config)"""

DATA_INTRO = """\
## 5. Data with static shapes

XLA compiles one program per input shape. So every batch is padded to `SEQ_LEN` (no length
bucketing) and the last, short batch is dropped (`drop_remainder=True`); tokenizing and packing
run in `tf.data` on the VM's CPU, and the TPU only sees int32 ids."""

DATA_CELL = """\
from keras_bert_impl.data import pipelines

def batches(split, label_names=None, shuffle=False, epochs=1):
    examples, label_names = sources.classification_examples(
        TRAIN_DATA, text_column=TEXT_COLUMN, split=split, label_names=label_names)
    dataset = pipelines.classification_dataset(
        examples, tokenizer, seq_len=SEQ_LEN, batch_size=BATCH_SIZE, shuffle=shuffle,
        seed=0, epochs=epochs, drop_remainder=True)
    return dataset, label_names

one_pass, label_names = batches("train", shuffle=True)
steps_per_epoch = int(one_pass.cardinality()) if MAX_BATCHES is None else MAX_BATCHES
# Endless (epochs=None): every epoch is its own pass, shuffled by (seed, pass number).
train_data, _ = batches("train", label_names, shuffle=True, epochs=None)
eval_data, _ = batches("validation", label_names)
if MAX_BATCHES is not None:
    eval_data = eval_data.take(MAX_BATCHES)
print("labels:", label_names, "| batch shapes:", train_data.element_spec[0]["token_ids"].shape)"""

TRAIN_INTRO = """\
## 6. Fine-tune

A classification head on the pooled [CLS] output, AdamW with linear warmup and decay (BERT's
recipe). `steps_per_execution` runs several steps per call from the host, which a TPU needs to
stay busy. The first epoch starts with the XLA compile."""

TRAIN_CELL = """\
from keras_bert_impl.training.optimization import create_optimizer

steps = steps_per_epoch * EPOCHS
with strategy.scope():
    classifier = kbi.BertClassifier(backbone, num_classes=len(label_names))
    classifier.compile(optimizer=create_optimizer(LEARNING_RATE, steps, warmup_ratio=0.1),
                       steps_per_execution=32 if STRATEGY == "tpu" else 1)
history = classifier.fit(train_data, validation_data=eval_data, epochs=EPOCHS,
                         steps_per_epoch=steps_per_epoch, verbose=2)"""

EVAL_INTRO = """\
## 7. Evaluate

Accuracy on the validation split (on a v2-8 with BERT-base: about 0.92 after two epochs)."""

EVAL_CELL = """\
metrics = classifier.evaluate(eval_data, return_dict=True, verbose=0)
print({name: round(float(value), 4) for name, value in metrics.items()})"""

EXPORT_INTRO = """\
## 8. Save and export for TF Serving

`save_model_dir` writes the model directory every command of the package reads (`train_tf.py
report --model OUTPUT_DIR` draws its curves). `export_saved_model` writes a SavedModel whose
signatures take raw text and tokenize it in-graph, plus TF Serving's warmup requests,
`batching_parameters.txt` and `models.config` (see `docs/SERVING.md`)."""

EXPORT_CELL = """\
import json
from keras_bert_impl.model_dir import save_model_dir
from keras_bert_impl.serving import export_saved_model

save_model_dir(OUTPUT_DIR, classifier, vocab_file, lowercase, seq_len=SEQ_LEN, label_names=label_names)
with open(os.path.join(OUTPUT_DIR, "history.json"), "w") as f:
    json.dump(history.history, f)
export_path = export_saved_model(OUTPUT_DIR, EXPORT_DIR, overwrite=True, version=1)
print(sorted(os.listdir(EXPORT_DIR)), "->", export_path)"""

QUERY_INTRO = """\
## 9. Query the export

Loaded as TF Serving would load it: strings in, labels and probabilities out; no tokenizer in
Python. The REST and gRPC requests for a running server are in `docs/SERVING.md`."""

QUERY_CELL = """\
export = tf.saved_model.load(export_path)
texts = ["a gripping, beautifully acted film", "tedious and far too long"]
outputs = export.signatures["serving_default"](text=tf.constant(texts))
for text, label, probabilities in zip(texts, outputs["label"].numpy(), outputs["probabilities"].numpy()):
    print(f"{label.decode():>10}  {probabilities.max():.3f}  {text}")"""

CELLS = [
    ("markdown", INTRO, []),
    ("markdown", PARAMETERS_INTRO, []),
    ("code", PARAMETERS, ["parameters"]),
    ("markdown", INSTALL_INTRO, []),
    ("code", INSTALL, []),
    ("markdown", STRATEGY_INTRO, []),
    ("code", STRATEGY_CELL, []),
    ("markdown", CHECKPOINT_INTRO, []),
    ("code", CHECKPOINT_CELL, []),
    ("markdown", DATA_INTRO, []),
    ("code", DATA_CELL, []),
    ("markdown", TRAIN_INTRO, []),
    ("code", TRAIN_CELL, []),
    ("markdown", EVAL_INTRO, []),
    ("code", EVAL_CELL, []),
    ("markdown", EXPORT_INTRO, []),
    ("code", EXPORT_CELL, []),
    ("markdown", QUERY_INTRO, []),
    ("code", QUERY_CELL, []),
]


def build_notebook():
    """The notebook, as an `nbformat.NotebookNode` (no outputs)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "accelerator": "TPU",
        "colab": {"provenance": []},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for kind, source, tags in CELLS:
        new_cell = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        cell = new_cell(source)
        cell.pop("id", None)  # stable file: no random cell ids
        if tags:
            cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    notebook.nbformat_minor = 4  # cell ids arrived in 4.5; Colab reads 4.4 as is
    return notebook


if __name__ == "__main__":
    nbformat.write(build_notebook(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
