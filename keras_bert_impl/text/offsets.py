"""WordPiece with offsets into the ORIGINAL text, in-graph.

`tokenize_with_offsets(tokenizer, strings)` (also `Tokenizer.tokenize_with_offsets`)
gives the same ids as `Tokenizer` and, for every piece, the span of the input
bytes it came from, so a prediction on pieces (an entity, an answer) can be
cut out of the text the user sent, whatever lower-casing, accent stripping,
CJK splitting or dropped characters happened on the way.

Units: `start` and `end` are UTF-8 BYTE offsets into the input string as
given (invalid bytes included), `end` exclusive; `strings[i][start:end]` on
the bytes is always a whole number of input characters (never half a UTF-8
sequence), and it is never empty. Python users with `str` text convert with
`len(text.encode()[:start].decode())`, or slice the encoded bytes.

How: the input is split into characters with their byte spans
(`tf.strings.unicode_split_with_offsets`, invalid bytes becoming U+FFFD as
in the tokenizer); each character is normalised on its own with the
tokenizer's own `normalize` (one character may become none, as a dropped
control or accent, or several, as "ǅ" or a decomposed Hangul syllable), and
every resulting character keeps its source span. Words are then formed from
these characters exactly as `split_words` forms them, and
`FastWordpieceTokenizer.tokenize_with_offsets` gives each piece's span inside
its normalised word, mapped back through the characters to the source.
`tensorflow_text.normalize_utf8_with_offsets_map` is not enough here: it
tracks NFD alone, while BERT also drops characters, strips marks and
lower-cases (which changes byte lengths, e.g. "Ⱥ" 2 bytes to "ⱥ" 3 bytes).

Known divergence, shared with no real text: NFD's canonical reordering of
combining marks across a character boundary does not happen per character;
in lowercase mode the marks are removed anyway.

Example:
    >>> tokenizer = Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...                        "cafe", "paris", "##s", "."])
    >>> out = tokenizer.tokenize_with_offsets(["Café Pariss."])
    >>> out["token_ids"], out["start"], out["end"], out["word_ids"]
    (<tf.RaggedTensor [[5, 6, 7, 8]]>, <tf.RaggedTensor [[0, 6, 11, 12]]>,
     <tf.RaggedTensor [[5, 11, 12, 13]]>, <tf.RaggedTensor [[0, 1, 1, 2]]>)

"é" is two bytes, so "Café" is bytes 0-5. When one source character becomes
several normalised ones that WordPiece splits apart, each piece gets that
character's whole span.
"""

import tensorflow as tf

from keras_bert_impl.text import tokenizer as tokenizer_lib
from keras_bert_impl.text.vocab import UNK_TOKEN


def tokenize_with_offsets(tokenizer, strings):
    """Token ids of `strings` with each piece's byte span in the input.

    Args:
        tokenizer: a `Tokenizer` (its vocabulary, `lowercase` and WordPiece).
        strings: 1-D string tensor (a batch of texts), or one scalar text.

    Returns:
        dict of tf.RaggedTensor [batch, (pieces)] ([(pieces)] for a scalar):
        "token_ids" int32, the ids `tokenizer(strings)` gives; "start",
        "end" int64 byte offsets into the original input, end exclusive;
        "word_ids" int64, index of the word (as `tokenize_words` groups
        them) of each piece in its text.
    """
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    if strings.shape.rank == 0:
        batch = tokenize_with_offsets(tokenizer, strings[tf.newaxis])
        return {name: value[0] for name, value in batch.items()}
    chars = _normalized_chars(strings, tokenizer.lowercase)
    words = _words(chars, tf.shape(strings, out_type=tf.int64)[0])
    return _pieces(tokenizer, chars, words)


