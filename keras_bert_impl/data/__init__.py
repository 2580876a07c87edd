"""Training data: where text comes from (sources, the embedded default) and the tf.data pipelines."""

from keras_bert_impl.data.embedded import (
    embedded_classification,
    embedded_fill_mask_examples,
    embedded_pretraining_documents,
    embedded_texts,
)
from keras_bert_impl.data.packing import pack_examples, packing_efficiency
from keras_bert_impl.data.pipelines import classification_dataset, pretraining_dataset
from keras_bert_impl.data.sources import (
    classification_examples,
    load_label_names,
    pretraining_documents,
    save_label_names,
    split_sentences,
)
from keras_bert_impl.data.squad import Answer, SquadExample, squad_examples
