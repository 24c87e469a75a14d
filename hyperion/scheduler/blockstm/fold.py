"""The coordinator's in-order fold of Block-STM's results, started while the workers still run.

Sequential execution is the truth (docs/design.md §15): the fold applies each
transaction's write-set to the block overlay in block order, so that after transaction
``i`` the overlay holds exactly the state sequential execution leaves, and builds the
receipts (cumulative gas, log indexes, bloom) in the same order.

**Folding before the workers finish.**  While the workers run, the fold folds the *settled
prefix*: transaction ``next`` is folded as soon as the record log holds an incarnation of
it whose every recorded read equals the value the overlay (the state after transactions
``0..next-1``, already folded) holds.  That is safe whatever Block-STM does next: a
transaction's execution depends on nothing but the block environment, its own input and
the values it reads, so an incarnation that read exactly the sequential pre-state wrote
exactly the sequential write-set and produced exactly the sequential outcome -- even if
Block-STM later aborts it and runs it again (the re-run must then produce the same, or
Block-STM would not equal sequential execution).  Block-STM's own validation is the same
check against a state that may still change; here the state below ``next`` can no longer
change, because it is the folded prefix itself.  A record that does not match is stale
(a lower transaction was re-executed since); the fold waits for a newer incarnation and
never re-checks a record it rejected.

**The state root starts early too.**  Every ``max(256, n / 8)`` transactions folded early
(``root_every``),
the accounts and slots they wrote go to the block's
:class:`~hyperion.state.trie.stateroot.IncrementalStateRoot` (``job.root``), which updates
the trie with their current values; after the last transaction only what changed since
remains (docs/blockstm.md#where-the-time-goes).

What parallel execution cannot know stays where it was: the block gas and blob gas limits
and a strict block's first invalid transaction are judged when the workers are done
(:meth:`InOrderFold.finish`), so the early fold stops in front of them.
"""
from __future__ import annotations

import logging
import time
from typing import Dict, Optional, Set, Tuple

from hyperion.errors import InvalidTransactionError
from hyperion.scheduler.base import BlockJob
from hyperion.scheduler.blockstm import shared as core
from hyperion.scheduler.blockstm.protocol import (
    COORDINATOR_WRITER,
    ExecutionRecord,
    TxIdx,
    decode_record,
    reads_match,
    record_writer,
)
from hyperion.types import TxStatus

log = logging.getLogger("hyperion.blockstm")


