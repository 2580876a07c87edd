"""WordPiece vocabularies: read, write and learn `vocab.txt` files.

A vocabulary file has one token per line; a token's id is its line number.
Continuation pieces start with "##". Vocabularies learned here put the special
tokens first ([PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4); vocabularies from
Google or Hugging Face have them elsewhere, so code always looks them up.

Example:
    >>> from keras_bert_impl.text import learn_vocab, load_vocab
    >>> tokens = learn_vocab(["the cat sat.", "the dog ran."], vocab_size=60,
    ...                      output_path="/tmp/vocab.txt")
    >>> tokens[:5]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    >>> load_vocab("/tmp/vocab.txt") == tokens
    True
"""

import os
import time

import tensorflow as tf

from keras_bert_impl.io_utils import write_text_atomically

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)


def load_vocab(path):
    """Reads a vocabulary file: one token per line, id = line number.

    Trailing whitespace (including "\\r") is dropped from each line, as BERT
    and Hugging Face tokenizers do.

    Args:
        path: path of a UTF-8 `vocab.txt`.

    Returns:
        list of tokens.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: an empty line inside the file or a duplicated token.
    """
    path = os.fspath(path)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"vocabulary file {path!r} does not exist")
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValueError(
            f"vocabulary file {path!r}: line {line}: byte {data[e.start]:#04x} is not "
            "valid UTF-8; expected a UTF-8 file with one token per line"
        ) from None
    tokens = [line.rstrip() for line in lines]
    # A final newline leaves one empty string behind; blank lines at the end
    # of a file are harmless, blank lines inside would shift every id after.
    while tokens and not tokens[-1]:
        tokens.pop()
    check_tokens(tokens, f"vocabulary file {path!r}")
    return tokens


def save_vocab(tokens, path):
    """Writes `tokens` one per line, atomically (temp file, then rename).

    Args:
        tokens: sequence of strings, the id of each is its index.
        path: destination file; its folder is created if missing.

    Raises:
        ValueError: an empty, multi-line or duplicated token.
    """
    tokens = list(tokens)
    check_tokens(tokens, "tokens to save")
    for token in tokens:
        if "\n" in token or token != token.rstrip():
            raise ValueError(
                f"token {token!r} cannot be written to {path!r}: a vocabulary "
                "token must not contain a newline or end in whitespace"
            )
    write_text_atomically(os.fspath(path), "".join(token + "\n" for token in tokens))


def check_tokens(tokens, where):
    """Checks a vocabulary: one non-empty token per line, each once.

    Args:
        tokens: the tokens in id order.
        where: the file or object they come from, for the error message.

    Raises:
        ValueError: a token is empty or repeats, naming its line.
    """
    first_line = {}
    for line, token in enumerate(tokens, start=1):
        if not token:
            raise ValueError(f"{where}: line {line} is empty; expected one token per line")
        if token in first_line:
            raise ValueError(
                f"{where}: token {token!r} on line {line} repeats line "
                f"{first_line[token]}; expected each token once"
            )
        first_line[token] = line


def learn_vocab(
    texts_or_files,
    vocab_size,
    lowercase=True,
    output_path=None,
    *,
    reserved_tokens=SPECIAL_TOKENS,
    min_word_count=2,
    max_piece_length=50,
    max_unique_chars=1000,
    progress=None,
):
    """Learns a WordPiece vocabulary from raw text.

    Words are split exactly as `Tokenizer` splits them (BERT normalisation), so
    the vocabulary fits the tokenizer; pieces are then learned with
    `tensorflow_text`'s WordPiece learner (the one behind
    `bert_vocab_from_dataset`).

    Args:
        texts_or_files: a `tf.data.Dataset` of strings (scalar or 1-D
            elements), a list of strings, or a list of paths of UTF-8 text
            files (read line by line). Paths are told apart from texts by
            `os.PathLike` or by existing on disk.
        vocab_size: the largest vocabulary wanted (the learner may return
            fewer tokens when the corpus is small).
        lowercase: lower-case and strip accents, as `Tokenizer(lowercase=...)`.
        output_path: if given, the vocabulary is also written there atomically.
        reserved_tokens: tokens placed first, in this order.
        min_word_count: words seen fewer times are ignored by the learner
            (their characters still get tokens).
        max_piece_length: longest piece, in characters.
        max_unique_chars: most single characters kept.
        progress: a function called with a line of progress now and then
            (e.g. `print`); None for silence.

    Returns:
        the vocabulary as a list of tokens, `reserved_tokens` first.

    Raises:
        ValueError: vocab_size too small for the reserved tokens.
        FileNotFoundError: a path given as `os.PathLike` does not exist.
    """
    from tensorflow_text.tools.wordpiece_vocab import (
        wordpiece_tokenizer_learner_lib as learner,
    )

    reserved_tokens = list(reserved_tokens)
    if vocab_size <= len(reserved_tokens):
        raise ValueError(
            f"vocab_size={vocab_size} must exceed the {len(reserved_tokens)} "
            "reserved tokens"
        )
    word_counts = _count_words(_as_text_dataset(texts_or_files), lowercase, progress or _silent)
    (progress or _silent)(f"learning word pieces from {len(word_counts)} distinct words")
    vocab = learner.learn(
        word_counts,
        vocab_size,
        reserved_tokens,
        lower_thresh=min_word_count,
        max_token_length=max_piece_length,
        max_unique_chars=max_unique_chars,
    )
    if output_path is not None:
        save_vocab(vocab, output_path)
    return vocab


_TEXTS_PER_BATCH = 256
_PROGRESS_SECONDS = 5.0


def _silent(_):
    pass


def _count_words(texts, lowercase, progress):
    """`collections.Counter` of the words of a dataset of texts, split as `Tokenizer` does."""
    # Imported here: the tokenizer module imports this one for load_vocab.
    from keras_bert_impl.text.tokenizer import split_words
    from tensorflow_text.tools.wordpiece_vocab import (
        wordpiece_tokenizer_learner_lib as learner,
    )

    words = texts.batch(_TEXTS_PER_BATCH).map(
        lambda batch: split_words(batch, lowercase=lowercase).flat_values
    )
    try:
        return learner.count_words(_reporting(words, progress))
    except StopIteration:  # the learner's way of finding no words at all
        raise ValueError(
            "no words to learn a vocabulary from: the text is empty or blank"
        ) from None


def _reporting(word_batches, progress):
    """Yields the batches, telling `progress` how far it got every few seconds."""
    start = last = time.monotonic()
    for batches, batch in enumerate(word_batches, start=1):
        yield batch
        now = time.monotonic()
        if now - last >= _PROGRESS_SECONDS:
            texts = batches * _TEXTS_PER_BATCH
            progress(f"  counted the words of about {texts} texts ({now - start:.0f} s)")
            last = now


def _as_text_dataset(texts_or_files):
    if isinstance(texts_or_files, tf.data.Dataset):
        return texts_or_files.unbatch() if texts_or_files.element_spec.shape.rank else texts_or_files
    if isinstance(texts_or_files, (str, bytes, os.PathLike)):
        texts_or_files = [texts_or_files]
    items = list(texts_or_files)
    paths = [
        os.fspath(item)
        for item in items
        if isinstance(item, os.PathLike) or (isinstance(item, str) and "\n" not in item and os.path.isfile(item))
    ]
    if not paths:
        return tf.data.Dataset.from_tensor_slices(tf.constant(items, tf.string))
    if len(paths) != len(items):
        raise ValueError(
            "texts_or_files mixes file paths and texts; expected only paths or only texts"
        )
    for path in paths:
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"text file {path!r} does not exist")
    return tf.data.TextLineDataset(paths)
