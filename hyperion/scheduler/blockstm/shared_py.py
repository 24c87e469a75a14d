"""Pure-Python twin of ``_blockstm.pyx``: the Block-STM scheduler and record log, shared
between processes through one shared-memory segment.

Block-STM (Gelashvili et al., PPoPP 2023, Algorithms 4-5) hands out execution and
validation tasks from two counters, tracks each transaction's incarnation and status,
suspends a transaction that read an ESTIMATE until the transaction it depends on has
re-executed, and lowers the validation counter when an incarnation writes a location its
previous incarnation did not.  Here every worker *process* runs that algorithm directly on
shared memory: there is no coordinator in the loop.

The segment also holds the **record log**: an append-only arena where a worker publishes
each finished incarnation (its write-set, read-set and outcome) and each abort (its
writes become ESTIMATEs).  Every worker keeps a local replica of the multi-version memory
by applying the log (``hyperion.scheduler.blockstm.mvmemory``): a state read is a local dict lookup,
never a round trip.  A record is appended *before* the scheduler transition that makes it
matter (``finish_execution``, ``finish_validation``), and a worker syncs its replica after
taking a task, so every validation sees every write that happened before it.

Layout (int64 words unless noted)::

    header[64] | status[cap] | lock[cap] | dep_head[cap] | dep_node[2*dep_cap] | log bytes

This twin guards every operation with one inter-process lock, a ``flock`` on a lock file
(the compiled module uses lock-free atomics and per-transaction spinlocks); both give the
same results.
"""
from __future__ import annotations

import fcntl
import os
import time


class FileLock:
    """An inter-process mutex: ``flock`` on a file every process opens itself."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self):
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def try_acquire(self) -> bool:
        """Take the lock if it is free; -> whether it was taken (release with ``__exit__``)."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        os.close(self._fd)

# statuses (low 4 bits of a status word; the incarnation is the rest)
READY = 0
EXECUTING = 1
EXECUTED = 2
ABORTING = 3

# task kinds returned by next_task / finish_*
NO_TASK = 0
EXECUTION = 1
VALIDATION = 2

# header words
H_EXECUTION_IDX = 0
H_VALIDATION_IDX = 1
H_DECREASE_CNT = 2
H_ACTIVE_TASKS = 3
H_DONE = 4
H_N = 5
H_STOP = 6
H_LOG_ALLOC = 7
H_DEP_ALLOC = 8
H_BLOCK_SEQ = 9
H_INCARNATIONS = 10
H_VALIDATION_ABORTS = 11
H_VALIDATIONS = 12
H_DEPENDENCY_WAITS = 13
H_EXEC_NS = 14
H_VALIDATE_NS = 15
H_LOG_CAPACITY = 16
H_DEP_CAPACITY = 17
H_OVERFLOW = 18
H_WORKERS_IDLE = 19
H_ERROR = 20
H_CAPACITY = 21
H_RECORDS = 22
HEADER_WORDS = 64
RECORD_HEADER = 16


def segment_size(capacity: int, dep_capacity: int, log_capacity: int) -> int:
    """Bytes of shared memory for ``capacity`` transactions."""
    return 8 * (HEADER_WORDS + 3 * capacity + 2 * dep_capacity) + log_capacity


def _align8(n: int) -> int:
    return (n + 7) & ~7