def _normalized_chars(strings, lowercase):
    """Flat normalised characters of the batch, each with its source span and row."""
    chars, starts = tf.strings.unicode_split_with_offsets(
        strings, "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    # A character ends where the next one starts, the last where its text ends.
    lengths = tf.cast(tf.strings.length(strings), tf.int64)
    bounds = tf.concat([starts, tf.RaggedTensor.from_tensor(lengths[:, tf.newaxis])], axis=1)
    ends = bounds[:, 1:].flat_values
    normalized = tf.strings.unicode_split(
        tokenizer_lib.normalize(chars.flat_values, lowercase=lowercase), "UTF-8"
    )
    source = normalized.value_rowids()
    return {
        "char": normalized.flat_values,
        "start": tf.gather(starts.flat_values, source),
        "end": tf.gather(ends, source),
        "row": tf.gather(chars.value_rowids(), source),
    }


def _words(chars, batch_size):
    """Groups the characters into words exactly as `split_words` does."""
    char = chars["char"]
    space = tf.strings.regex_full_match(char, tokenizer_lib.WHITESPACE)
    own_word = tf.strings.regex_full_match(char, tokenizer_lib.OWN_WORD)
    row = chars["row"]
    first_in_row = tf.concat([[True], row[1:] != row[:-1]], axis=0)[: tf.size(row)]
    after_break = tf.concat([[True], (space | own_word)[:-1]], axis=0)[: tf.size(row)]
    starts_word = ~space & (first_in_row | after_break | own_word)
    kept = ~space
    word_index = tf.boolean_mask(tf.cumsum(tf.cast(starts_word, tf.int64)) - 1, kept)
    num_words = tf.reduce_sum(tf.cast(starts_word, tf.int64))
    kept_chars = tf.boolean_mask(char, kept)
    text = tf.strings.unsorted_segment_join(kept_chars, word_index, num_words)
    too_long = (
        tf.math.unsorted_segment_sum(tf.ones_like(word_index), word_index, num_words)
        > tokenizer_lib.MAX_WORD_CHARS
    )
    word_rows = tf.boolean_mask(row, starts_word)
    return {
        # "[UNK]" is in the vocabulary, so WordPiece maps it to unk_id whole.
        "text": tf.RaggedTensor.from_value_rowids(
            tf.where(too_long, UNK_TOKEN, text), word_rows, nrows=batch_size
        ),
        "too_long": too_long,
        "start": tf.math.unsorted_segment_min(tf.boolean_mask(chars["start"], kept), word_index, num_words),
        "end": tf.math.unsorted_segment_max(tf.boolean_mask(chars["end"], kept), word_index, num_words),
        "char_end": tf.boolean_mask(chars["end"], kept),
        "char_start": tf.boolean_mask(chars["start"], kept),
        # Byte position of each kept character in the words laid end to end.
        "char_position": tf.cumsum(tf.cast(tf.strings.length(kept_chars), tf.int64), exclusive=True),
        "position": tf.cumsum(tf.cast(tf.strings.length(text), tf.int64), exclusive=True),
    }


def _pieces(tokenizer, chars, words):
    """WordPiece on the words, with piece spans mapped back to the source."""
    ids, piece_starts, piece_ends = tokenizer.wordpiece.tokenize_with_offsets(words["text"])
    # [batch, words, pieces] -> flat pieces, each knowing its global word.
    word_of_piece = ids.values.value_rowids()
    position = tf.gather(words["position"], word_of_piece)
    first_char = _char_at(words["char_position"], position + piece_starts.flat_values)
    last_char = _char_at(words["char_position"], position + piece_ends.flat_values - 1)
    too_long = tf.gather(words["too_long"], word_of_piece)
    start = tf.where(
        too_long, tf.gather(words["start"], word_of_piece), tf.gather(words["char_start"], first_char)
    )
    end = tf.where(too_long, tf.gather(words["end"], word_of_piece), tf.gather(words["char_end"], last_char))
    row_of_piece = tf.gather(ids.value_rowids(), word_of_piece)
    word_in_row = word_of_piece - tf.gather(ids.row_splits, row_of_piece)
    splits = tf.gather(ids.values.row_splits, ids.row_splits)
    return {
        name: tf.RaggedTensor.from_row_splits(values, splits)
        for name, values in (
            ("token_ids", ids.flat_values),
            ("start", start),
            ("end", end),
            ("word_ids", word_in_row),
        )
    }


def _char_at(char_positions, byte_positions):
    """Index of the character holding each byte position (positions sorted)."""
    found = tf.searchsorted(char_positions, byte_positions, side="right") - 1
    return tf.maximum(found, 0)
