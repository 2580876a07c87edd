"""The files TF Serving needs beside an export: batching parameters and a model config.

`export_saved_model` writes them next to the version folders, once (a later
export leaves them alone, so your tuning survives; delete a file to get the
default back):

```
saved_models/NAME/
  1/ 2/ ...
  batching_parameters.txt   --batching_parameters_file (BatchingParameters, text format)
  models.config             --model_config_file (ModelServerConfig, text format)
```

TF Serving skips folders whose name is not a number, and files.

Example:

>>> write_deployment_files("saved_models/cls")  # doctest: +SKIP
['saved_models/cls/batching_parameters.txt', 'saved_models/cls/models.config']
"""

import json
import os

from keras_bert_impl.io_utils import write_text_atomically

BATCHING_FILE = "batching_parameters.txt"
MODEL_CONFIG_FILE = "models.config"

# CPU defaults: (field, value, why and how to tune). The server merges the
# requests that arrive within `batch_timeout_micros` into one model call.
BATCHING_DEFAULTS = (
    (
        "max_batch_size", 32,
        "Most texts per model call. Larger batches raise throughput until the CPU is "
        "saturated and add latency; 32 texts of 128 tokens are ~4k tokens per call.",
    ),
    (
        "batch_timeout_micros", 2000,
        "How long a partial batch waits for more requests (2 ms). 0 never waits (lowest "
        "latency); raise it toward a few ms when throughput matters more than latency.",
    ),
    (
        "num_batch_threads", 4,
        "Batches run in parallel. On CPU set it to the number of cores the server may use "
        "(each call is itself multi-threaded, so fewer can be faster: measure).",
    ),
    (
        "max_enqueued_batches", 100,
        "Queued batches before new requests are rejected (UNAVAILABLE), which bounds the "
        "queueing delay under overload; lower it for a strict latency budget.",
    ),
)
# Each batch is padded up to the next allowed size; powers of two waste at most
# half a batch and keep few distinct shapes. The last must equal max_batch_size.
ALLOWED_BATCH_SIZES = (1, 2, 4, 8, 16, 32)


def batching_parameters_text():
    """The default `batching_parameters.txt`, each field with its reason."""
    lines = [
        "# TF Serving batching for a keras_bert_impl export (CPU defaults).",
        "# Use with: --enable_batching --batching_parameters_file=THIS_FILE",
        "",
    ]
    for field, value, reason in BATCHING_DEFAULTS:
        lines += [f"# {reason}", f"{field} {{ value: {value} }}", ""]
    lines += [
        "# Batch sizes a merged batch is padded to (the last is max_batch_size).",
        *(f"allowed_batch_sizes: {size}" for size in ALLOWED_BATCH_SIZES),
        "",
        "# predict_ids takes [batch, tokens] ids; requests of different lengths are",
        "# padded with 0 to a common length before merging (0 = [PAD] and a 0",
        "# padding_mask for the vocabularies this package writes).",
        "pad_variable_length_inputs: true",
    ]
    return "\n".join(lines) + "\n"


def model_config_text(name, base_path):
    """A `models.config` (ModelServerConfig) serving `name` from `base_path`."""
    return (
        "# TF Serving model config: --model_config_file=THIS_FILE\n"
        "# base_path is where this export is on this machine; in the tensorflow/serving\n"
        f"# container mount the folder and use its path there (e.g. /models/{name}).\n"
        "model_config_list {\n"
        "  config {\n"
        f"    name: {_quoted(name)}\n"
        f"    base_path: {_quoted(base_path)}\n"
        '    model_platform: "tensorflow"\n'
        "  }\n"
        "}\n"
    )


def _quoted(text):
    # JSON's escapes (\\, \", \n) are valid protobuf text-format escapes.
    return json.dumps(text, ensure_ascii=False)


def write_deployment_files(output_root):
    """Writes the batching and model config files beside the versions, unless present.

    Args:
        output_root: the model's base path, e.g. `saved_models/NAME`; its
            folder name is the model name.

    Returns:
        The paths written (empty when both were there already).
    """
    base_path = os.path.abspath(output_root)
    contents = {
        BATCHING_FILE: batching_parameters_text(),
        MODEL_CONFIG_FILE: model_config_text(os.path.basename(base_path), base_path),
    }
    written = []
    for name, text in contents.items():
        path = os.path.join(output_root, name)
        if not os.path.exists(path):
            write_text_atomically(path, text)
            written.append(path)
    return written
