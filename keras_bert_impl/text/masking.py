"""Dynamic masked-LM masking and next-sentence pair sampling, as BERT does.

Masking (`MlmMasker`) works on packed batches ([CLS] A [SEP] B [SEP] ...),
so positions index the packed sequence. For each row:

* the number to predict is min(max_predictions, max(1, round(selection_rate
  (BERT: 15%) of the maskable tokens))), maskable meaning not [PAD], [UNK], [CLS], [SEP], [MASK];
* tokens (or whole words: a piece plus the "##" pieces after it) are taken
  in random order while they fit that budget; a word that would overflow it
  is skipped (original BERT's rule);
* each chosen token becomes [MASK] 80% of the time, a random non-special
  token 10%, and stays 10%.

It plugs stateless, seeded pieces into `tensorflow_text.mask_language_model`
(`tf_text.RandomItemSelector` and `tf_text.MaskValuesChooser` draw from
stateful RNGs, which repeat the same masks every epoch inside tf.data and are
not reproducible under a parallel map; they also cap words, not tokens).

`sample_pretraining_pairs` is BERT's `create_instances_from_document`: it cuts
a document's sentences into segments and, for next-sentence prediction, pairs
A with its true continuation (label 0, IsNext) or, half the time, with text
from another document (label 1, NotNext); a pair over the token budget
loses tokens from the front or the back of its longer segment, at random
(`truncate_pair`). Prepared shards and the in-memory pipeline both take
their examples from it, so they cut alike.

Example:
    >>> masker = MlmMasker.from_tokenizer(tokenizer, max_predictions=20)
    >>> masked = masker(packed["token_ids"], seed=tf.constant([1, 2]))
    >>> sorted(masked)
    ['mask_ids', 'mask_positions', 'mask_weights', 'token_ids']
"""

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

IS_NEXT = 0
NOT_NEXT = 1


class MlmMasker:
    """Seeded dynamic MLM masking of packed token ids.

    Args:
        vocabulary: the tokens, in id order (`Tokenizer.vocabulary`); used to
            find "##" continuation pieces and the non-special ids.
        special_ids: ids never masked nor drawn as random replacements.
        mask_id: id of [MASK].
        max_predictions: most masked tokens per row; outputs are padded to it.
        selection_rate: share of maskable tokens to predict.
        mask_token_rate: share of predicted tokens replaced by [MASK].
        random_token_rate: share replaced by a random non-special token.
        whole_word: choose whole words (all their pieces together).
    """

    def __init__(
        self,
        vocabulary,
        *,
        special_ids,
        mask_id,
        max_predictions,
        selection_rate=0.15,
        mask_token_rate=0.8,
        random_token_rate=0.1,
        whole_word=False,
    ):
        if max_predictions < 1:
            raise ValueError(f"max_predictions={max_predictions}: expected >= 1")
        if mask_token_rate + random_token_rate > 1:
            raise ValueError(
                f"mask_token_rate={mask_token_rate} + random_token_rate="
                f"{random_token_rate} exceeds 1"
            )
        self.special_ids = [int(i) for i in special_ids]
        self.mask_id = int(mask_id)
        self.max_predictions = int(max_predictions)
        self.selection_rate = float(selection_rate)
        self.mask_token_rate = float(mask_token_rate)
        self.random_token_rate = float(random_token_rate)
        self.whole_word = bool(whole_word)
        special = set(self.special_ids)
        self._is_continuation = tf.constant([t.startswith("##") for t in vocabulary])
        self._replacement_ids = tf.constant(
            [i for i in range(len(vocabulary)) if i not in special], tf.int32
        )

    @classmethod
    def from_tokenizer(cls, tokenizer, max_predictions, **kwargs):
        """A masker using `tokenizer`'s vocabulary and special ids."""
        return cls(
            tokenizer.vocabulary,
            special_ids=tokenizer.special_ids,
            mask_id=tokenizer.mask_id,
            max_predictions=max_predictions,
            **kwargs,
        )

    def __call__(self, token_ids, seed):
        """Masks a batch of packed sequences.

        Args:
            token_ids: int32 [batch, seq_len] packed ids ([PAD] after the end).
            seed: int tensor of shape [2]; the same seed gives the same masks.

        Returns:
            dict: "token_ids" int32 [batch, seq_len] with masks applied;
            "mask_positions", "mask_ids" int32 [batch, max_predictions]
            (padded with 0) and "mask_weights" float32 (1 = real prediction).
        """
        token_ids = tf.convert_to_tensor(token_ids, tf.int32)
        selection_seed, values_seed = tf.unstack(
            tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
        )
        tokens = tf.RaggedTensor.from_tensor(token_ids)
        words = self._group_words(tokens)
        selector = _BudgetedRandomSelector(
            self.special_ids, self.max_predictions, self.selection_rate, selection_seed
        )
        chooser = _SeededMaskValuesChooser(
            self._replacement_ids,
            self.mask_id,
            self.mask_token_rate,
            self.random_token_rate,
            values_seed,
        )
        masked, positions, mask_ids = tf_text.mask_language_model(
            words, selector, chooser, axis=1
        )
        positions = tf.cast(positions, tf.int32)
        return {
            "token_ids": tf.ensure_shape(
                masked.to_tensor(shape=tf.shape(token_ids)), token_ids.shape
            ),
            "mask_positions": positions.to_tensor(shape=[None, self.max_predictions]),
            "mask_ids": mask_ids.to_tensor(shape=[None, self.max_predictions]),
            "mask_weights": tf.cast(
                tf.ones_like(positions).to_tensor(shape=[None, self.max_predictions]),
                tf.float32,
            ),
        }

    def _group_words(self, tokens):
        """[batch, (tokens)] -> [batch, (words), (pieces)]."""
        ids = tokens.flat_values
        starts_word = tf.ones_like(ids, tf.bool)
        if self.whole_word:
            special = tf.reduce_any(ids[:, None] == tf.constant(self.special_ids), axis=1)
            previous_special = tf.concat([[True], special[:-1]], axis=0)
            starts_word = (
                ~tf.gather(self._is_continuation, ids) | special | previous_special
            )
            # Each row starts a word, whatever its first token.
            starts_word = tf.tensor_scatter_nd_update(
                starts_word,
                tf.cast(tokens.row_starts()[:, None], tf.int32),
                tf.ones_like(tokens.row_starts(), tf.bool),
            )
        word_starts = tf.cast(tf.where(starts_word)[:, 0], tf.int64)
        word_lengths = tf.RaggedTensor.from_value_rowids(
            tf.ones_like(word_starts), tf.gather(tokens.value_rowids(), word_starts),
            nrows=tokens.nrows(),
        )
        return tf.RaggedTensor.from_nested_row_splits(
            ids,
            [word_lengths.row_splits, tf.concat([word_starts, [tf.size(ids, tf.int64)]], 0)],
        )


