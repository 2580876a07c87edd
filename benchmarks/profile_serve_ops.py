"""Where one batch-1 serving call spends its time, op type by op type: ours against keras-hub's.

Loads the SavedModels of `bench_serve.py` (exported into `--workdir` first
when absent) as TF Serving runs them, in a session whose graph grappler
optimises (so the table shows the kernels that really run: `_MklNative
FusedMatMul` where a MatMul, its BiasAdd and its activation were fused), and
traces `--calls` calls of each path with `RunOptions.FULL_TRACE`, one call
of each per round in a shuffled order:

- ours raw text: `serving_default(text)` (the model at the text's length);
- ours token ids: `predict_ids(...)` on ids padded to `--seq-len`;
- keras-hub token ids: its exported model on the same ids;
- keras-hub preprocess: its preprocessor SavedModel on the text.

For each path the table gives the milliseconds per call spent in each op
type (summed over its nodes, top `--top` types) and how many nodes of that
type run. Tracing adds a fixed cost to every node, so small ops look dearer
than they are: compare op types and node counts, and take latency from
`bench_serve.py`.

Example:

    python benchmarks/profile_serve_ops.py --workdir /tmp/serve --text long
"""

import argparse
import collections
import os
import random
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_serve import TEXTS, export_both  # noqa: E402

PATHS = {
    "ours raw text": ("ours/1", "serving_default", "text"),
    "ours token ids": ("ours/1", "predict_ids", "ids"),
    "keras-hub token ids": ("hub_model", "serving_default", "ids"),
    "keras-hub preprocess": ("hub_preprocessor", "serving_default", "text"),
}
# Nodes that only move tensors or handles around, left out of the table.
_PLUMBING = {"Const", "Identity", "IdentityN", "NoOp", "_Arg", "_Retval", "VarHandleOp"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="bert_small", help="BERT preset")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--text", choices=sorted(TEXTS), default="long")
    parser.add_argument("--calls", type=int, default=20, help="traced calls per path")
    parser.add_argument("--top", type=int, default=15, help="op types shown")
    parser.add_argument("--workdir", help="bench_serve.py's exports (made here when absent)")
    return parser.parse_args(argv)


def session_call(saved_model_dir, signature_name):
    """`(call(feeds by input name, **run_kwargs) -> outputs, input names)` in a fresh session."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the text ops)

    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], saved_model_dir)
    signature = meta_graph.signature_def[signature_name]
    fetches = {name: info.name for name, info in signature.outputs.items()}

    def call(feeds, **run_kwargs):
        feed_dict = {signature.inputs[name].name: value for name, value in feeds.items()}
        return session.run(fetches, feed_dict, **run_kwargs)

    return call, list(signature.inputs)


def traced_call(call, feeds, micros, nodes):
    """One traced call; adds its microseconds and nodes per op type to the counters."""
    import tensorflow as tf

    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    metadata = tf.compat.v1.RunMetadata()
    call(feeds, options=options, run_metadata=metadata)
    for device in metadata.step_stats.dev_stats:
        for node in device.node_stats:
            # timeline_label reads "name = OpType(inputs)".
            op_type = node.timeline_label.split(" = ")[-1].split("(")[0] or node.node_name
            micros[op_type] += node.all_end_rel_micros
            nodes[op_type] += 1


def profile_paths(args, workdir):
    """`{path: (ms per call by op type, nodes per call by op type)}` for each of `PATHS`.

    The paths are called one traced call each per round, in an order
    shuffled every round, so a neighbour's load falls on all of them alike.
    """
    text = np.array([TEXTS[args.text].encode("utf-8")], dtype=object)
    preprocess, _ = session_call(os.path.join(workdir, "hub_preprocessor"), "serving_default")
    ids = {name: np.asarray(value).astype("int32") for name, value in preprocess({"text": text}).items()}
    runs = {}
    for path, (export, signature_name, kind) in PATHS.items():
        call, input_names = session_call(os.path.join(workdir, export), signature_name)
        feeds = {"text": text} if kind == "text" else {name: ids[name] for name in input_names}
        for _ in range(3):
            call(feeds)
        runs[path] = (call, feeds, collections.Counter(), collections.Counter())
    order, rng = list(runs), random.Random(0)
    for _ in range(args.calls):
        rng.shuffle(order)
        for path in order:
            traced_call(*runs[path])
    return {
        path: ({op: us / args.calls / 1e3 for op, us in micros.items() if op not in _PLUMBING},
               {op: n // args.calls for op, n in nodes.items() if op not in _PLUMBING})
        for path, (_, _, micros, nodes) in runs.items()
    }


def report(args, profiles):
    from common import print_table

    totals = {path: sum(ms.values()) for path, (ms, _) in profiles.items()}
    ranked = collections.Counter()
    for ms, _ in profiles.values():
        ranked.update(ms)
    print(f"{args.config}, text {args.text!r}, {args.calls} traced batch-1 calls per path; "
          "ms per call (nodes per call)\n")
    rows = [[op, *(f"{ms.get(op, 0):.2f} ({nodes.get(op, 0)})" for ms, nodes in profiles.values())]
            for op, _ in ranked.most_common(args.top)]
    rows.append(["all op types", *(f"{totals[path]:.2f} ({sum(nodes.values())})"
                                   for path, (_, nodes) in profiles.items())])
    print_table(["op type", *profiles], rows)


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        if not os.path.isdir(os.path.join(workdir, "hub_preprocessor")):
            export_both(args, workdir)
        report(args, profile_paths(args, workdir))


if __name__ == "__main__":
    main()
