"""Reaching the end of a finite dataset, as Keras 3.15 reports it.

Keras' epoch iterator warns "Your input ran out of data; interrupting
training" whenever a `tf.data` dataset whose length it cannot know in advance
(length-bucketed, packed or windowed batches) reaches its end, also in
`predict` and in validation, where ending there is exactly what should
happen. A user reading that warning after every evaluation would think the
run broken, so the places that run a finite dataset to its end say so.

Example:

>>> with expected_end_of_data():  # doctest: +SKIP
...     logits = model.predict(evaluation_batches, verbose=0)
"""

import contextlib
import warnings


@contextlib.contextmanager
def expected_end_of_data():
    """Within this block, Keras' "ran out of data" warning is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield
