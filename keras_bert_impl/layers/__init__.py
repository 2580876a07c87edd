"""Keras layers of BERT; each is serialisable and knows nothing of files or text."""

from keras_bert_impl.layers.attention import BertSelfAttention
from keras_bert_impl.layers.dense import FusableDense
from keras_bert_impl.layers.embeddings import BertEmbeddings
from keras_bert_impl.layers.encoder import BertEncoderBlock
from keras_bert_impl.layers.heads import BertPooler, ClassificationHead, MaskedLMHead, MeanPooler
from keras_bert_impl.layers.span_head import SpanHead
from keras_bert_impl.layers.windows import WINDOW_POOLINGS, WindowPooling, WindowRows
