"""The ops an export's graph needs, so a TF Serving build can be checked before deploying.

A server loads an export only if every op type in its graph is linked into the
server binary. Core TensorFlow ops come with any server at least as new as
the TensorFlow that exported the model; the tensorflow-text ops come from the
tensorflow-text release the server was built with, which is the usual cause of
"Op type not registered" at load time.

Example:

>>> ops = saved_model_ops("saved_models/cls/1")  # doctest: +SKIP
>>> tensorflow_text_ops(ops)  # doctest: +SKIP
['FastWordpieceTokenizeWithOffsets', 'NormalizeUTF8']
>>> ops_newer_than_tensorflow_text_2_12(ops)  # doctest: +SKIP
[]
"""

import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

# The tensorflow-text ops a stock `tensorflow/serving` image registers. Its
# server links tensorflow-text 2.12.1's `//tensorflow_text:ops_lib` (TF
# Serving pins `org_tensorflow_text` at 2.12.1; tensorflow/serving pull
# request #4057); these are the names registered (`REGISTER_OP`, or a
# kernel-shim `kOpName`) by the `cc_op_defs` of every `ops_lib` dependency in
# tensorflow/text at tag v2.12.1. `TFText>RoundRobinTrim` is not among them.
TENSORFLOW_TEXT_2_12_OPS = frozenset(
    {
        "CaseFoldUTF8", "ConstrainedSequence", "FastBertNormalize", "FastWordpieceTokenizeWithOffsets",
        "FindSourceOffsets", "MaxSpanningTree", "NormalizeUTF8", "NormalizeUTF8WithOffsetsMap",
        "PhraseTokenize", "RegexSplitWithOffsets", "RougeL", "SentenceFragments", "SentenceFragmentsV2",
        "SentencepieceDetokenizeOp", "SentencepieceIdToStringOp", "SentencepieceOp",
        "SentencepieceStringToIdOp", "SentencepieceTokenizeOp", "SentencepieceTokenizeWithOffsetsOp",
        "SentencepieceVocabSizeOp", "SplitMergeTokenizeWithOffsets", "TFText>BoiseTagsToOffsets",
        "TFText>ByteSplitByOffsets", "TFText>ByteSplitWithOffsets", "TFText>FastSentencepieceDetokenize",
        "TFText>FastSentencepieceTokenize", "TFText>FastWordpieceDetokenize", "TFText>NgramsStringJoin",
        "TFText>OffsetsToBoiseTags", "TFText>PhraseDetokenize", "TFText>WhitespaceTokenizeWithOffsetsV2",
        "TokenizerFromLogits", "UnicodeScriptTokenizeWithOffsets", "WhitespaceTokenizeWithOffsets",
        "WordpieceTokenizeWithOffsets",
    }
)
# Read a binary in chunks this large, overlapping by the longest op name.
_CHUNK_BYTES = 1 << 24


def _read_saved_model(saved_model_dir):
    path = os.path.join(saved_model_dir, "saved_model.pb")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{saved_model_dir} is not a SavedModel: {path} is missing.")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model


def saved_model_ops(saved_model_dir):
    """Sorted op types of every MetaGraph of a SavedModel, functions included."""
    op_types = set()
    for meta_graph in _read_saved_model(saved_model_dir).meta_graphs:
        graph = meta_graph.graph_def
        op_types.update(node.op for node in graph.node)
        for function in graph.library.function:
            op_types.update(node.op for node in function.node_def)
    return sorted(op_types)


def exporting_tensorflow_version(saved_model_dir):
    """The TensorFlow version that wrote the SavedModel (e.g. "2.21.0")."""
    meta_graphs = _read_saved_model(saved_model_dir).meta_graphs
    return meta_graphs[0].meta_info_def.tensorflow_version if meta_graphs else ""


def tensorflow_text_ops(op_types):
    """The op types core TensorFlow does not define (`tf.raw_ops` lists the core ones)."""
    return sorted(op for op in op_types if not hasattr(tf.raw_ops, op))


def ops_newer_than_tensorflow_text_2_12(op_types):
    """The tensorflow-text ops that the stock `tensorflow/serving` images lack."""
    return [op for op in tensorflow_text_ops(op_types) if op not in TENSORFLOW_TEXT_2_12_OPS]


def ops_missing_from_binary(op_types, binary_path):
    """The op types whose registered name is not in a server binary.

    An op is registered under its name as a C string, so a binary that links
    it holds the name followed by a NUL byte.
    """
    wanted = {op: op.encode("utf-8") + b"\0" for op in op_types}
    overlap = max((len(name) for name in wanted.values()), default=1)
    found = set()
    tail = b""
    with open(binary_path, "rb") as f:
        while len(found) < len(wanted):
            chunk = f.read(_CHUNK_BYTES)
            if not chunk:
                break
            window = tail + chunk
            found.update(op for op, name in wanted.items() if op not in found and name in window)
            tail = window[-overlap:]
    return sorted(set(wanted) - found)
