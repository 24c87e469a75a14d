"""Helpers of the hostile-input and fault tests: a deadline for code that used to hang."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class DeadlineExceeded(BaseException):
    """Not an ``Exception``: the engine's ``except Exception`` (a transaction that makes
    py-evm raise is dropped) must not swallow it and carry on."""


@contextlib.contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Fail (:class:`DeadlineExceeded`) instead of hanging when the block runs past ``seconds``.

    A timer signal interrupts pure-Python loops, which is how the regressions these tests
    guard against used to spin (the main thread only: signals go there).
    """
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        yield
        return

    def expire(signum, frame):
        raise DeadlineExceeded(f"{what} did not finish within {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
