"""BERT WordPiece tokenizer as a Keras layer, all in TensorFlow ops.

Runs inside `tf.data` pipelines and serving signatures. Ids are those of
Hugging Face's `BertTokenizerFast` (the `tokenizers` library) built from the
same vocabulary, which follows Google's original `BasicTokenizer` +
`WordpieceTokenizer`:

1. Invalid UTF-8 is decoded with replacement (U+FFFD), which step 2 then
   drops, so `b"ab\\xffcd"` tokenizes as "abcd", exactly like
   `bytes.decode("utf-8", "replace")` followed by BERT.
2. U+0000, U+FFFD and control/format/private-use characters (Unicode Cc, Cf,
   Co, Cs, except tab, newline and carriage return) are removed.
3. lowercase=True only: NFD, combining marks (Mn) removed, then per-character
   Unicode lower-casing. This is not `tensorflow_text`'s `lower_case=True`,
   which case-folds with NFKC and so turns "ﬁ", fullwidth "Ａ" or "½" into
   other characters; BERT keeps them.
4. Words are split on whitespace (tab, newline, CR and Unicode Z*); each
   punctuation character (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode P*)
   and each CJK ideograph becomes a word of its own.
5. WordPiece, greedy longest-match-first with "##" continuation pieces; a
   word longer than 100 characters or one that the vocabulary cannot cover
   becomes a single [UNK].

Known divergences from Google's Python reference (both kept to match the
`tokenizers` library, which is what checkpoints are used with today): a
capital sigma always lower-cases to "σ" (Python's `str.lower` writes a final
"ς"), and private-use characters are dropped rather than kept as [UNK].
Literal "[MASK]" etc. in the text are split as punctuation + word, as in
original BERT (Hugging Face matches them as special tokens instead).

Example:
    >>> tokenizer = Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...                        "the", "cat", "##s", "."])
    >>> tokenizer(["The cats."])
    <tf.RaggedTensor [[5, 6, 7, 8]]>
    >>> tokenizer.tokenize_words(["The cats."])
    <tf.RaggedTensor [[[5], [6, 7], [8]]]>
    >>> tokenizer.detokenize([[5, 6, 7, 8]])
    <tf.Tensor: ... numpy=array([b'the cats .'], dtype=object)>
"""

import os

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_impl.text import vocab as vocab_lib

MAX_WORD_CHARS = 100

# Unicode Cc, Cf, Co, Cs (RE2 has no Cn, and BERT keeps unassigned code
# points) without \t\n\r, which are whitespace; and U+FFFD, BERT's marker of
# undecodable bytes.
DROPPED_CHARS = r"[^\P{C}\t\n\r]|\x{FFFD}"
WHITESPACE = r"[\t\n\r\p{Z}]"
_PUNCTUATION = r"[!-/:-@\[-`{-~\p{P}]"
_CJK = (
    r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
    r"\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}]"
)
OWN_WORD = f"({_PUNCTUATION}|{_CJK})"


