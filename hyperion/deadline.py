"""Stopping an execution whose caller gave up: :class:`Deadline`.

A server's single writer must not stay busy for minutes on a call whose client already
got DEADLINE_EXCEEDED (a 999M-gas loop runs for about five minutes in py-evm).  An
execution given a :class:`Deadline` checks it

- between transactions (:func:`~hyperion.scheduler.sequential.run_sequentially`, and
  :class:`~hyperion.block.BlockExecutor` before and after the scheduler), and
- inside a transaction: py-evm's interpreter loop has no hook, so the block runs with a
  state class whose computation class has JUMP, JUMPI and the CALL / CREATE family
  wrapped by a check.  Code without those opcodes runs straight through its code once
  (at most 24 KiB deployed, 48 KiB of init code since Shanghai; before Shanghai init
  code is bounded only by the batch size), so every long execution passes a check
  often; one opcode or one precompile call is never interrupted.

A check costs one ``time.monotonic()`` and a comparison.  The caller's ``cancelled()``
probe (gRPC's ``not context.is_active()``) is asked at most every ``POLL_SECONDS``.

When the check fails the block is abandoned: :class:`Interrupted`, a ``BaseException``
so that nothing between the opcode and the engine turns it into a failed transaction
(the block processor drops a transaction on any ``Exception`` py-evm raises), unwinds to
the engine, which raises its error (:class:`~hyperion.errors.DeadlineExceededError` or
:class:`~hyperion.errors.ExecutionCancelled`).  Nothing was written by then: execution
only ever writes to the block's overlay, which is dropped with it.

Block-STM's parallel phase runs in worker processes: the coordinator checks the deadline
while it waits for them, stops the block when it passes and kills the workers that do
not stop at once (docs/design.md §15); the transactions it then runs itself with
``run_sequentially`` (or all of a block below its parallel threshold) check it in-process,
with the checking state class.

Without a deadline none of this runs: the plain state class, no check per transaction.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Dict, Optional, Union

from hyperion.errors import DeadlineExceededError, ExecutionCancelled

#: how often (seconds) the ``cancelled()`` probe is asked while executing
POLL_SECONDS = 0.05

#: the opcodes that check: every loop jumps back, every deep execution calls or creates
CHECKED_OPCODES = (
    0x56,  # JUMP
    0x57,  # JUMPI
    0xF0,  # CREATE
    0xF1,  # CALL
    0xF2,  # CALLCODE
    0xF4,  # DELEGATECALL
    0xF5,  # CREATE2
    0xFA,  # STATICCALL
)


class Interrupted(BaseException):
    """Unwinds an execution whose :class:`Deadline` failed (carries the engine's error)."""

    def __init__(self, error: ExecutionCancelled) -> None:
        super().__init__(str(error))
        self.error = error


class Deadline:
    """When an execution must stop: at ``at`` (a ``time.monotonic()`` instant) or when
    ``cancelled()`` returns true, whichever comes first."""

    __slots__ = ("at", "cancelled", "what", "next_poll", "_classes")

    def __init__(self, at: Optional[float] = None, cancelled: Optional[Callable[[], bool]] = None,
                 what: str = "the execution") -> None:
        self.at = math.inf if at is None else float(at)
        self.cancelled = cancelled
        self.what = what
        #: the next instant :meth:`check` does more than compare (the deadline, or the next probe)
        self.next_poll = self.at if cancelled is None else -math.inf
        self._classes: Dict[type, type] = {}

    @classmethod
    def of(cls, deadline: Union[None, float, "Deadline"] = None, cancelled: Optional[Callable[[], bool]] = None,
           what: str = "the execution") -> Optional["Deadline"]:
        """A :class:`Deadline` (``deadline`` itself if it is one), or None when neither
        ``deadline`` nor ``cancelled`` is given."""
        if isinstance(deadline, Deadline):
            if cancelled is not None:
                raise ValueError("pass cancelled to the Deadline, not beside it")
            return deadline
        if deadline is None and cancelled is None:
            return None
        return cls(deadline, cancelled, what)

    def check(self) -> None:
        """Raise :class:`~hyperion.errors.DeadlineExceededError` (or
        :class:`~hyperion.errors.ExecutionCancelled`) if the execution must stop."""
        if time.monotonic() >= self.next_poll:
            self._poll()

    def _poll(self) -> None:
        now = time.monotonic()
        if now >= self.at:
            raise DeadlineExceededError(f"{self.what} was stopped: its deadline passed; nothing was kept")
        if self.cancelled is not None:
            if self.cancelled():
                raise ExecutionCancelled(f"{self.what} was stopped: its caller cancelled it; nothing was kept")
            self.next_poll = min(now + POLL_SECONDS, self.at)

    def interrupt(self) -> None:
        """:meth:`check` from inside py-evm: raises :class:`Interrupted`."""
        try:
            self._poll()
        except ExecutionCancelled as exc:
            raise Interrupted(exc) from None

    def state_class(self, base: type) -> type:
        """``base`` (a py-evm state class) whose computations check this deadline."""
        cls = self._classes.get(base)
        if cls is None:
            cls = self._classes[base] = _checking_state_class(base, self)
        return cls


def _checked(opcode_fn, deadline: Deadline):
    clock = time.monotonic

    def checked(computation) -> None:
        if clock() >= deadline.next_poll:
            deadline.interrupt()
        opcode_fn(computation=computation)

    # py-evm's debug2 trace names the opcode by these
    checked.mnemonic = getattr(opcode_fn, "mnemonic", "")
    checked.__wrapped__ = opcode_fn
    return checked


def _checking_state_class(base: type, deadline: Deadline) -> type:
    computation = base.computation_class
    opcodes = dict(computation.opcodes)
    for code in CHECKED_OPCODES:
        if code in opcodes:
            opcodes[code] = _checked(opcodes[code], deadline)
    # type(x)(...): the precompile-set classes have their own metaclass (they pickle by name)
    checking = type(computation)(f"{computation.__name__}WithDeadline", (computation,), {"opcodes": opcodes})
    return type(base)(f"{base.__name__}WithDeadline", (base,), {"computation_class": checking})
