"""TF Serving warmup requests: one `PredictionLog` per signature.

TF Serving replays `assets.extra/tf_serving_warmup_requests` (a TFRecord file
of `tensorflow.serving.PredictionLog` protos) when it loads a version, before
the version takes traffic, so the first real request does not pay for graph
initialisation (the tokenizer's tables, kernel selection).

Example:

>>> requests = warmup_requests(serving, model_name="cls")  # doctest: +SKIP
>>> write_warmup_file("saved_models/cls/1", requests)  # doctest: +SKIP
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from keras_bert_impl.serving.signatures import CLASSIFIER, QUESTION_ANSWERER, TOKEN_CLASSIFIER

ASSETS_EXTRA_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"

# Two texts of different lengths, so the warmup pads a batch as real traffic does.
WARMUP_TEXTS = ("This is a warmup request.", "A second, longer text warms up the padding path too.")
WARMUP_MASKED_TEXTS = ("The [MASK] sat on the mat.", "Paris is the [MASK] of [MASK].")


def example_inputs(serving):
    """`{signature name: {input name: numpy array}}` for every signature of `serving`."""
    texts = np.array(WARMUP_TEXTS, dtype=object)
    examples = {"embed": {"text": texts}}
    if serving.kind in (CLASSIFIER, TOKEN_CLASSIFIER):
        examples["serving_default"] = {"text": texts}
        examples["tag_words"] = {"text": texts}
        examples["serving_pair"] = {"text": texts, "text_b": texts[::-1].copy()}
        packed = serving.pack_texts(texts)
        examples["predict_ids"] = {name: value.numpy() for name, value in packed.items()}
    elif serving.kind == QUESTION_ANSWERER:
        examples["serving_default"] = {"question": texts[::-1].copy(), "context": texts}
        packed = serving.pack_texts(texts[::-1].copy(), texts)
        examples["predict_ids"] = {name: value.numpy() for name, value in packed.items()}
    else:
        masked = np.array(WARMUP_MASKED_TEXTS, dtype=object)
        examples["serving_default"] = {"text": masked}
        examples["fill_mask"] = {"text": masked}
    return examples


def warmup_requests(serving, model_name):
    """One `PredictionLog` per signature of `serving`, in signature order."""
    examples = example_inputs(serving)
    logs = []
    # Only the signatures the model has: the example table covers both kinds.
    for signature_name in serving.signatures:
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
        )
        for input_name, value in examples[signature_name].items():
            request.inputs[input_name].CopyFrom(tf.make_tensor_proto(value))
        logs.append(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
        )
    return logs


def write_warmup_file(saved_model_dir, prediction_logs):
    """Writes `prediction_logs` where TF Serving looks for warmup requests."""
    directory = os.path.join(saved_model_dir, ASSETS_EXTRA_DIR)
    os.makedirs(directory, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(directory, WARMUP_FILE)) as writer:
        for log in prediction_logs:
            writer.write(log.SerializeToString())


def read_warmup_file(saved_model_dir):
    """The `PredictionLog`s of an export, as TF Serving reads them."""
    path = os.path.join(saved_model_dir, ASSETS_EXTRA_DIR, WARMUP_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No warmup requests in {saved_model_dir}: {path} is missing.")
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(path)
    ]
