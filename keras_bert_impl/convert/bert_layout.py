"""The tensor layout BERT checkpoints share, parametrised by naming scheme.

Original Google BERT and Hugging Face name the same tensors with the same
words (`encoder/layer_0/attention/self/query/kernel` vs
`encoder.layer.0.attention.self.query.weight`); they differ in separators,
suffixes and whether dense kernels are stored `[in, out]` (TF) or
`[out, in]` (torch). A `NamingScheme` captures those differences, and
`bert_tensor_mappings` maps every variable of this package's models onto it.
"""

import dataclasses

import numpy as np

from keras_bert_impl.convert.tensor_mapping import TensorMapping


@dataclasses.dataclass(frozen=True)
class NamingScheme:
    """How a checkpoint format names and lays out BERT's tensors.

    Attributes:
        separator: between path parts ("/" or ".").
        encoder_root: prefix of the encoder's tensors ("bert" or "").
        layer_name: format of a block's path, e.g. "encoder/layer_{}".
        kernel_suffix, bias_suffix: of dense layers.
        gamma_suffix, beta_suffix: of LayerNorms.
        embedding_suffix: of embedding tables ("" for Google's bare names).
        kernels_transposed: whether dense kernels are stored `[out, in]`.
        mlm_output_bias: name of the MLM output bias (after `cls`).
        nsp_kernel, nsp_bias: names of the NSP layer (after `cls`); Google
            stores the NSP kernel `[2, hidden]` whatever its other kernels do.
    """

    separator: str
    encoder_root: str
    layer_name: str
    kernel_suffix: str
    bias_suffix: str
    gamma_suffix: str
    beta_suffix: str
    embedding_suffix: str
    kernels_transposed: bool
    mlm_output_bias: str
    nsp_kernel: str
    nsp_bias: str

    def join(self, *parts):
        return self.separator.join(p for p in parts if p)

    def encoder(self, *parts):
        return self.join(self.encoder_root, *parts)


def _dense(variable_kernel, variable_bias, name, scheme, input_rank=1):
    """Mappings of one dense layer whose Keras kernel is `[...in, ...out]`.

    `input_rank` is how many leading kernel axes are input axes (2 for the
    attention output, whose kernel is `[heads, head_size, hidden]`).
    """
    shape = tuple(variable_kernel.shape)
    flat_in = int(np.prod(shape[:input_rank]))
    if scheme.kernels_transposed:
        to_keras = lambda w: w.T.reshape(shape)  # noqa: E731
        from_keras = lambda k: (k.reshape(flat_in, -1).T,)  # noqa: E731
    else:
        to_keras = lambda w: w.reshape(shape)  # noqa: E731
        from_keras = lambda k: (k.reshape(flat_in, -1),)  # noqa: E731
    bias_shape = tuple(variable_bias.shape)
    return [
        TensorMapping(variable_kernel, (name + scheme.kernel_suffix,), to_keras, from_keras),
        TensorMapping(
            variable_bias,
            (name + scheme.bias_suffix,),
            lambda b: b.reshape(bias_shape),
            lambda b: (b.reshape(-1),),
        ),
    ]


def _layer_norm(layer, name, scheme):
    return [
        TensorMapping(layer.gamma, (name + scheme.gamma_suffix,)),
        TensorMapping(layer.beta, (name + scheme.beta_suffix,)),
    ]


def _fused_qkv(attention, prefix, scheme):
    """Mappings of the fused QKV kernel and bias from three separate denses."""
    kernel_shape = tuple(attention.qkv_kernel.shape)  # [hidden, 3, heads, head]
    hidden = kernel_shape[0]
    names = [scheme.join(prefix, part) for part in ("query", "key", "value")]

    def kernel_to_keras(*kernels):
        if scheme.kernels_transposed:
            kernels = [k.T for k in kernels]
        return np.stack(kernels, axis=1).reshape(kernel_shape)

    def kernel_from_keras(kernel):
        parts = kernel.reshape(hidden, 3, -1)
        return tuple(
            parts[:, i].T if scheme.kernels_transposed else parts[:, i] for i in range(3)
        )

    bias_shape = tuple(attention.qkv_bias.shape)
    return [
        TensorMapping(
            attention.qkv_kernel,
            tuple(n + scheme.kernel_suffix for n in names),
            kernel_to_keras,
            kernel_from_keras,
        ),
        TensorMapping(
            attention.qkv_bias,
            tuple(n + scheme.bias_suffix for n in names),
            lambda *b: np.stack(b).reshape(bias_shape),
            lambda b: tuple(b.reshape(3, -1)),
        ),
    ]


