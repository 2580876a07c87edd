"""Lists the ops an export needs and checks a TF Serving binary has them.

    python tools/export_ops.py saved_models/NAME/1
    python tools/export_ops.py saved_models/NAME/1 --server-binary /usr/bin/tensorflow_model_server

Prints the tensorflow-text ops (the ones a server build may lack, marking
any that tensorflow-text 2.12, the one in the stock tensorflow/serving
images, does not register) and the core TensorFlow ops. With
--server-binary, names the ops the binary does not register and exits 1 if any is missing, so a deployment
script can refuse a server that would fail with "Op type not registered".
In the tensorflow/serving container the binary is
/usr/bin/tensorflow_model_server (copy it out with `docker cp`).
"""

import argparse
import os
import sys

from keras_bert_impl.serving.graph_ops import (
    exporting_tensorflow_version,
    ops_missing_from_binary,
    ops_newer_than_tensorflow_text_2_12,
    saved_model_ops,
    tensorflow_text_ops,
)

NEWER_THAN_STOCK_SERVING = "not in tensorflow-text 2.12: stock tensorflow/serving lacks it"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("saved_model", help="a version folder, e.g. saved_models/NAME/1")
    parser.add_argument("--server-binary", help="a tensorflow_model_server binary to check")
    return parser.parse_args(argv)


def report(saved_model_dir):
    op_types = saved_model_ops(saved_model_dir)
    text_ops = tensorflow_text_ops(op_types)
    print(
        f"{saved_model_dir}: {len(op_types)} op types, exported by TensorFlow "
        f"{exporting_tensorflow_version(saved_model_dir)} (use a server at least that new)"
    )
    print("tensorflow-text ops (the server must be built with them):")
    newer = ops_newer_than_tensorflow_text_2_12(op_types)
    for op in text_ops:
        print(f"  {op}" + (f"  ({NEWER_THAN_STOCK_SERVING})" if op in newer else ""))
    print("core TensorFlow ops: " + ", ".join(op for op in op_types if op not in text_ops))
    return op_types


def main(argv):
    args = parse_args(argv)
    try:
        op_types = report(args.saved_model)
        if not args.server_binary:
            return 0
        if not os.path.isfile(args.server_binary):
            raise FileNotFoundError(f"--server-binary {args.server_binary}: no such file")
        missing = ops_missing_from_binary(op_types, args.server_binary)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if missing:
        print(f"{args.server_binary} lacks {len(missing)} op(s): {', '.join(missing)}")
        return 1
    print(f"{args.server_binary} registers all {len(op_types)} op types")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
