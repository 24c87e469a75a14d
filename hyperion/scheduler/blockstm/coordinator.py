"""The parallel scheduler: Block-STM on worker processes (``scheduler="blockstm"``).

The coordinator (the engine's process) does not take part in the Block-STM loop.  Per block
it resets the shared scheduler (``hyperion.scheduler.blockstm.shared``), sends every worker the inputs
once, hands their signed bytes to a sender-recovery helper whose answers it publishes to the
workers (``hyperion.scheduler.blockstm.publish``), and waits.  What it sends and receives, and the records it folds, are the typed
messages and records of ``hyperion.scheduler.blockstm.protocol``.  Workers pull execution and validation tasks from the shared counters,
execute on a local multi-version-memory replica fed by the shared record log, and stop
when the scheduler is done.  Meanwhile the coordinator folds the write-set of each
transaction into the block overlay *in order*, as far as the prefix is settled, and
builds its receipt (``hyperion.scheduler.blockstm.fold``); once the workers are done it
folds the rest, re-checking what Block-STM cannot know in parallel (the block gas limit,
which depends on the gas earlier transactions used).

Whenever the parallel result cannot be used as is -- a worker died or raised, the log or
dependency arena filled up, contention made parallelism pointless, a transaction would
exceed the block gas limit -- the coordinator keeps the longest prefix whose recorded
reads equal the sequential state and executes the rest sequentially.  The block is always
finished correctly, and ``ExecutionStats.fallback`` says what happened.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
import weakref
from multiprocessing import connection, shared_memory
from typing import Callable, Dict, List, Optional

from hyperion.evm.senders import Recovering, RecoveryStage
from hyperion.scheduler.blockstm import shared as core
from hyperion.scheduler.blockstm.fold import InOrderFold
from hyperion.scheduler.blockstm.publish import SenderPublisher
from hyperion.scheduler import default_workers
from hyperion.scheduler.base import BatchOutcome, BlockJob
from hyperion.scheduler.sequential import run_sequentially
from hyperion.scheduler.blockstm.pool import (
    WATCHDOG_GAS_PER_SECOND,
    WATCHDOG_SLACK_SECONDS,
    BlockWatch,
    Worker,
    WorkerPool,
    new_segment_name,
    remove_stale,
)
from hyperion.scheduler.blockstm.protocol import (
    BlockTask,
    Done,
    Failed,
    MAX_WRITERS,
    LmdbBase,
    MemoryBase,
    StoreBase,
    decode_message,
    encode_block_messages,
)
from hyperion.types import ExecutionStats

log = logging.getLogger("hyperion.blockstm")

#: below this many transactions a block runs sequentially: the smallest block at which 2
#: workers beat the sequential engine in every round on ETH transfers, the cheapest
#: transactions (measured with ``hyperion bench parallel``; docs/blockstm.md, "Small blocks").
#: The engine option ``scheduler_options={"min_txs": N}`` overrides it.
DEFAULT_MIN_TXS = 32
#: share of useful work a worker keeps after Block-STM's own overhead (measured, ~0.85)
PARALLEL_EFFICIENCY = 0.85
#: incarnations to observe before judging contention
DEFAULT_CONTENTION_PROBE = 64


def break_even_abort_ratio(workers: int) -> float:
    """Abort share above which W workers are slower than one: W * (1 - r) * eff < 1.

    With 2 workers that is r > 0.41; a block where every transaction writes one hot slot
    settles near r = 0.5 (each transaction runs about twice).
    """
    if workers <= 1:
        return 1.0  # one worker never aborts anything; nothing to judge
    return max(0.0, 1.0 - 1.0 / (workers * PARALLEL_EFFICIENCY))


class ParallelScheduler:
    """Block-STM over ``workers`` processes; see the module docstring."""

    name = "blockstm"

    def __init__(
        self,
        workers: int = 2,
        *,
        capacity: int = 1 << 16,
        log_bytes: int = 1 << 28,
        min_txs: int = DEFAULT_MIN_TXS,
        abort_ratio: Optional[float] = None,
        contention_probe: int = DEFAULT_CONTENTION_PROBE,
        check: Optional[bool] = None,
        watchdog_slack: float = WATCHDOG_SLACK_SECONDS,
        watchdog_gas_per_second: int = WATCHDOG_GAS_PER_SECOND,
        start_timeout: float = 120.0,
        root_every: Optional[int] = None,
        recover_ahead: Optional[bool] = None,
    ) -> None:
        if not 1 <= workers <= MAX_WRITERS:
            raise ValueError(f"workers must be between 1 and {MAX_WRITERS}")
        self.workers = workers
        self.capacity = capacity
        self.dep_capacity = 8 * capacity
        self.log_bytes = log_bytes
        self.min_txs = min_txs
        self.abort_ratio = break_even_abort_ratio(workers) if abort_ratio is None else abort_ratio
        self.contention_probe = contention_probe
        #: re-validate every folded transaction against the sequential state (tests)
        self.check = bool(int(os.environ.get("HYPERION_BLOCKSTM_CHECK", "0"))) if check is None else check
        #: early state-root step every this many transactions folded (None: max(256, n / 8))
        self.root_every = root_every
        #: recover senders in a helper process and publish them to the workers (publish.py);
        #: by default only where a core is left for the helper (docs/design.md §15: on cores
        #: the workers already fill it moves the work without removing it, measured slower)
        self.recover_ahead = workers < default_workers() if recover_ahead is None else recover_ahead
        self._recovery = RecoveryStage()
        #: the watchdog's bound: ``slack`` + (gas limit still running) / ``gas_per_second``
        self.watchdog_slack = watchdog_slack
        self.watchdog_gas_per_second = watchdog_gas_per_second
        self.start_timeout = start_timeout
        self._store = None
        self._segment: Optional[shared_memory.SharedMemory] = None
        self._scheduler = None
        self.pool: Optional[WorkerPool] = None
        self._lock_path: Optional[str] = None
        self._seq = 0
        #: worker pid -> the in-memory store version it holds
        self._memory_sent: Dict[int, str] = {}
        self.startup_seconds = 0.0
        #: blocks the workers finished without any fallback (``stats.fallback`` None); a block
        #: that fell back, before or after the workers started, is not counted
        self.parallel_blocks = 0
        #: tests only, one shot, for the next block: ``{"exit_at_tx": i}`` makes the worker
        #: that executes tx ``i`` exit abruptly; with ``"holding": "lock"`` (or ``"record"``)
        #: it first takes that transaction's scheduler lock (or half-writes a record);
        #: ``"replacement": "start"`` (or ``"warm-up"``) makes the worker started in its
        #: place exit too, while starting (or warming up); ``"spawn": [...]`` (before the
        #: pool starts) makes the first workers started take those faults, in order
        self.fault_injection: Optional[dict] = None
        self._finalizer = None

    # -- lifecycle (the processes themselves: hyperion.scheduler.blockstm.pool) ------------
    def attach(self, store) -> None:
        self._store = store

    @property
    def _workers(self) -> List[Worker]:
        """The workers that are up."""
        return self.pool.workers if self.pool is not None else []

    def start(self) -> None:
        """Create the shared segment and start the workers (idempotent)."""
        if self.pool is not None:
            return
        started = time.perf_counter()
        remove_stale()
        size = core.segment_size(self.capacity, self.dep_capacity, self.log_bytes)
        name = new_segment_name()
        self._segment = shared_memory.SharedMemory(name=name, create=True, size=size)
        self._lock_path = os.path.join(tempfile.gettempdir(), name + ".lock")
        os.close(os.open(self._lock_path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        self._scheduler = core.SharedScheduler(
            self._segment.buf, self.capacity, self.dep_capacity, self.log_bytes, self._lock_path
        )
        self._scheduler.reset(0, 0)
        self.pool = WorkerPool(self.workers, (self._segment.name, str(self.capacity), str(self.dep_capacity),
                                              str(self.log_bytes), self._lock_path), self.start_timeout)
        if self.fault_injection and "spawn" in self.fault_injection:  # tests: the first workers fail
            self.pool.spawn_faults = list(self.fault_injection.pop("spawn"))
        # also at interpreter exit without close(): views released before the segment closes
        self._finalizer = weakref.finalize(self, _release, self.pool, self._scheduler, self._segment,
                                           self._lock_path)
        for problem in self.pool.ensure():
            log.warning("Block-STM start: %s", problem)
        self.startup_seconds = time.perf_counter() - started
        log.info("started %d Block-STM workers in %.2fs", len(self._workers), self.startup_seconds)

    def warm_up(self, fork_names_and_precompiles) -> None:
        """Build fork state classes (and compile precompile kernels) in every worker."""
        self.start()
        for problem in self.pool.warm_up(list(fork_names_and_precompiles)):
            log.warning("Block-STM warm-up: %s", problem)

    def close(self) -> None:
        self._recovery.close()
        if self._finalizer is not None:
            self._finalizer()
        self.pool = None
        self._scheduler = None
        self._segment = None

    @property
    def _restarts(self) -> int:
        return self.pool.restarts if self.pool is not None else 0

    # -- execution --------------------------------------------------------------------
    def _fallback_reason(self, job: BlockJob, n: int) -> Optional[str]:
        if n < self.min_txs:
            return f"{n} transactions: below the parallel threshold of {self.min_txs} (option min_txs)"
        if job.intermediate_root is not None:
            return "pre-Byzantium receipts need the state root after every transaction"
        if n > self.capacity:
            return f"{n} transactions exceed the parallel capacity of {self.capacity}"
        if self._store is None:
            return "no store attached"
        return None

    def run(self, job: BlockJob) -> BatchOutcome:
        started = time.perf_counter()
        n = len(job.inputs)
        reason = self._fallback_reason(job, n)
        if reason is not None:
            return self._sequential(job, started, reason)
        self.start()
        restarts_before = self._restarts
        # a worker that died since the last block is replaced, a replacement waited for
        healed = self.pool.ensure()
        workers = self._workers
        if not workers:
            return self._sequential(job, started, "; ".join(healed))
        self._seq += 1
        scheduler = self._scheduler
        scheduler.reset(n, self._seq)
        # the helper starts recovering first: the workers still have to unpickle the block
        recovering = self._recovery.submit(job.inputs) if self.recover_ahead else None
        try:
            # the task is pickled once for all workers; only the base differs per worker
            wires = encode_block_messages(self._block_task(job), [self._base_for(worker) for worker in workers])
            for worker, wire in zip(workers, wires):
                self.pool.send(worker, wire)  # one that is gone shows up in _wait as a death
            return self._run_block(job, n, started, restarts_before, healed, recovering)
        except BaseException:
            self._recovery.close()  # a block cut short leaves answers in flight: drop the helper
            raise
        finally:
            if recovering is not None:
                recovering.finish()

    def _run_block(self, job: BlockJob, n: int, started: float, restarts_before: int, healed: List[str],
                   recovering: Optional[Recovering]) -> BatchOutcome:
        """The block from the moment the workers have it: wait, fold, finish what they could not."""
        scheduler = self._scheduler
        # the fold starts on the settled prefix while the workers run (fold.py)
        fold = InOrderFold(job, scheduler, n, self.root_every)
        publish = SenderPublisher(recovering, scheduler)
        watch = self._watch(job, n)
        watch.own_records = lambda: publish.records

        def while_waiting() -> None:
            publish()
            fold.advance()

        problems = self._wait(n, watch, while_waiting)
        finished_at = time.perf_counter()
        parallel_seconds = finished_at - started
        # any worker that died or stayed silent is replaced; it starts while the block folds
        self.pool.replace(problems["replace"])
        if problems["error"] is not None:
            raise problems["error"]

        fold_started = time.perf_counter()
        normal = bool(scheduler.header(core.H_DONE)) and not problems["reasons"]
        stop_reason = fold.finish(normal, self.check)
        fold_seconds = time.perf_counter() - fold_started
        accepted, transactions, outcomes = fold.next, fold.transactions, fold.outcomes
        if recovering is not None and accepted == n:
            recovering.finish()  # nothing left to recover for: the helper stops now
        reasons = list(problems["reasons"])
        if stop_reason:
            reasons.append(stop_reason)
        if accepted < n:
            run_sequentially(job, accepted, transactions, outcomes, [], fold.gas_used, fold.blob_gas_used,
                             recovering)
            reasons.append(f"transactions {accepted}..{n - 1} executed sequentially")
        if not reasons:  # the workers finished the whole block: only such a block counts as parallel
            self.parallel_blocks += 1
        stats = ExecutionStats(
            scheduler=self.name,
            workers=self.workers,
            fallback="; ".join(reasons) or None,
            incarnations=scheduler.header(core.H_INCARNATIONS),
            aborts=scheduler.header(core.H_VALIDATION_ABORTS),
            validations=scheduler.header(core.H_VALIDATIONS),
            dependency_waits=scheduler.header(core.H_DEPENDENCY_WAITS),
            worker_restarts=self._restarts - restarts_before,
            execution_seconds=time.perf_counter() - started,
            validation_seconds=scheduler.header(core.H_VALIDATE_NS) / 1e9,
            extra={
                "parallel_seconds": parallel_seconds,
                # the fold: of the settled prefix while the workers ran, then of the rest
                "overlap_fold_seconds": fold.early_seconds,
                "overlap_folded_txs": fold.early,
                "overlap_root_seconds": fold.root_seconds,
                "fold_seconds": fold.early_seconds + fold_seconds,
                "tail_fold_seconds": fold_seconds,
                "worker_execution_seconds": scheduler.header(core.H_EXEC_NS) / 1e9,
                "incarnations_per_tx": scheduler.header(core.H_INCARNATIONS) / n,
                "parallel_prefix": accepted,
                # senders the recovery helper found ahead and the coordinator published
                "senders_published": publish.published,
                # workers found dead (and replaced) before this block; the log says which and why
                "pool_repairs": len(healed),
                **{f"worker_{key}": value for key, value in problems["worker_seconds"].items()
                   if key != "seconds"},
            },
        )
        return BatchOutcome(transactions=transactions, outcomes=outcomes, stats=stats, finished_at=finished_at)

    def _sequential(self, job: BlockJob, started: float, reason: str) -> BatchOutcome:
        transactions: list = []
        outcomes: list = []
        roots: list = []
        run_sequentially(job, 0, transactions, outcomes, roots)
        stats = ExecutionStats(scheduler=self.name, workers=self.workers, fallback=reason,
                               incarnations=len(outcomes), execution_seconds=time.perf_counter() - started)
        return BatchOutcome(transactions=transactions, outcomes=outcomes, stats=stats, intermediate_roots=roots)

    def _block_task(self, job: BlockJob) -> BlockTask:
        processor = job.processor
        return BlockTask(
            seq=self._seq,
            fork=processor.fork.name,
            chain_id=processor.chain_id,
            env=processor.env,
            precompiles=tuple(job.precompiles),
            ancestors=dict(job.ancestor_hashes),
            inputs=list(job.inputs),
            head_root=job.head_root,
            # pending parents, then the pre-block system calls already in the overlay
            layers=list(job.layers) + [job.overlay.to_diff()],
            fault=self._take_fault(),
        )

    def _take_fault(self) -> Optional[dict]:
        fault, self.fault_injection = self.fault_injection, None
        if fault and "replacement" in fault:
            self.pool.spawn_faults.append(fault["replacement"])
        return fault

    def _base_for(self, worker: Worker) -> StoreBase:
        store = self._store
        if not store.is_memory:
            return LmdbBase(store.path)
        # store and generation: a scheduler shared by several engines serves several stores
        version = f"{store.instance}:{store.generation}"
        if self._memory_sent.get(worker.process.pid) == version:
            return MemoryBase(version)
        self._memory_sent[worker.process.pid] = version
        return MemoryBase(version, store.backend.export())

    def _watch(self, job: BlockJob, n: int) -> BlockWatch:
        return BlockWatch(self._scheduler, lambda tx: job.prepare(tx).gas, n,
                          job.deadline, gas_per_second=self.watchdog_gas_per_second, slack=self.watchdog_slack)

    def _wait(self, n: int, watch: BlockWatch, while_waiting: Callable[[], None]) -> dict:
        """Wait for every worker to report; stop the block early on failure, contention, a
        stall (the watchdog) or the caller's deadline.

        ``while_waiting`` runs between polls (the early fold): the coordinator's own work
        overlaps the workers'.  Should it raise, the block is stopped, the workers are
        waited for as usual and the error is returned (``"error"``) for the caller to raise
        once the pool is whole again."""
        scheduler = self._scheduler
        waiting = {worker.index: worker for worker in self._workers}
        reasons: List[str] = []
        replace = set()
        #: summed over the workers: setup, decoding + sender recovery, replica sync, idle
        worker_seconds: Dict[str, float] = {}
        stop_deadline = None
        error: Optional[BaseException] = None
        while waiting:
            if error is None:
                try:
                    while_waiting()
                except BaseException as exc:
                    error = exc
                    scheduler.set_flag(core.H_STOP, 1)
            ready = connection.wait([w.conn for w in waiting.values()], timeout=0.005)
            for obj in ready:
                worker = next((w for w in waiting.values() if obj is w.conn), None)
                if worker is None:
                    continue
                try:
                    message = decode_message(worker.conn.recv())
                except (EOFError, OSError):  # the worker's end closed: it died
                    message = None
                if type(message) is Done and message.seq == self._seq:
                    for key, value in message.stats.breakdown().items():
                        worker_seconds[key] = worker_seconds.get(key, 0.0) + value
                    del waiting[worker.index]
                elif type(message) is Failed:
                    reasons.append(f"worker {worker.index} failed: {message.error.splitlines()[0]}")
                    log.error("Block-STM worker %d failed:\n%s", worker.index, message.error)
                    scheduler.set_flag(core.H_STOP, 1)
                    del waiting[worker.index]
                elif message is None:
                    reasons.append(f"worker {worker.index} (pid {worker.pid}) died mid-block")
                    log.error("Block-STM worker %d (pid %d) died mid-block", worker.index, worker.pid)
                    scheduler.set_flag(core.H_STOP, 1)
                    replace.add(worker.index)
                    del waiting[worker.index]
            if not waiting:
                break
            stop = watch.poll()
            if stop:
                reasons.append(stop)
                log.error("Block-STM block stopped: %s", stop)
                scheduler.set_flag(core.H_STOP, 1)
            if scheduler.header(core.H_STOP):
                if stop_deadline is None:
                    stop_deadline = time.monotonic() + watch.grace
                elif time.monotonic() > stop_deadline:
                    for worker in waiting.values():
                        reasons.append(f"worker {worker.index} (pid {worker.pid}) silent; killed and replaced")
                        log.error("Block-STM worker %d (pid %d) did not stop; killing it", worker.index, worker.pid)
                        replace.add(worker.index)
                    break
            elif not reasons:
                incarnations = scheduler.header(core.H_INCARNATIONS)
                if incarnations >= max(self.contention_probe, n // 16):
                    aborts = scheduler.header(core.H_VALIDATION_ABORTS) + scheduler.header(core.H_DEPENDENCY_WAITS)
                    if aborts > self.abort_ratio * incarnations:
                        reasons.append(
                            f"contention: {aborts} aborts in {incarnations} incarnations, finishing sequentially"
                        )
                        scheduler.set_flag(core.H_STOP, 1)
        if scheduler.header(core.H_OVERFLOW):
            reasons.append("the shared record log or dependency arena is full")
        return {"reasons": reasons, "replace": replace, "worker_seconds": worker_seconds, "error": error}


def _release(pool: WorkerPool, scheduler, segment: shared_memory.SharedMemory, lock_path: str) -> None:
    """Stop the workers, then drop the scheduler's views of the segment before closing it
    (a view still exported makes ``SharedMemory.close`` raise BufferError, at exit too)."""
    pool.close()
    scheduler.release()
    segment.close()
    for remove in (segment.unlink, lambda: os.unlink(lock_path)):
        try:
            remove()
        except FileNotFoundError:
            pass