def backbone_mappings(backbone, scheme):
    """Mappings of every variable of a `BertBackbone`."""
    embeddings = backbone.embeddings
    emb = lambda part: scheme.encoder("embeddings", part) + scheme.embedding_suffix  # noqa: E731
    mappings = [
        TensorMapping(embeddings.token_embedding.embeddings, (emb("word_embeddings"),)),
        TensorMapping(embeddings.position_embeddings, (emb("position_embeddings"),)),
        TensorMapping(
            embeddings.segment_embedding.embeddings, (emb("token_type_embeddings"),)
        ),
        *_layer_norm(embeddings.layer_norm, scheme.encoder("embeddings", "LayerNorm"), scheme),
    ]
    for index, block in enumerate(backbone.encoder_layers):
        prefix = scheme.encoder(scheme.layer_name.format(index))
        attention = block.attention
        mappings += _fused_qkv(attention, scheme.join(prefix, "attention", "self"), scheme)
        mappings += _dense(
            attention.output_kernel,
            attention.output_bias,
            scheme.join(prefix, "attention", "output", "dense"),
            scheme,
            input_rank=2,
        )
        mappings += _layer_norm(
            block.attention_layer_norm,
            scheme.join(prefix, "attention", "output", "LayerNorm"),
            scheme,
        )
        mappings += _dense(
            block.intermediate_dense.kernel,
            block.intermediate_dense.bias,
            scheme.join(prefix, "intermediate", "dense"),
            scheme,
        )
        mappings += _dense(
            block.output_dense.kernel,
            block.output_dense.bias,
            scheme.join(prefix, "output", "dense"),
            scheme,
        )
        mappings += _layer_norm(
            block.output_layer_norm, scheme.join(prefix, "output", "LayerNorm"), scheme
        )
    pooler = backbone.get_layer("pooler").dense
    mappings += _dense(pooler.kernel, pooler.bias, scheme.encoder("pooler", "dense"), scheme)
    return mappings


def mlm_head_mappings(mlm_head, scheme):
    """Mappings of a `MaskedLMHead` (its projection is the tied embedding)."""
    transform = scheme.join("cls", "predictions", "transform")
    return [
        *_dense(
            mlm_head.transform_dense.kernel,
            mlm_head.transform_dense.bias,
            scheme.join(transform, "dense"),
            scheme,
        ),
        *_layer_norm(mlm_head.layer_norm, scheme.join(transform, "LayerNorm"), scheme),
        TensorMapping(mlm_head.output_bias, (scheme.join("cls", scheme.mlm_output_bias),)),
    ]


def output_layer_mappings(dense, kernel_name, bias_name):
    """Mappings of a task's output layer, whose kernel checkpoints store `[out, hidden]`.

    So do both formats for the NSP head and the fine-tuning heads (Hugging
    Face's torch layout, Google's bare `output_weights` matrices).
    """
    return [
        TensorMapping(dense.kernel, (kernel_name,), lambda w: w.T, lambda k: (k.T,)),
        TensorMapping(dense.bias, (bias_name,)),
    ]


def nsp_head_mappings(nsp_head, scheme):
    """Mappings of the NSP head; both formats store its kernel `[2, hidden]`."""
    return output_layer_mappings(
        nsp_head.dense, scheme.join("cls", scheme.nsp_kernel), scheme.join("cls", scheme.nsp_bias)
    )


def model_mappings(model, scheme):
    """Mappings of a backbone, or of a pretrainer with its heads."""
    backbone = getattr(model, "backbone", model)
    mappings = backbone_mappings(backbone, scheme)
    if hasattr(model, "mlm_head"):
        mappings += mlm_head_mappings(model.mlm_head, scheme)
        if model.nsp:
            mappings += nsp_head_mappings(model.get_layer("nsp_head"), scheme)
    return mappings