def normalize(strings, lowercase=True):
    """BERT's character clean-up, before words are split (rules 1-3 above).

    Works character by character, so normalising each character of a text
    alone and joining the results gives the normalised text; `offsets`
    relies on that to map every piece back to its source characters.

    Args:
        strings: string tensor of any shape.
        lowercase: lower-case and strip accents.

    Returns:
        string tensor of the same shape.
    """
    text = tf.strings.unicode_transcode(
        strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    text = tf.strings.regex_replace(text, DROPPED_CHARS, "")
    if lowercase:
        text = tf_text.normalize_utf8(text, "NFD")
        text = tf.strings.regex_replace(text, r"\p{Mn}", "")
        # tf.strings.lower applies Unicode's final-sigma rule; BERT in the
        # tokenizers library lower-cases each character on its own.
        text = tf.strings.regex_replace(text, "\u03a3", "\u03c3")
        text = tf.strings.lower(text, encoding="utf-8")
    return text


def split_words(strings, lowercase=True):
    """BERT's basic tokenization: normalised words, before WordPiece.

    Padding punctuation and CJK with spaces and splitting on spaces is about
    five times faster than `tensorflow_text.regex_split` with the same result.

    Args:
        strings: 1-D string tensor (a batch of texts).
        lowercase: lower-case and strip accents.

    Returns:
        tf.RaggedTensor of strings, [batch, (words)].
    """
    text = normalize(strings, lowercase=lowercase)
    text = tf.strings.regex_replace(text, OWN_WORD, r" \1 ")
    text = tf.strings.regex_replace(text, WHITESPACE + "+", " ")
    return tf.strings.split(text)


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class Tokenizer(keras.layers.Layer):
    """BERT WordPiece tokenizer layer (see the module docstring for the rules).

    Args:
        vocab_file: path of a `vocab.txt`, or the list of tokens itself.
        lowercase: lower-case and strip accents (uncased checkpoints); False
            for cased ones.
        model_max_length: the sequence length the model using this
            vocabulary was trained at, as in Hugging Face's
            `tokenizer_config.json` (`load_model_dir` sets it); the default
            length of `keras_bert_impl.inference`. The tokenizer itself never
            truncates.
        **kwargs: passed to `keras.layers.Layer`.

    Attributes:
        wordpiece: the `tf_text.FastWordpieceTokenizer` over the vocabulary;
            it takes words already split by `split_words` (no
            pretokenization), as `keras_bert_impl.text.offsets` needs.

    Raises:
        FileNotFoundError: `vocab_file` does not exist.
        ValueError: the vocabulary lacks one of [PAD], [UNK], [CLS], [SEP],
            [MASK], or has empty/duplicate tokens.
    """

    def __init__(self, vocab_file, lowercase=True, model_max_length=None, **kwargs):
        super().__init__(trainable=False, **kwargs)
        if isinstance(vocab_file, (str, bytes, os.PathLike)):
            tokens = vocab_lib.load_vocab(vocab_file)
            where = f"vocabulary file {os.fspath(vocab_file)!r}"
        else:
            tokens = [str(token) for token in vocab_file]
            vocab_lib.check_tokens(tokens, "vocabulary list")
            where = "vocabulary list"
        self._token_ids = {token: i for i, token in enumerate(tokens)}
        missing = [t for t in vocab_lib.SPECIAL_TOKENS if t not in self._token_ids]
        if missing:
            raise ValueError(f"{where} lacks the special tokens {missing}")
        # A tuple, not a list: Keras would wrap a list attribute for tracking.
        self._tokens = tuple(tokens)
        self.lowercase = bool(lowercase)
        self.model_max_length = None if model_max_length is None else int(model_max_length)
        self._id_to_token_table = tf.constant(self._tokens)
        self.wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=list(self._tokens),
            suffix_indicator="##",
            # The 100-character limit is applied per character in
            # tokenize_words; this byte limit only has to let them through.
            max_bytes_per_word=4 * MAX_WORD_CHARS,
            token_out_type=tf.int32,
            unknown_token=vocab_lib.UNK_TOKEN,
            no_pretokenization=True,
        )
        self.built = True

    @property
    def vocabulary(self):
        """The tokens, in id order (a tuple)."""
        return self._tokens

    @property
    def vocab_size(self):
        return len(self._tokens)

    @property
    def pad_id(self):
        return self._token_ids[vocab_lib.PAD_TOKEN]

    @property
    def unk_id(self):
        return self._token_ids[vocab_lib.UNK_TOKEN]

    @property
    def cls_id(self):
        return self._token_ids[vocab_lib.CLS_TOKEN]

    @property
    def sep_id(self):
        return self._token_ids[vocab_lib.SEP_TOKEN]

    @property
    def mask_id(self):
        return self._token_ids[vocab_lib.MASK_TOKEN]

    @property
    def special_ids(self):
        """Ids of [PAD], [UNK], [CLS], [SEP], [MASK] (a tuple, in that order)."""
        return tuple(self._token_ids[t] for t in vocab_lib.SPECIAL_TOKENS)

    def token_to_id(self, token):
        """Python lookup of one token's id; ValueError if not in the vocabulary."""
        try:
            return self._token_ids[token]
        except KeyError:
            raise ValueError(f"token {token!r} is not in the vocabulary") from None

    def id_to_token(self, ids):
        """Tokens of `ids` (any shape, dense or ragged) as a string tensor."""
        if isinstance(ids, tf.RaggedTensor):
            return tf.ragged.map_flat_values(self.id_to_token, ids)
        return tf.gather(self._id_to_token_table, ids)

    def __call__(self, strings):
        """Token ids without [CLS]/[SEP].

        Args:
            strings: texts, shape [batch] (or a single scalar text).

        Returns:
            int32 tf.RaggedTensor [batch, (pieces)] (a dense 1-D tensor for a
            scalar input).
        """
        return self.call(strings)

    def call(self, strings):
        pieces = self.tokenize_words(strings)
        return pieces.merge_dims(-2, -1)

    def tokenize_words(self, strings):
        """Token ids grouped by word, for whole-word masking.

        Args:
            strings: texts, shape [batch] (or a single scalar text).

        Returns:
            int32 tf.RaggedTensor [batch, (words), (pieces)] ([(words),
            (pieces)] for a scalar input).
        """
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        if strings.shape.rank == 0:
            return self.tokenize_words(strings[tf.newaxis])[0]
        if strings.shape.rank != 1:
            raise ValueError(
                f"Tokenizer expects a scalar or 1-D batch of strings, got shape {strings.shape}"
            )
        words = split_words(strings, lowercase=self.lowercase)
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_WORD_CHARS
        # "[UNK]" is in the vocabulary, so WordPiece maps it to unk_id whole.
        words = words.with_flat_values(
            tf.where(too_long, vocab_lib.UNK_TOKEN, words.flat_values)
        )
        return self.wordpiece.tokenize(words)

    def tokenize_with_offsets(self, strings):
        """Token ids with each piece's UTF-8 byte span in the original text.

        See `keras_bert_impl.text.offsets` for the units and the method.

        Args:
            strings: texts, shape [batch] (or a single scalar text).

        Returns:
            dict of tf.RaggedTensor [batch, (pieces)]: "token_ids" (as
            `__call__`), "start", "end" (int64 byte offsets, end exclusive)
            and "word_ids" (int64 index of each piece's word in its text).
        """
        # Imported here: offsets builds on this module's normalisation.
        from keras_bert_impl.text.offsets import tokenize_with_offsets

        return tokenize_with_offsets(self, strings)

    def detokenize(self, ids):
        """Joins token ids back into text; [PAD] ids are skipped.

        Pieces are joined with spaces and "##" continuations glued to the piece
        before, so the result is the normalised text with spaces around
        punctuation (tokenizing it again gives the same ids when there was
        no [UNK]).

        Args:
            ids: int tensor or RaggedTensor [batch, (tokens)], or one sequence
                [tokens].

        Returns:
            string tensor [batch] (a scalar for one sequence).
        """
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
            if ids.shape.rank == 1:
                return self.detokenize(ids[tf.newaxis])[0]
            ids = tf.RaggedTensor.from_tensor(ids)
        ids = tf.ragged.boolean_mask(ids, tf.not_equal(ids, self.pad_id))
        text = tf.strings.reduce_join(self.id_to_token(ids), axis=-1, separator=" ")
        return tf.strings.regex_replace(text, " ##", "")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_file": list(self._tokens),
                "lowercase": self.lowercase,
                "model_max_length": self.model_max_length,
            }
        )
        config.pop("trainable", None)
        return config

