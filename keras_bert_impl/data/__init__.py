"""Training data: where text comes from (sources) and the embedded default corpus."""

from keras_bert_impl.data.embedded import (
    embedded_classification,
    embedded_pretraining_documents,
    embedded_texts,
)
from keras_bert_impl.data.sources import (
    classification_examples,
    load_label_names,
    pretraining_documents,
    save_label_names,
    split_sentences,
)
