"""In-graph text processing: vocabularies, WordPiece tokenizer (with offsets), packing, masking, windows."""

from keras_bert_impl.text.masking import MlmMasker, sample_pretraining_pairs
from keras_bert_impl.text.packing import SegmentPacker
from keras_bert_impl.text.offsets import tokenize_with_offsets
from keras_bert_impl.text.tokenizer import Tokenizer, split_words
from keras_bert_impl.text.trimming import trim_round_robin
from keras_bert_impl.text.vocab import (
    SPECIAL_TOKENS,
    learn_vocab,
    load_vocab,
    save_vocab,
)
from keras_bert_impl.text.windows import TokenWindows, make_windows, window_starts
