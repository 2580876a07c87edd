"""Names and defaults the command line offers, in a module that imports nothing.

`train_tf.py --help` builds every subcommand's flags from these before
TensorFlow loads (see `keras_bert_impl.cli`); the modules that act on them
(`training.strategy`, `training.precision`, `training.optimization`,
`serving.signatures`) import them from here, so each is written once.
"""

STRATEGY_NAMES = ("auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
OPTIMIZERS = ("adamw", "lamb")

# The training length of the CLI's pretrain and finetune, and the length a
# model directory that does not record its own is read at.
DEFAULT_SEQ_LEN = 128
DEFAULT_MAX_MASKS = 8
# BERT's share of tokens masked in pretraining (`pretrain --mask-rate`).
DEFAULT_MASK_RATE = 0.15
# Starting weights of `pretrain`: BERT's random ones, or attention that starts
# local (`training.local_attention_init`).
ATTENTION_INITS = ("bert", "local")
DEFAULT_TOP_K = 5

# Long-text classification: how window logits pool into a text's, and the
# windows kept per text by default (`layers.windows`, `tasks.classification`).
WINDOW_POOLINGS = ("mean", "max")
# The vector a classifier reads per text (`models.classifier`): BERT's pooled
# [CLS] output or the mean of the text's final token vectors.
TEXT_POOLINGS = ("pooled", "mean")
DEFAULT_MAX_WINDOWS = 4

# SQuAD's windowing and decoding defaults (`tasks.qa_features.SpanSettings`).
QA_SPAN_DEFAULTS = {
    "seq_len": 384, "doc_stride": 128, "max_query_length": 64, "max_answer_length": 30, "n_best": 20,
}

# Integration points of `explain` (predict --explain-steps).
DEFAULT_EXPLAIN_STEPS = 50
