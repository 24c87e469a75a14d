"""What the service knows about the call it is serving: its deadline and liveness."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from hyperion.deadline import Deadline


@dataclass
class StreamState:
    """One ExecuteStream: the execution its next ``parent_is_previous`` request names."""

    previous_id: Optional[int] = None


@dataclass
class CallContext:
    """Deadline and liveness of the call being served."""

    deadline: float  #: time.monotonic()
    is_active: Callable[[], bool] = lambda: True
    method: str = ""

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def stop(self, what: str) -> Deadline:
        """The engine's :class:`~hyperion.deadline.Deadline` for this call: an execution
        stops when the deadline passes or the client goes away (nobody waits for it)."""
        is_active = self.is_active
        return Deadline(self.deadline, lambda: not is_active(), what)
