"""BERT pretraining model: masked LM, optionally with next-sentence prediction."""

import keras

from keras_bert_impl.layers import ClassificationHead, MaskedLMHead
from keras_bert_impl.models.backbone import backbone_inputs, model_inputs
from keras_bert_impl.models.task import BertTask, sparse_cross_entropy


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertPretrainer(BertTask):
    """A backbone with BERT's masked-LM head (and the NSP head when `nsp`).

    Inputs are the backbone's plus `mask_positions` (int32
    `[batch, max_predictions]`, padded with any valid position). Outputs are
    `{"mlm": [batch, max_predictions, vocab] logits}` and, with `nsp=True`,
    `"nsp": [batch, 2]` logits (class 0 = IsNext, 1 = NotNext, as in BERT).

    `compile()` defaults to BERT's objective: sparse cross-entropy averaged
    over the real predictions only (the `"mlm"` sample weight is 0 on padded
    mask positions) and MLM accuracy weighted the same way.

    Args:
        backbone: a `BertBackbone`.
        nsp: whether to add the next-sentence-prediction head.
        mlm_hidden_act: activation of the MLM transform; defaults to the
            backbone's `hidden_act`, as in BERT. keras-hub's head uses the
            exact GELU whatever its backbone does, and `from_keras_hub` says so
            here.
        mlm_layer_norm_eps: LayerNorm epsilon of the MLM head; defaults to
            the backbone's (keras-hub's head uses 1e-5).

    Example:

    >>> pretrainer = BertPretrainer(bert_backbone("bert_tiny"))
    >>> pretrainer.compile(optimizer="adam")
    >>> # pretrainer.fit(dataset) with (x, {"mlm": ids}, {"mlm": weights})
    """

    def __init__(
        self, backbone, nsp=False, mlm_hidden_act=None, mlm_layer_norm_eps=None, **kwargs
    ):
        inputs = model_inputs(extra_names=("mask_positions",))
        encoded = backbone(backbone_inputs(inputs))
        config = backbone.config
        mlm_head = MaskedLMHead(
            backbone.token_embedding,
            hidden_act=mlm_hidden_act or config.hidden_act,
            layer_norm_eps=mlm_layer_norm_eps or config.layer_norm_eps,
            initializer_range=config.initializer_range,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        outputs = {"mlm": mlm_head(encoded["sequence_output"], inputs["mask_positions"])}
        if nsp:
            outputs["nsp"] = ClassificationHead(
                2,
                initializer_range=config.initializer_range,
                dtype=backbone.dtype_policy,
                name="nsp_head",
            )(encoded["pooled_output"])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.nsp = nsp
        self.mlm_head = mlm_head
        self.mlm_hidden_act = mlm_hidden_act
        self.mlm_layer_norm_eps = mlm_layer_norm_eps

    def compile(self, optimizer="adam", loss="auto", weighted_metrics="auto", **kwargs):
        """Compiles with BERT's losses unless `loss` / metrics are given."""
        if loss == "auto":
            loss = {"mlm": sparse_cross_entropy()}
            if self.nsp:
                loss["nsp"] = sparse_cross_entropy()
        if weighted_metrics == "auto":
            # Keras prefixes metric names with the output name only when there
            # are several outputs; name it so the key is "mlm_accuracy" always.
            weighted_metrics = {
                "mlm": [
                    keras.metrics.SparseCategoricalAccuracy(
                        name="accuracy" if self.nsp else "mlm_accuracy"
                    )
                ]
            }
            if self.nsp:
                weighted_metrics["nsp"] = [
                    keras.metrics.SparseCategoricalAccuracy(name="accuracy")
                ]
        super().compile(
            optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs
        )

    def task_config(self):
        return {
            "nsp": self.nsp,
            "mlm_hidden_act": self.mlm_hidden_act,
            "mlm_layer_norm_eps": self.mlm_layer_norm_eps,
        }
