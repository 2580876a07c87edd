"""SIGTERM/SIGINT during training: finish the step, back up, then stop.

A preempted cloud VM or Colab runtime sends SIGTERM (and SIGKILL a little
later); Ctrl-C sends SIGINT. Inside `StopRequest` the first of these only
sets a flag, which the backup callback reads after each training step: it
writes a backup of that step and raises `TrainingInterrupted`, which the
command line turns into a message and exit status 128 + the signal number
(143 for SIGTERM, 130 for SIGINT), as a shell reports a process the signal
killed. A second signal stops at once, the way the first would have without
the handlers.

Example:

>>> with StopRequest() as stop:  # doctest: +SKIP
...     model.fit(data, callbacks=training_callbacks(out, backup, "float32", stop=stop))
"""

import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingInterrupted(Exception):
    """Training stopped on a signal after writing a backup.

    Attributes:
        signal_number: the signal that asked for the stop.
        exit_status: 128 + signal_number, what the command line exits with.
    """

    def __init__(self, signal_number, message):
        super().__init__(message)
        self.signal_number = signal_number
        self.exit_status = 128 + signal_number


class StopRequest:
    """Context manager that turns the first SIGTERM/SIGINT into a stop request.

    Outside the main thread (where Python cannot install signal handlers)
    it does nothing and `requested` stays False.

    Attributes:
        signal_number: the first signal received, or None.
    """

    def __init__(self, signals=STOP_SIGNALS):
        self._signals = tuple(signals)
        self._previous = {}
        self.signal_number = None

    @property
    def requested(self):
        return self.signal_number is not None

    @property
    def signal_name(self):
        return signal.Signals(self.signal_number).name if self.requested else None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in self._signals:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info):
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()
        return False

    def _handle(self, number, frame):
        if self.requested:
            # Second signal: behave as if the handlers were never installed.
            signal.signal(number, self._previous.get(number, signal.SIG_DFL))
            signal.raise_signal(number)
            return
        self.signal_number = number
        print(
            f"received {signal.Signals(number).name}: finishing the current step and "
            "writing a backup (send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )
