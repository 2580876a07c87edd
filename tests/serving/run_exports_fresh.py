"""Runs exported signatures in a fresh process, as a TF Serving host would.

Only TensorFlow, tensorflow-text (for its ops) and the TF Serving protos are
imported, never keras_bert_impl: the export must stand on its own.

Usage: python run_exports_fresh.py REQUESTS.pkl RESULTS.pkl

REQUESTS.pkl holds {"cases": [(export_dir, signature, {input: array})],
"exports": [export_dir]}. RESULTS.pkl gets {"outputs": [{output: array}] (one
per case), "warmup": [(export_dir, signature, {output: array})] (one per
warmup record, replayed as TF Serving does at load), "signatures":
{export_dir: {signature: sorted output names}}, "imported_package": bool}.
"""

import os
import pickle
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer's ops)
from tensorflow_serving.apis import prediction_log_pb2


def call(signature, inputs):
    outputs = signature(**{name: tf.constant(value) for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def replay_warmup(export_dir, loaded):
    path = os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")
    replayed = []
    for record in tf.data.TFRecordDataset(path):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        signature = loaded.signatures[request.model_spec.signature_name]
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        replayed.append((export_dir, request.model_spec.signature_name, call(signature, inputs)))
    return replayed


def main(requests_file, results_file):
    with open(requests_file, "rb") as f:
        requests = pickle.load(f)
    loaded = {path: tf.saved_model.load(path) for path in requests["exports"]}
    results = {
        "outputs": [
            call(loaded[path].signatures[name], inputs) for path, name, inputs in requests["cases"]
        ],
        "warmup": [item for path in requests["exports"] for item in replay_warmup(path, loaded[path])],
        "signatures": {
            path: {
                name: sorted(function.structured_outputs)
                for name, function in model.signatures.items()
            }
            for path, model in loaded.items()
        },
        "imported_package": any(name.startswith("keras_bert_impl") for name in sys.modules),
    }
    with open(results_file, "wb") as f:
        pickle.dump(results, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