class _BudgetedRandomSelector(tf_text.RandomItemSelector):
    """Random words, up to a token budget per row, from a stateless seed."""

    def __init__(self, unselectable_ids, max_predictions, selection_rate, seed):
        super().__init__(max_predictions, selection_rate, unselectable_ids)
        self._seed = seed

    def get_selection_mask(self, input_ids, axis):
        selectable = self.get_selectable(input_ids, axis).flat_values  # per word
        word_lengths = input_ids.row_lengths(axis=2).flat_values
        word_rows = input_ids.value_rowids()
        maskable_tokens = tf.math.unsorted_segment_sum(
            tf.where(selectable, word_lengths, 0), word_rows, input_ids.nrows()
        )
        budget = tf.minimum(
            tf.cast(self.max_selections_per_batch, tf.int64),
            tf.maximum(
                tf.constant(1, tf.int64),
                tf.cast(
                    tf.round(tf.cast(maskable_tokens, tf.float32) * self.selection_rate),
                    tf.int64,
                ),
            ),
        )
        # Shuffle within rows: sort by row, then by a random key; words that
        # cannot be chosen sort last.
        keys = tf.random.stateless_uniform(tf.shape(word_lengths), self._seed)
        keys = tf.where(selectable, keys, 2.0)
        order = tf.argsort(tf.cast(word_rows, tf.float64) * 4.0 + tf.cast(keys, tf.float64))
        shuffled_lengths = tf.gather(tf.where(selectable, word_lengths, 0), order)
        # BERT's greedy pass: in shuffled order, take each word that still
        # fits the row's budget and skip those that do not.
        shuffled = tf.RaggedTensor.from_row_splits(shuffled_lengths, input_ids.row_splits)

        def take_if_fits(total, lengths):
            return tf.where(total + lengths <= budget, total + lengths, total)

        totals = tf.scan(
            take_if_fits, tf.transpose(shuffled.to_tensor()), initializer=tf.zeros_like(budget)
        )
        previous = tf.concat([tf.zeros_like(totals[:1]), totals[:-1]], axis=0)
        taken = tf.RaggedTensor.from_tensor(
            tf.transpose(totals > previous), lengths=input_ids.row_lengths()
        )
        chosen_shuffled = taken.flat_values & tf.gather(selectable, order)
        chosen = tf.scatter_nd(
            order[:, None], chosen_shuffled, tf.shape(word_lengths, out_type=tf.int32)
        )
        return tf.RaggedTensor.from_row_splits(chosen, input_ids.row_splits)


