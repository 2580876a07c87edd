"""Progress within epochs for logs: Keras' bar on a terminal, periodic lines elsewhere.

Keras' `verbose=2` (its choice when stdout is not a terminal) prints one line
per epoch, so a long epoch in a log or CI shows nothing for minutes. This
callback adds a line every `seconds` with the step, the loss and the speed.

Example:

>>> model.fit(data, epochs=3, verbose=2, callbacks=[PeriodicProgress(30)])  # doctest: +SKIP
  epoch 1 step 120/400: loss 5.9021, 4.1 steps/s
"""

import time

import keras


class PeriodicProgress(keras.callbacks.Callback):
    """Prints `epoch E step S/T: loss L, R steps/s` every `seconds` of training.

    Args:
        seconds: the least time between two lines.
    """

    def __init__(self, seconds=30.0):
        super().__init__()
        self.seconds = seconds

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1
        self._start = self._last = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if now - self._last < self.seconds:
            return
        self._last = now
        steps = self.params.get("steps")
        step = f"{batch + 1}/{steps}" if steps else f"{batch + 1}"
        loss = (logs or {}).get("loss")
        loss_text = f"loss {float(loss):.4f}, " if loss is not None else ""
        rate = (batch + 1) / (now - self._start)
        print(f"  epoch {self._epoch} step {step}: {loss_text}{rate:.1f} steps/s", flush=True)