class InOrderFold:
    """Folds one block's records into ``job.overlay`` in order; see the module docstring."""

    def __init__(self, job: BlockJob, scheduler, n: int, root_every: Optional[int] = None) -> None:
        self.job = job
        self.scheduler = scheduler
        self.n = n
        #: the first transaction not folded yet
        self.next = 0
        self.gas_used = 0
        self.blob_gas_used = 0
        self.transactions: list = []
        self.outcomes: list = []
        #: transactions folded while the workers ran, and the seconds that took
        self.early = 0
        self.early_seconds = 0.0
        #: seconds of state-root work done while the workers ran
        self.root_seconds = 0.0
        #: what the transactions folded since the last state-root step wrote
        self._addresses: Set[bytes] = set()
        self._slots: Dict[bytes, Set[int]] = {}
        self._unrooted = 0
        self._root_every = max(256, n // 8) if root_every is None else root_every
        self._position = 0  # byte offset of the first log record not read yet
        self._latest: Dict[TxIdx, ExecutionRecord] = {}
        self._rejected: Tuple[int, int] = (-1, -1)  # (tx, incarnation) whose reads were stale

    def _collect(self) -> None:
        """Read the records published since the last call; keep each transaction's latest."""
        raw_records, self._position = self.scheduler.read_records(self._position, False)
        latest = self._latest
        for raw in raw_records:
            if record_writer(raw) == COORDINATOR_WRITER:
                continue  # the senders this process published itself
            record = decode_record(raw)
            if type(record) is ExecutionRecord:
                tx = record.version.tx_idx
                known = latest.get(tx)
                if known is None or record.version.tx_incarnation > known.version.tx_incarnation:
                    latest[tx] = record

    def advance(self) -> None:
        """While the workers run: fold the settled prefix (module docstring)."""
        started = time.perf_counter()
        self._collect()
        job = self.job
        overlay = job.overlay
        latest = self._latest
        processor = job.processor
        gas_limit = processor.env.gas_limit
        max_blob_gas = processor.max_blob_gas
        folded = self.next
        while self.next < self.n:
            record = latest.get(self.next)
            if record is None or (self.next, record.version.tx_incarnation) == self._rejected:
                break
            outcome = record.outcome
            if (outcome.gas_limit > gas_limit - self.gas_used
                    or outcome.blob_gas_used > max_blob_gas - self.blob_gas_used
                    or (job.strict and outcome.status is TxStatus.INVALID)):
                break  # judged by finish(), once the workers are done
            if not reads_match(record.reads, overlay):
                self._rejected = (self.next, record.version.tx_incarnation)
                break
            self._apply(record)
        self.early += self.next - folded
        self._unrooted += self.next - folded
        if job.root is not None and self._unrooted >= self._root_every:
            root_started = time.perf_counter()
            job.root.advance(overlay, self._addresses, self._slots)
            self.root_seconds += time.perf_counter() - root_started
            self._addresses, self._slots, self._unrooted = set(), {}, 0
        self.early_seconds += time.perf_counter() - started

    def finish(self, normal: bool, check: bool) -> Optional[str]:
        """The workers are done: fold the rest as far as it is usable; -> why it stopped early.

        ``normal``: Block-STM finished without a stop, so its final records equal the
        sequential results; otherwise (and with ``check``) every record's reads are
        compared with the overlay, which keeps the longest prefix that is still exact.
        The caller executes transactions ``next..n-1`` sequentially.
        """
        self._collect()
        scheduler = self.scheduler
        processor = self.job.processor
        gas_limit = processor.env.gas_limit
        verify = check or not normal
        for index in range(self.next, self.n):
            record = self._latest.get(index)
            if record is None:
                return None
            tx, incarnation = record.version.tx_idx, record.version.tx_incarnation
            if normal and scheduler.status(tx) != (incarnation, core.EXECUTED):
                return f"tx {tx}: final incarnation mismatch"
            if verify and not reads_match(record.reads, self.job.overlay):
                if normal:
                    log.error("Block-STM result of tx %d does not match the sequential state", tx)
                    return f"tx {tx}: read-set check failed"
                return None
            outcome = record.outcome
            if outcome.gas_limit > gas_limit - self.gas_used:
                return f"tx {tx} reaches the block gas limit"
            if outcome.blob_gas_used > processor.max_blob_gas - self.blob_gas_used:
                return f"tx {tx} reaches the block blob gas limit"
            if outcome.status is TxStatus.INVALID and self.job.strict:
                raise InvalidTransactionError(tx, outcome.error)
            self._apply(record)
        return None

    def _apply(self, record: ExecutionRecord) -> None:
        """Fold transaction ``next`` (its record is the sequential result) and build its receipt."""
        job = self.job
        index = self.next
        outcome = record.outcome
        if outcome.status is not TxStatus.INVALID:
            writes = record.write_set
            job.overlay.apply(writes)
            addresses = self._addresses
            addresses.update(writes.accounts)
            addresses.update(writes.wiped)
            for address, slots in writes.storage.items():
                touched = self._slots.get(address)
                if touched is None:
                    self._slots[address] = set(slots)
                else:
                    touched.update(slots)
            if writes.coinbase_delta:
                coinbase = job.processor.env.coinbase
                job.overlay.credit(coinbase, writes.coinbase_delta)
                addresses.add(coinbase)
            self.gas_used += outcome.gas_used
            self.blob_gas_used += outcome.blob_gas_used
        prepared = job.light(index)
        self.transactions.append(prepared)
        self.outcomes.append(outcome)
        if job.receipts is not None:
            job.receipts.add(prepared, outcome)
        self.next = index + 1
