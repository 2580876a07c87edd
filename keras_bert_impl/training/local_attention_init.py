"""Starting weights whose attention is already local, for pretraining from scratch.

A freshly initialised BERT attends uniformly: its query-key products
start near zero, so every token sees the average of its sequence. A small
model pretrained for minutes stays there, a bag of words whose masked LM
answers with the corpus's commonest tokens whatever the context. Two changes
to the starting weights, none to the architecture, give attention a local
shape from step 0:

* Position embeddings start as the sinusoid table of "Attention Is All You
  Need" (Vaswani et al., 2017), scaled to a root mean square of
  `initializer_range`, the scale of the token embeddings. Nearby positions
  then have similar embeddings, which random ones do not.
* Mimetic initialisation (Trockman & Kolter, "Mimetic Initialization of
  Self-Attention Layers", 2023): each layer's query-key product
  `W_q @ W_k.T` starts near `a*Z + b*I` and its value-output product
  `W_v @ W_o` near `a*Z - b*I`, with `Z` random. A token then starts out
  attending to tokens that look like itself: most to itself, and, through
  the sinusoids, more to near positions than to far ones. As in the paper,
  each head draws its own query-key product (its best rank-`head_size`
  part), so every head starts so.

The model stays a standard BERT: it is saved, converted, exported and
fine-tuned like any other. Nothing here is in a library in the stack; it is a
few lines of NumPy on a built backbone.

Example:

>>> from keras_bert_impl.models import bert_backbone
>>> backbone = bert_backbone("bert_tiny")
>>> init_local_attention(backbone, seed=0)
"""

import math

import numpy as np

# (a, b) of the products a*Z + b*I, the paper's values: b > 0 for query-key,
# b < 0 for value-output (a*Z - 0.4*I).
QUERY_KEY = (0.7, 0.7)
VALUE_OUTPUT = (0.4, -0.4)


def init_local_attention(backbone, seed):
    """Sets `backbone`'s position embeddings and attention kernels in place.

    Biases, LayerNorms, token embeddings and feed-forward kernels keep their
    BERT initialisation. Under a distribution strategy call it inside the
    strategy's scope, after the model is built; every worker computes the same
    values from `seed`.

    Args:
        backbone: a built `BertBackbone`.
        seed: seeds the random parts `Z`.

    Raises:
        ValueError: the hidden size is odd.
    """
    rng = np.random.default_rng(seed)
    embeddings = backbone.embeddings
    length, width = embeddings.position_embeddings.shape
    if width % 2:
        raise ValueError(
            f"--attention-init local needs an even hidden_size (sine and cosine pairs); got {width}."
        )
    # Each sine-cosine pair has a mean square of 1/2.
    scale = backbone.config.initializer_range * math.sqrt(2)
    embeddings.position_embeddings.assign(scale * sinusoid_table(length, width))
    for block in backbone.encoder_layers:
        _init_attention(block.attention, rng)


def sinusoid_table(length, width):
    """The `[length, width]` sinusoidal position table, sines then cosines.

    Example:

    >>> sinusoid_table(4, 8)[0].tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    """
    positions = np.arange(length)[:, None]
    frequencies = 1.0 / 10000 ** (2 * np.arange(width // 2) / width)
    angles = positions * frequencies[None]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype("float32")


def mimetic_factors(width, a, b, rng):
    """Two `[width, width]` factors whose product is `a*Z + b*I`.

    `Z` has entries drawn from N(0, 1/width). The factors split the product's
    singular values evenly (`U sqrt(S)` and `sqrt(S) V.T`), so neither
    starts larger than the other.

    Returns:
        `(left, right)`, float32, with `left @ right == a*Z + b*I`; the
        first k columns of `left` and rows of `right` multiply to the
        product's best rank-k approximation.
    """
    z = rng.normal(0.0, 1.0 / math.sqrt(width), (width, width))
    u, s, vt = np.linalg.svd(a * z + b * np.eye(width))
    root = np.sqrt(s)
    return (u * root).astype("float32"), (root[:, None] * vt).astype("float32")


def _init_attention(attention, rng):
    """Query-key and value-output products of one `BertSelfAttention`, set mimetically.

    Its kernels hold the heads side by side (`qkv_kernel` `[width, 3, heads,
    head_size]`, `output_kernel` `[heads, head_size, width]`). Each head's
    query-key product is the best rank-`head_size` part of its own
    `a*Z + b*I`, so every head starts equally local; the value-output
    product is one, split across the heads, whose outputs are summed.
    """
    width, _, heads, head_size = attention.qkv_kernel.shape
    qkv = np.empty((width, 3, heads, head_size), "float32")
    for head in range(heads):
        query, key_transposed = mimetic_factors(width, *QUERY_KEY, rng)
        qkv[:, 0, head] = query[:, :head_size]
        qkv[:, 1, head] = key_transposed[:head_size].T
    value, output = mimetic_factors(width, *VALUE_OUTPUT, rng)
    qkv[:, 2] = value.reshape(width, heads, head_size)
    attention.qkv_kernel.assign(qkv)
    attention.output_kernel.assign(output.reshape(heads, head_size, width))