class _SeededMaskValuesChooser(tf_text.MaskValuesChooser):
    """80/10/10 with a stateless seed and random ids among non-special ones."""

    def __init__(self, replacement_ids, mask_id, mask_token_rate, random_token_rate, seed):
        super().__init__(int(replacement_ids.shape[0]), mask_id, mask_token_rate, random_token_rate)
        self._replacement_ids = replacement_ids
        self._seed = seed

    def get_mask_values(self, masked_lm_ids):
        ids = masked_lm_ids.flat_values
        choice_seed, token_seed = tf.unstack(tf.random.experimental.stateless_split(self._seed, 2))
        draw = tf.random.stateless_uniform(tf.shape(ids), choice_seed)
        random_ids = tf.gather(
            self._replacement_ids,
            tf.random.stateless_uniform(
                tf.shape(ids), token_seed, maxval=self.vocab_size, dtype=tf.int32
            ),
        )
        values = tf.where(draw < self._mask_token_rate, tf.cast(self.mask_token, ids.dtype), ids)
        use_random = (draw >= self._mask_token_rate) & (
            draw < self._mask_token_rate + self.random_token_rate
        )
        values = tf.where(use_random, tf.cast(random_ids, ids.dtype), values)
        return masked_lm_ids.with_flat_values(values)


def pair_token_budget(seq_len, nsp):
    """The tokens A + B may hold in a row of `seq_len`: less [CLS] A [SEP] B
    [SEP]'s three special tokens with NSP, [CLS] A [SEP]'s two without."""
    return seq_len - 3 if nsp else seq_len - 2


def sample_pretraining_pairs(
    document, other_document, *, max_num_tokens, nsp, short_seq_prob, rng
):
    """BERT's create_instances_from_document for one document (NumPy, host).

    Args:
        document: list of 1-D int arrays, the token ids of each sentence.
        other_document: sentences of a different document, where NotNext
            segments B come from (unused when nsp=False).
        max_num_tokens: token budget of A + B (`pair_token_budget`).
        nsp: make A/B pairs with next-sentence labels; otherwise only A.
        short_seq_prob: chance of a shorter random target length.
        rng: `numpy.random.Generator`.

    Returns:
        list of (segment_a, segment_b, label) with int32 arrays of at most
        `max_num_tokens` tokens together (`truncate_pair`); without NSP
        segment_b is empty and label 0.
    """
    target_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_length = int(rng.integers(2, max_num_tokens + 1))
    instances = []
    chunk, chunk_length = [], 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if chunk and (i == len(document) - 1 or chunk_length >= target_length):
            a_end = 1
            if nsp and len(chunk) >= 2:
                a_end = int(rng.integers(1, len(chunk)))
            if not nsp:
                a_end = len(chunk)
            segment_a = _concat(chunk[:a_end])
            segment_b, label = np.zeros([0], np.int32), IS_NEXT
            if nsp:
                if len(chunk) == 1 or (rng.random() < 0.5 and other_document):
                    label = NOT_NEXT
                    target_b_length = max(1, target_length - len(segment_a))
                    start = int(rng.integers(0, len(other_document))) if other_document else 0
                    taken = []
                    for sentence in other_document[start:]:
                        taken.append(sentence)
                        if sum(len(s) for s in taken) >= target_b_length:
                            break
                    segment_b = _concat(taken)
                    # The unused sentences of this chunk start the next one.
                    i -= len(chunk) - a_end
                else:
                    segment_b = _concat(chunk[a_end:])
            segment_a, segment_b = truncate_pair(segment_a, segment_b, max_num_tokens, rng)
            if len(segment_a) and (not nsp or len(segment_b)):
                instances.append((segment_a, segment_b, label))
            chunk, chunk_length = [], 0
        i += 1
    return instances


def truncate_pair(segment_a, segment_b, max_num_tokens, rng):
    """BERT's truncate_seq_pair: trims the longer segment, front or back at random.

    Written by hand: tensorflow-text's trimmers only cut from the back.

    Returns:
        `(segment_a, segment_b)` with at most `max_num_tokens` tokens together.
    """
    front = [0, 0]
    back = [len(segment_a), len(segment_b)]
    while back[0] - front[0] + back[1] - front[1] > max_num_tokens:
        longer = 0 if back[0] - front[0] > back[1] - front[1] else 1
        if rng.random() < 0.5:
            front[longer] += 1
        else:
            back[longer] -= 1
    return segment_a[front[0]:back[0]], segment_b[front[1]:back[1]]


def _concat(sentences):
    if not sentences:
        return np.zeros([0], np.int32)
    return np.concatenate(sentences).astype(np.int32)
