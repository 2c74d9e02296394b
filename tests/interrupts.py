"""A storm of Ctrl-C for the blocking client's tests: SIGINT sent to the main
thread at random moments, raising KeyboardInterrupt only inside the calls
made through :meth:`Storm.call`, so the test's own code (its loops, its
bookkeeping) is never the one interrupted."""

from __future__ import annotations

import gc
import random
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


class Storm:
    """``with Storm(seed) as storm: storm.call(fn, ...)``; main thread only."""

    def __init__(self, seed: int, low: float = 0.0005, high: float = 0.004) -> None:
        self._rng = random.Random(seed)
        self._low, self._high = low, high
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._armed = False
        self._old: Any = None
        main = threading.main_thread().ident
        assert main is not None
        assert threading.current_thread() is threading.main_thread()
        self._main = main
        self.sent = 0

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:
            raise KeyboardInterrupt

    def _send(self) -> None:
        while not self._stop.wait(self._rng.uniform(self._low, self._high)):
            signal.pthread_kill(self._main, signal.SIGINT)
            self.sent += 1

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, open to the storm's interrupts."""
        self._armed = True
        try:
            return fn(*args, **kwargs)
        finally:
            self._armed = False

    def __enter__(self) -> Storm:
        # the garbage collector runs the finalizers of whatever earlier
        # tests left behind, in the middle of anything: not during the storm
        # (an interrupt in a finalizer is only printed, "Exception ignored")
        gc.collect()
        gc.disable()
        self._old = signal.signal(signal.SIGINT, self._on_sigint)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(10)
        # a signal still pending meets the disarmed handler (signal.signal()
        # runs pending handlers before it changes one)
        signal.signal(signal.SIGINT, self._old)
        gc.enable()
