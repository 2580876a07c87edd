"""`saved_model_cli` that can run graphs using tensorflow-text ops.

The stock `saved_model_cli run` fails on this package's exports with "Op type
not registered 'NormalizeUTF8'" because it never imports tensorflow_text,
which registers that op and the WordPiece ones. This wrapper imports it, then
hands the command line to saved_model_cli unchanged.

Example:

    python tools/saved_model_cli_tf_text.py show --dir saved_models/cls/1 --all
    python tools/saved_model_cli_tf_text.py run --dir saved_models/cls/1 \\
        --tag_set serve --signature_def serving_default \\
        --input_exprs 'text=["a great film"]'
"""

import tensorflow_text  # noqa: F401  (registers the tokenizer's ops)
from tensorflow.python.tools import saved_model_cli

if __name__ == "__main__":
    saved_model_cli.main()
