"""Senders recovered ahead of Block-STM's workers, published to them (docs/design.md §15).

Recovering a sender is about a third of a simple transaction's cost on a worker.  The
coordinator hands the block's signed inputs to the same helper process the sequential
scheduler uses (:class:`~hyperion.evm.senders.RecoveryStage`) and, between its polls of the
workers, appends each chunk of senders the helper sent back to the shared record log as one
:class:`~hyperion.scheduler.blockstm.protocol.RecoveredSenders` record.  A worker takes a
published sender when it first decodes a transaction and recovers in place when none has
arrived (it never waits), so the result cannot depend on the helper: a sender recovered
ahead is the same 20 bytes the worker would have recovered, and a signature the helper
could not recover is judged, and worded, by the worker's own path.

Chunks the workers have already passed (every transaction in them handed out for
execution) are neither sent to the helper nor published.
"""
from __future__ import annotations

from typing import Optional

from hyperion.evm.senders import Recovering
from hyperion.scheduler.blockstm import shared as core
from hyperion.scheduler.blockstm.protocol import COORDINATOR_WRITER, RecoveredSenders, encode_record


class SenderPublisher:
    """Passes one block's senders from ``recovering`` to the workers through ``scheduler``'s log.

    Call it from the coordinator's wait loop (one thread: the pure-Python scheduler's lock
    is a ``flock``, which does not exclude threads of one process from each other).
    """

    def __init__(self, recovering: Optional[Recovering], scheduler) -> None:
        self.recovering = recovering
        self.scheduler = scheduler
        #: records appended (the watchdog does not count them as the workers' progress)
        self.records = 0
        #: senders published
        self.published = 0
        self._next_chunk = 0

    def __call__(self) -> None:
        recovering = self.recovering
        if recovering is None:
            return
        scheduler = self.scheduler
        # every transaction below the execution index has been handed to a worker, which
        # decoded it with whatever it had: tell the helper's feeder not to send those
        # (monotonic: a re-execution lowers the index, but that transaction was decoded already)
        passed = recovering.position = max(recovering.position,
                                           min(scheduler.header(core.H_EXECUTION_IDX), len(recovering.senders)))
        arrived = recovering.arrived
        while self._next_chunk < len(arrived):
            start, stop = arrived[self._next_chunk]
            self._next_chunk += 1
            start = max(start, passed)
            if start >= stop:
                continue
            senders = tuple(recovering.senders[start:stop])
            if scheduler.append(encode_record(RecoveredSenders(start, senders), COORDINATOR_WRITER)) < 0:
                self.recovering = None  # the log is full: the block stops and falls back
                return
            self.records += 1
            self.published += sum(1 for sender in senders if sender is not None)
