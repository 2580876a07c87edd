"""What one backup costs the training step at a given size (issue 11 item 11).

Builds a BertPretrainer of --preset with its AdamW state, then times, on this
machine: `save_weights` (stays on the training thread: it snapshots the
step's weights), the CRC32 that reads every array back, and the fsync (both
now on the backup thread, off the step's critical path), and the time
`AtomicBackupAndRestore._save` holds the training thread.

    python benchmarks/bench_backup.py --preset bert_base --workdir /tmp/bench_backup
"""

import argparse
import os
import time

import h5py
import keras
import numpy as np

from keras_bert_impl.config import BertConfig
from keras_bert_impl.io_utils import fsync_tree
from keras_bert_impl.models import BertPretrainer, bert_backbone
from keras_bert_impl.training import callbacks


def _timed(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bert_base")
    parser.add_argument("--workdir", default="/tmp/bench_backup")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    model = BertPretrainer(bert_backbone(BertConfig.preset(args.preset)), nsp=True)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4))
    model.optimizer.build(model.trainable_variables)
    path = os.path.join(args.workdir, "weights.weights.h5")
    save = _timed(model.save_weights, path)
    size_gb = os.path.getsize(path) / 1e9

    def crc():
        with h5py.File(path, "r") as f:
            callbacks._crc32(f)

    checksum = _timed(crc)
    sync = _timed(fsync_tree, path)
    backup = callbacks.AtomicBackupAndRestore(os.path.join(args.workdir, "backup"))
    backup.set_model(model)
    held = _timed(backup._save, 1, 0)
    total = held + _timed(backup._wait_for_backup)
    print(f"{args.preset}: backup file {size_gb:.2f} GB ({model.count_params() / 1e6:.0f}M weights + optimizer)")
    print(f"  save_weights {save:.2f} s, CRC32 read-back {checksum:.2f} s, fsync {sync:.2f} s")
    print(f"  AtomicBackupAndRestore: training thread held {held:.2f} s of {total:.2f} s "
          f"({np.round(100 * (1 - held / total))}% off the critical path)")


if __name__ == "__main__":
    main()
