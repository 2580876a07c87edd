"""Functional Keras models: the BERT backbone and the models built on it."""

from keras_bert_impl.models.backbone import BertBackbone, bert_backbone, rebuild_backbone
from keras_bert_impl.models.classifier import BertClassifier
from keras_bert_impl.models.pretrainer import BertPretrainer
from keras_bert_impl.models.question_answerer import BertQuestionAnswerer
from keras_bert_impl.models.token_classifier import BertTokenClassifier
