"""BERT for Keras 3 on TensorFlow.

The public names are re-exported here; see the README for a tour.
"""

import os

# Keras reads the backend once, at import; this package is TensorFlow-only.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_bert_impl.config import PRESETS, BertConfig  # noqa: E402
from keras_bert_impl.models import (  # noqa: E402
    BertBackbone,
    BertClassifier,
    BertPretrainer,
    bert_backbone,
)
from keras_bert_impl.models import BertQuestionAnswerer  # noqa: E402
from keras_bert_impl.models import BertTokenClassifier  # noqa: E402
from keras_bert_impl.convert import load_google_task, load_huggingface_task  # noqa: E402
from keras_bert_impl.convert import huggingface_label_names, save_huggingface_task  # noqa: E402
from keras_bert_impl.convert import (  # noqa: E402
    load_huggingface,
    load_huggingface_pretrainer,
    save_huggingface,
)
from keras_bert_impl.convert import (  # noqa: E402
    load_google_checkpoint,
    save_google_checkpoint,
)
from keras_bert_impl.convert import (  # noqa: E402
    from_keras_hub,
    load_keras_hub_preset,
    save_keras_hub_preset,
    to_keras_hub,
)
# Imported here so that a saved model's optimizer schedule deserialises.
from keras_bert_impl.training.optimization import (  # noqa: E402
    WarmupLinearDecay,
    create_optimizer,
)
from keras_bert_impl.inference import classify, embed, fill_mask  # noqa: E402
from keras_bert_impl.inference import tag  # noqa: E402
from keras_bert_impl.explanations import explain  # noqa: E402
from keras_bert_impl.explanation_views import explanation_html, format_explanation  # noqa: E402
from keras_bert_impl.tasks.qa_features import SpanSettings  # noqa: E402
from keras_bert_impl.tasks.question_answering import answer_questions  # noqa: E402
from keras_bert_impl.tasks.squad_metrics import squad_scores  # noqa: E402
from keras_bert_impl.data.squad import squad_examples  # noqa: E402
from keras_bert_impl.text.windows import make_windows  # noqa: E402
from keras_bert_impl.data.packing import pack_examples, packing_efficiency  # noqa: E402
