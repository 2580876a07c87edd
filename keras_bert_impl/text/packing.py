"""Packs one or two token segments into BERT's fixed-length model inputs.

    [CLS] A [SEP]            segment_ids 0 ... 0
    [CLS] A [SEP] B [SEP]    segment_ids 0 ... 0 1 ... 1

then pads to `seq_len` with [PAD] (padding_mask 0). When the tokens do not
fit, the longer segment loses tokens from its end first, one at a time (ties
shorten B), which is original BERT's `_truncate_seq_pair` and the result of
`tensorflow_text.RoundRobinTrimmer` (`trimming.trim_round_robin` does it in
core ops, so TF Serving builds with an older tensorflow-text load exports).

Pairs are joined by `tensorflow_text.combine_segments` and padded by
`pad_model_inputs`. A single segment, the common case (every raw-text
serving call of a single-text classifier), is packed here in a dozen dense
ops instead: those two functions build many small ops for a batch, each a
kernel launch per request at batch 1 in TF Serving, for what a truncating
`to_tensor`, a concatenation and one `where` do (docs/PERFORMANCE.md has the
kernel counts). The outputs are the same (`tests/text/test_packing.py`).

Example:
    >>> packer = SegmentPacker(seq_len=8, cls_id=2, sep_id=3, pad_id=0)
    >>> inputs = packer(tf.ragged.constant([[10, 11, 12, 13]]),
    ...                 tf.ragged.constant([[20, 21, 22, 23, 24]]))
    >>> inputs["token_ids"].numpy()
    array([[ 2, 10, 11, 12,  3, 20, 21,  3]], dtype=int32)
    >>> inputs["segment_ids"].numpy()
    array([[0, 0, 0, 0, 0, 1, 1, 1]], dtype=int32)
"""

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_impl.text.trimming import trim_round_robin


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class SegmentPacker(keras.layers.Layer):
    """[CLS] A [SEP] (B [SEP]) packing with truncation and padding.

    Args:
        seq_len: length of every packed sequence, special tokens included.
        cls_id, sep_id, pad_id: ids of [CLS], [SEP], [PAD] (take them from
            `Tokenizer.cls_id` etc.; they differ between vocabularies).
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, seq_len, *, cls_id, sep_id, pad_id, **kwargs):
        super().__init__(trainable=False, **kwargs)
        if seq_len < 3:
            raise ValueError(f"seq_len={seq_len}: expected at least 3 ([CLS] x [SEP])")
        self.seq_len = int(seq_len)
        self.cls_id = int(cls_id)
        self.sep_id = int(sep_id)
        self.pad_id = int(pad_id)
        self.built = True

    @classmethod
    def from_tokenizer(cls, tokenizer, seq_len, **kwargs):
        """A packer using `tokenizer`'s special ids."""
        return cls(
            seq_len,
            cls_id=tokenizer.cls_id,
            sep_id=tokenizer.sep_id,
            pad_id=tokenizer.pad_id,
            **kwargs,
        )

    def __call__(self, segment_a, segment_b=None):
        """Packs a batch (or a single example).

        Args:
            segment_a: int RaggedTensor [batch, (tokens)], or a 1-D tensor
                for a single example.
            segment_b: optional second segment, same form as `segment_a`.

        Returns:
            dict of int32 tensors "token_ids", "segment_ids", "padding_mask",
            each [batch, seq_len] ([seq_len] for a single example).
        """
        return self.call(segment_a, segment_b)

    def call(self, segment_a, segment_b=None):
        segments = [s for s in (segment_a, segment_b) if s is not None]
        single_example = not isinstance(segment_a, tf.RaggedTensor) and (
            tf.convert_to_tensor(segment_a).shape.rank == 1
        )
        if single_example:
            segments = [tf.RaggedTensor.from_tensor(tf.convert_to_tensor(s)[tf.newaxis]) for s in segments]
        segments = [tf.cast(s, tf.int32) for s in segments]
        packed = self._pack_one(*segments) if len(segments) == 1 else self._pack_pair(segments)
        if single_example:
            packed = {name: value[0] for name, value in packed.items()}
        return packed

    def _pack_pair(self, segments):
        """[CLS] A [SEP] B [SEP] [PAD]..., trimmed round robin, by tensorflow-text."""
        segments = trim_round_robin(segments, self.seq_len - 3)  # [CLS] and two [SEP]s
        token_ids, segment_ids = tf_text.combine_segments(
            segments, start_of_sequence_id=self.cls_id, end_of_segment_id=self.sep_id
        )
        token_ids, padding_mask = tf_text.pad_model_inputs(
            token_ids, self.seq_len, pad_value=self.pad_id
        )
        segment_ids, _ = tf_text.pad_model_inputs(segment_ids, self.seq_len, pad_value=0)
        return {
            "token_ids": token_ids,
            "segment_ids": tf.cast(segment_ids, tf.int32),
            "padding_mask": tf.cast(padding_mask, tf.int32),
        }

    def _pack_one(self, tokens):
        """[CLS] tokens [SEP] [PAD]...: the single-segment packing in dense ops."""
        body = tokens.to_tensor(default_value=self.pad_id, shape=[None, self.seq_len - 2])
        lengths = tf.minimum(tf.cast(tokens.row_lengths(), tf.int32), self.seq_len - 2)
        cls_column = tf.fill([tf.shape(body)[0], 1], self.cls_id)
        # The last slot: a full row's [SEP] goes there, a shorter row's padding.
        pad_column = tf.fill([tf.shape(body)[0], 1], self.pad_id)
        token_ids = tf.concat([cls_column, body, pad_column], axis=1)
        positions = tf.range(self.seq_len)[tf.newaxis, :]
        token_ids = tf.where(positions == lengths[:, tf.newaxis] + 1, self.sep_id, token_ids)
        padding_mask = tf.cast(positions < lengths[:, tf.newaxis] + 2, tf.int32)
        return {"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids), "padding_mask": padding_mask}

    def get_config(self):
        config = super().get_config()
        config.pop("trainable", None)
        config.update(
            {
                "seq_len": self.seq_len,
                "cls_id": self.cls_id,
                "sep_id": self.sep_id,
                "pad_id": self.pad_id,
            }
        )
        return config


def trim_padding(packed):
    """Packed inputs cut to the batch's longest real sequence (serving's short requests).

    Args:
        packed: dict of [batch, seq_len] tensors with "padding_mask".

    Returns:
        the same dict, each tensor [batch, longest].
    """
    # Every packed text has [CLS] and [SEP]; the floor of 2 also keeps an
    # empty batch (whose max is the int32 minimum) a valid slice.
    longest = tf.maximum(tf.reduce_max(tf.reduce_sum(packed["padding_mask"], axis=1)), 2)
    return {name: value[:, :longest] for name, value in packed.items()}
