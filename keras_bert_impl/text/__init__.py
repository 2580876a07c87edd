"""In-graph text processing: vocabularies, WordPiece tokenizer, packing, masking."""

from keras_bert_impl.text.masking import MlmMasker, sample_pretraining_pairs
from keras_bert_impl.text.packing import SegmentPacker
from keras_bert_impl.text.tokenizer import Tokenizer, split_words
from keras_bert_impl.text.vocab import (
    SPECIAL_TOKENS,
    learn_vocab,
    load_vocab,
    save_vocab,
)