class SharedScheduler:
    """One view of the shared scheduler state (each process makes its own)."""

    def __init__(self, buffer, capacity: int, dep_capacity: int, log_capacity: int, lock_path: str) -> None:
        self._buffer = buffer
        self._words = memoryview(buffer).cast("B")[: 8 * (HEADER_WORDS + 3 * capacity + 2 * dep_capacity)].cast("q")
        self._log = memoryview(buffer).cast("B")[8 * (HEADER_WORDS + 3 * capacity + 2 * dep_capacity):][:log_capacity]
        self._lock = FileLock(lock_path)
        self.capacity = capacity
        self.dep_capacity = dep_capacity
        self.log_capacity = log_capacity
        self._status = HEADER_WORDS
        self._dep_head = HEADER_WORDS + 2 * capacity
        self._dep_node = HEADER_WORDS + 3 * capacity

    def release(self) -> None:
        """Drop the views on the shared buffer (needed before it can be closed)."""
        self._words.release()
        self._log.release()
        self._lock.close()

    # -- block setup (coordinator only, workers idle) ---------------------------------
    def reset(self, n: int, block_seq: int) -> None:
        if n > self.capacity:
            raise ValueError(f"{n} transactions exceed the scheduler capacity {self.capacity}")
        w = self._words
        with self._lock:
            used = w[H_LOG_ALLOC]
            self._log[: min(used + RECORD_HEADER, self.log_capacity)] = bytes(min(used + RECORD_HEADER, self.log_capacity))
            for i in range(HEADER_WORDS):
                w[i] = 0
            for i in range(n):
                w[self._status + i] = 0
                w[self._status + self.capacity + i] = 0
                w[self._dep_head + i] = -1
            w[H_N] = n
            w[H_BLOCK_SEQ] = block_seq
            w[H_LOG_CAPACITY] = self.log_capacity
            w[H_DEP_CAPACITY] = self.dep_capacity
            w[H_CAPACITY] = self.capacity

    # -- plain accessors --------------------------------------------------------------
    # the one-word reads (header, done, status, first_not_executed) and set_flag() take no
    # lock, like the compiled module's atomic loads and stores (an aligned 8-byte word is read
    # and written whole): the coordinator's watchdog and early fold read progress and set STOP
    # even while a frozen worker holds the lock
    def header(self, index: int) -> int:
        return self._words[index]

    def add_stat(self, index: int, value: int) -> None:
        with self._lock:
            self._words[index] += value

    def set_flag(self, index: int, value: int = 1) -> None:
        self._words[index] = value

    def done(self) -> bool:
        words = self._words
        return bool(words[H_DONE] or words[H_STOP] or words[H_ERROR])

    def status(self, tx: int):
        """-> (incarnation, status)"""
        word = self._words[self._status + tx]
        return word >> 4, word & 15

    def first_not_executed(self, below: int) -> int:
        """Lowest transaction index < ``below`` not in EXECUTED state, or -1."""
        words, base = self._words, self._status
        for tx in range(below):
            if words[base + tx] & 15 != EXECUTED:
                return tx
        return -1

    # -- Block-STM scheduler (Algorithm 4-5) ----------------------------------------
    def _decrease(self, index: int, target: int) -> None:
        w = self._words
        if target < w[index]:
            w[index] = target
        w[H_DECREASE_CNT] += 1

    def _check_done(self) -> None:
        w = self._words
        n = w[H_N]
        if min(w[H_EXECUTION_IDX], w[H_VALIDATION_IDX]) >= n and w[H_ACTIVE_TASKS] == 0:
            w[H_DONE] = 1

    def _try_incarnate(self, tx: int):
        w = self._words
        if tx < w[H_N]:
            word = w[self._status + tx]
            if word & 15 == READY:
                w[self._status + tx] = (word & ~15) | EXECUTING
                return word >> 4
        w[H_ACTIVE_TASKS] -= 1
        return None

    def next_task(self):
        """-> (kind, tx, incarnation); kind NO_TASK when nothing is available now."""
        with self._lock:
            w = self._words
            n = w[H_N]
            if w[H_VALIDATION_IDX] < w[H_EXECUTION_IDX]:
                if w[H_VALIDATION_IDX] >= n:
                    self._check_done()
                    return NO_TASK, -1, -1
                w[H_ACTIVE_TASKS] += 1
                tx = w[H_VALIDATION_IDX]
                w[H_VALIDATION_IDX] += 1
                if tx < n:
                    word = w[self._status + tx]
                    if word & 15 == EXECUTED:
                        return VALIDATION, tx, word >> 4
                w[H_ACTIVE_TASKS] -= 1
                return NO_TASK, -1, -1
            if w[H_EXECUTION_IDX] >= n:
                self._check_done()
                return NO_TASK, -1, -1
            w[H_ACTIVE_TASKS] += 1
            tx = w[H_EXECUTION_IDX]
            w[H_EXECUTION_IDX] += 1
            incarnation = self._try_incarnate(tx)
            if incarnation is None:
                return NO_TASK, -1, -1
            return EXECUTION, tx, incarnation

    def add_dependency(self, tx: int, blocking: int) -> bool:
        """``tx`` read an ESTIMATE written by ``blocking``: suspend it until ``blocking``
        re-executes.  False if ``blocking`` already finished (re-execute ``tx`` now)."""
        with self._lock:
            w = self._words
            if w[self._status + blocking] & 15 == EXECUTED:
                return False
            node = w[H_DEP_ALLOC]
            if node >= self.dep_capacity:
                w[H_OVERFLOW] = 1
                w[H_STOP] = 1
                return False
            w[H_DEP_ALLOC] = node + 1
            w[self._dep_node + 2 * node] = tx
            w[self._dep_node + 2 * node + 1] = w[self._dep_head + blocking]
            w[self._dep_head + blocking] = node
            word = w[self._status + tx]
            w[self._status + tx] = (word & ~15) | ABORTING
            w[H_DEPENDENCY_WAITS] += 1
            w[H_ACTIVE_TASKS] -= 1
            return True

    def _set_ready(self, tx: int) -> None:
        w = self._words
        word = w[self._status + tx]
        w[self._status + tx] = (((word >> 4) + 1) << 4) | READY

    def finish_execution(self, tx: int, incarnation: int, wrote_new_location: bool):
        """-> (kind, tx, incarnation): maybe a validation task for ``tx`` itself."""
        with self._lock:
            w = self._words
            w[self._status + tx] = (incarnation << 4) | EXECUTED
            node = w[self._dep_head + tx]
            w[self._dep_head + tx] = -1
            lowest = -1
            while node >= 0:
                dependent = w[self._dep_node + 2 * node]
                self._set_ready(dependent)
                if lowest < 0 or dependent < lowest:
                    lowest = dependent
                node = w[self._dep_node + 2 * node + 1]
            if lowest >= 0:
                self._decrease(H_EXECUTION_IDX, lowest)
            if w[H_VALIDATION_IDX] > tx:
                if wrote_new_location:
                    self._decrease(H_VALIDATION_IDX, tx)
                else:
                    return VALIDATION, tx, incarnation
            w[H_ACTIVE_TASKS] -= 1
            return NO_TASK, -1, -1

    def try_validation_abort(self, tx: int, incarnation: int) -> bool:
        with self._lock:
            w = self._words
            if w[self._status + tx] == (incarnation << 4) | EXECUTED:
                w[self._status + tx] = (incarnation << 4) | ABORTING
                w[H_VALIDATION_ABORTS] += 1
                return True
            return False

    def finish_validation(self, tx: int, aborted: bool):
        with self._lock:
            w = self._words
            w[H_VALIDATIONS] += 1
            if aborted:
                self._set_ready(tx)
                self._decrease(H_VALIDATION_IDX, tx + 1)
                if w[H_EXECUTION_IDX] > tx:
                    w[H_ACTIVE_TASKS] += 1  # _try_incarnate decrements on failure
                    incarnation = self._try_incarnate(tx)
                    if incarnation is not None:
                        w[H_ACTIVE_TASKS] -= 1  # the task continues as this execution
                        return EXECUTION, tx, incarnation
                    # _try_incarnate already gave back the slot it failed to use
            w[H_ACTIVE_TASKS] -= 1
            return NO_TASK, -1, -1

    def count_incarnation(self, elapsed_ns: int) -> None:
        with self._lock:
            self._words[H_INCARNATIONS] += 1
            self._words[H_EXEC_NS] += elapsed_ns

    def count_validation_time(self, elapsed_ns: int) -> None:
        with self._lock:
            self._words[H_VALIDATE_NS] += elapsed_ns

    # -- record log -------------------------------------------------------------------
    def append(self, payload: bytes) -> int:
        """Publish ``payload``; -1 (and the overflow flag) if the log is full."""
        size = RECORD_HEADER + _align8(len(payload))
        with self._lock:
            w = self._words
            offset = w[H_LOG_ALLOC]
            if offset + size + RECORD_HEADER > self.log_capacity:
                w[H_OVERFLOW] = 1
                w[H_STOP] = 1
                return -1
            w[H_LOG_ALLOC] = offset + size
            log = self._log
            log[offset:offset + 8] = len(payload).to_bytes(8, "little")
            log[offset + RECORD_HEADER:offset + RECORD_HEADER + len(payload)] = payload
            log[offset + 8:offset + 16] = (1).to_bytes(8, "little")
            w[H_RECORDS] += 1
            return offset

    def read_records(self, position: int, wait: bool = True):
        """Records published at or after byte ``position``: -> (list of bytes, new position).

        A record being written by another process is waited for (``wait``) or ends the
        scan; a stopped or failed block never waits (a dead writer never finishes).
        """
        out = []
        lock = self._lock
        while True:
            if wait:
                lock.__enter__()
            elif not lock.try_acquire():
                # a reader that must not wait (the coordinator's early fold) does not wait for
                # the lock either: a frozen worker may hold it, and the watchdog must run
                return out, position
            try:
                end = self._words[H_LOG_ALLOC]
                if position >= end:
                    return out, position
                log = self._log
                length = int.from_bytes(log[position:position + 8], "little")
                ready = int.from_bytes(log[position + 8:position + 16], "little")
                stopped = self._words[H_STOP] or self._words[H_ERROR]
                if length and ready:
                    out.append(bytes(log[position + RECORD_HEADER:position + RECORD_HEADER + length]))
                    position += RECORD_HEADER + _align8(length)
                    continue
            finally:
                lock.__exit__()
            if not wait or stopped:
                return out, position
            time.sleep(0)

    def pid(self) -> int:
        return os.getpid()

    def inject_fault(self, kind: str, tx: int) -> None:
        """Tests only: leave the shared state as a worker dying right here would.

        ``"lock"``: holding the scheduler lock (this twin's one lock; the kernel drops a
        dead holder's ``flock``); ``"record"``: half-way through appending a record (its
        space reserved, its ready flag never set).
        """
        if kind == "lock":
            fcntl.flock(self._lock._fd, fcntl.LOCK_EX)
        elif kind == "record":
            with self._lock:
                offset = self._words[H_LOG_ALLOC]
                if offset + 2 * RECORD_HEADER + 64 <= self.log_capacity:
                    self._words[H_LOG_ALLOC] = offset + RECORD_HEADER + 64
                    self._log[offset:offset + 8] = (64).to_bytes(8, "little")
        else:
            raise ValueError(f"unknown fault {kind!r}")
