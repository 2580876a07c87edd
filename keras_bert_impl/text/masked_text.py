"""Token ids of texts written with literal "[MASK]"s, as fill-mask reads them.

The tokenizer splits a literal "[MASK]" into "[", "mask", "]" as original
BERT does (a user's text may contain those characters), so a fill-mask text
is cut at each "[MASK]", the pieces are tokenized and the mask id is put
between consecutive pieces. All in TensorFlow ops: the serving signature
and `keras_bert_impl.inference.fill_mask` call the same function, so they
read a text alike.

Example:

>>> tokenizer = Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "."])
>>> tokenize_masked_text(tokenizer, tf.constant(["the [MASK] .", "[MASK] cat"]))
<tf.RaggedTensor [[5, 4, 7], [4, 6]]>
"""

import tensorflow as tf

from keras_bert_impl.text.vocab import MASK_TOKEN


def tokenize_masked_text(tokenizer, texts):
    """Token ids of `texts` with each literal "[MASK]" as `tokenizer.mask_id`.

    Args:
        tokenizer: a `Tokenizer`.
        texts: 1-D string tensor (UTF-8 bytes; invalid bytes are treated as
            the tokenizer treats them).

    Returns:
        int32 `tf.RaggedTensor` [batch, (tokens)], without [CLS]/[SEP].
    """
    pieces = tf.strings.split(texts, sep=MASK_TOKEN)
    piece_ids = tokenizer(pieces.flat_values)
    row_of_piece = pieces.value_rowids()
    index_in_text = tf.range(tf.size(pieces.flat_values, out_type=tf.int64)) - tf.gather(
        pieces.row_splits, row_of_piece
    )
    # Every piece but a text's last is followed by a mask.
    followed_by_mask = index_in_text < tf.gather(pieces.row_lengths(), row_of_piece) - 1
    mask_ids = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(tf.cast(followed_by_mask, tf.int32))], tokenizer.mask_id),
        tf.cast(followed_by_mask, tf.int64),
    )
    piece_ids = tf.concat([piece_ids, mask_ids], axis=1)
    return tf.RaggedTensor.from_row_splits(piece_ids, pieces.row_splits).merge_dims(1, 2)
