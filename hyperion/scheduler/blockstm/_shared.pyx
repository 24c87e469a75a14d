# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``blockstm_py.py``: the same shared-memory layout and algorithm, with
GCC atomics and a spinlock per transaction instead of one global lock.

Lock order: the only nested acquisition is ``add_dependency`` (blocking tx, then the
dependent tx, whose index is always larger), so there is no lock cycle.
"""
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy, memset
from cpython.bytes cimport PyBytes_FromStringAndSize

import os
import time

cdef extern from *:
    """
    #include <stdint.h>
    #include <sched.h>
    static inline int64_t hy_load(int64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
    static inline void hy_store(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
    static inline int64_t hy_add(int64_t *p, int64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
    static inline void hy_min(int64_t *p, int64_t v) {
        int64_t cur = __atomic_load_n(p, __ATOMIC_SEQ_CST);
        while (v < cur && !__atomic_compare_exchange_n(p, &cur, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
    }
    static inline void hy_lock(int64_t *p) {
        int spins = 0;
        for (;;) {
            int64_t expected = 0;
            if (__atomic_compare_exchange_n(p, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
            if (++spins > 32) { sched_yield(); spins = 0; }
        }
    }
    static inline void hy_unlock(int64_t *p) { __atomic_store_n(p, 0, __ATOMIC_RELEASE); }
    static inline void hy_yield(void) { sched_yield(); }
    """
    int64_t hy_load(int64_t *p) nogil
    void hy_store(int64_t *p, int64_t v) nogil
    int64_t hy_add(int64_t *p, int64_t v) nogil
    void hy_min(int64_t *p, int64_t v) nogil
    void hy_lock(int64_t *p) nogil
    void hy_unlock(int64_t *p) nogil
    void hy_yield() nogil

DEF C_READY = 0
DEF C_EXECUTING = 1
DEF C_EXECUTED = 2
DEF C_ABORTING = 3

READY = 0
EXECUTING = 1
EXECUTED = 2
ABORTING = 3
NO_TASK = 0
EXECUTION = 1
VALIDATION = 2

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

DEF C_HEADER_WORDS = 64
DEF C_RECORD_HEADER = 16


def segment_size(capacity, dep_capacity, log_capacity):
    return 8 * (HEADER_WORDS + 3 * capacity + 2 * dep_capacity) + log_capacity


cdef inline int64_t _align8(int64_t n) nogil:
    return (n + 7) & ~7


cdef class SharedScheduler:
    """One view of the shared scheduler state (each process makes its own)."""

    cdef object _buffer
    cdef uint8_t[::1] _view
    cdef int64_t *h
    cdef int64_t *status_words
    cdef int64_t *locks
    cdef int64_t *dep_head
    cdef int64_t *dep_node
    cdef uint8_t *log
    cdef readonly int64_t capacity
    cdef readonly int64_t dep_capacity
    cdef readonly int64_t log_capacity

    def __init__(self, buffer, int64_t capacity, int64_t dep_capacity, int64_t log_capacity, lock_path=None):
        self._buffer = buffer
        self._view = buffer
        self.capacity = capacity
        self.dep_capacity = dep_capacity
        self.log_capacity = log_capacity
        cdef int64_t *base = <int64_t *> &self._view[0]
        self.h = base
        self.status_words = base + C_HEADER_WORDS
        self.locks = base + C_HEADER_WORDS + capacity
        self.dep_head = base + C_HEADER_WORDS + 2 * capacity
        self.dep_node = base + C_HEADER_WORDS + 3 * capacity
        self.log = (<uint8_t *> base) + 8 * (C_HEADER_WORDS + 3 * capacity + 2 * dep_capacity)

    def release(self):
        self._view = None
        self.h = NULL

    # -- block setup ------------------------------------------------------------------
    def reset(self, int64_t n, int64_t block_seq):
        if n > self.capacity:
            raise ValueError(f"{n} transactions exceed the scheduler capacity {self.capacity}")
        cdef int64_t used = self.h[H_LOG_ALLOC] + C_RECORD_HEADER
        if used > self.log_capacity:
            used = self.log_capacity
        memset(self.log, 0, used)
        cdef int64_t i
        for i in range(C_HEADER_WORDS):
            self.h[i] = 0
        for i in range(n):
            self.status_words[i] = 0
            self.locks[i] = 0
            self.dep_head[i] = -1
        self.h[H_N] = n
        self.h[H_BLOCK_SEQ] = block_seq
        self.h[H_LOG_CAPACITY] = self.log_capacity
        self.h[H_DEP_CAPACITY] = self.dep_capacity
        hy_store(&self.h[H_CAPACITY], self.capacity)

    # -- accessors ----------------------------------------------------------------------
    def header(self, int64_t index):
        return hy_load(&self.h[index])

    def add_stat(self, int64_t index, int64_t value):
        hy_add(&self.h[index], value)

    def set_flag(self, int64_t index, int64_t value=1):
        hy_store(&self.h[index], value)

    def done(self):
        return bool(hy_load(&self.h[H_DONE]) or hy_load(&self.h[H_STOP]) or hy_load(&self.h[H_ERROR]))

    def status(self, int64_t tx):
        cdef int64_t word = hy_load(&self.status_words[tx])
        return word >> 4, word & 15

    def first_not_executed(self, int64_t below):
        cdef int64_t tx
        for tx in range(below):
            if hy_load(&self.status_words[tx]) & 15 != C_EXECUTED:
                return tx
        return -1

    # -- scheduler ----------------------------------------------------------------------
    cdef inline void _decrease(self, int64_t index, int64_t target):
        hy_min(&self.h[index], target)
        hy_add(&self.h[H_DECREASE_CNT], 1)

    cdef void _check_done(self):
        cdef int64_t observed = hy_load(&self.h[H_DECREASE_CNT])
        cdef int64_t n = self.h[H_N]
        cdef int64_t e = hy_load(&self.h[H_EXECUTION_IDX])
        cdef int64_t v = hy_load(&self.h[H_VALIDATION_IDX])
        if (e if e < v else v) >= n and hy_load(&self.h[H_ACTIVE_TASKS]) == 0 \
                and observed == hy_load(&self.h[H_DECREASE_CNT]):
            hy_store(&self.h[H_DONE], 1)

    cdef int64_t _try_incarnate(self, int64_t tx):
        """Incarnation now executing, or -1 (and the active-task slot given back)."""
        cdef int64_t word
        if tx < self.h[H_N]:
            hy_lock(&self.locks[tx])
            word = self.status_words[tx]
            if word & 15 == C_READY:
                hy_store(&self.status_words[tx], (word & ~15) | C_EXECUTING)
                hy_unlock(&self.locks[tx])
                return word >> 4
            hy_unlock(&self.locks[tx])
        hy_add(&self.h[H_ACTIVE_TASKS], -1)
        return -1

    def next_task(self):
        cdef int64_t n = self.h[H_N]
        cdef int64_t tx, word, incarnation
        if hy_load(&self.h[H_VALIDATION_IDX]) < hy_load(&self.h[H_EXECUTION_IDX]):
            if hy_load(&self.h[H_VALIDATION_IDX]) >= n:
                self._check_done()
                return NO_TASK, -1, -1
            hy_add(&self.h[H_ACTIVE_TASKS], 1)
            tx = hy_add(&self.h[H_VALIDATION_IDX], 1)
            if tx < n:
                word = hy_load(&self.status_words[tx])
                if word & 15 == C_EXECUTED:
                    return VALIDATION, tx, word >> 4
            hy_add(&self.h[H_ACTIVE_TASKS], -1)
            return NO_TASK, -1, -1
        if hy_load(&self.h[H_EXECUTION_IDX]) >= n:
            self._check_done()
            return NO_TASK, -1, -1
        hy_add(&self.h[H_ACTIVE_TASKS], 1)
        tx = hy_add(&self.h[H_EXECUTION_IDX], 1)
        incarnation = self._try_incarnate(tx)
        if incarnation < 0:
            return NO_TASK, -1, -1
        return EXECUTION, tx, incarnation

    def add_dependency(self, int64_t tx, int64_t blocking):
        cdef int64_t node, word
        hy_lock(&self.locks[blocking])
        if hy_load(&self.status_words[blocking]) & 15 == C_EXECUTED:
            hy_unlock(&self.locks[blocking])
            return False
        node = hy_add(&self.h[H_DEP_ALLOC], 1)
        if node >= self.dep_capacity:
            hy_unlock(&self.locks[blocking])
            hy_store(&self.h[H_OVERFLOW], 1)
            hy_store(&self.h[H_STOP], 1)
            return False
        hy_lock(&self.locks[tx])
        word = self.status_words[tx]
        hy_store(&self.status_words[tx], (word & ~15) | C_ABORTING)
        hy_unlock(&self.locks[tx])
        self.dep_node[2 * node] = tx
        self.dep_node[2 * node + 1] = self.dep_head[blocking]
        self.dep_head[blocking] = node
        hy_unlock(&self.locks[blocking])
        hy_add(&self.h[H_DEPENDENCY_WAITS], 1)
        hy_add(&self.h[H_ACTIVE_TASKS], -1)
        return True

    cdef void _set_ready(self, int64_t tx):
        hy_lock(&self.locks[tx])
        cdef int64_t word = self.status_words[tx]
        hy_store(&self.status_words[tx], (((word >> 4) + 1) << 4) | C_READY)
        hy_unlock(&self.locks[tx])

    def finish_execution(self, int64_t tx, int64_t incarnation, bint wrote_new_location):
        cdef int64_t node, dependent, lowest = -1
        hy_lock(&self.locks[tx])
        hy_store(&self.status_words[tx], (incarnation << 4) | C_EXECUTED)
        node = self.dep_head[tx]
        self.dep_head[tx] = -1
        hy_unlock(&self.locks[tx])
        while node >= 0:
            dependent = self.dep_node[2 * node]
            self._set_ready(dependent)
            if lowest < 0 or dependent < lowest:
                lowest = dependent
            node = self.dep_node[2 * node + 1]
        if lowest >= 0:
            self._decrease(H_EXECUTION_IDX, lowest)
        if hy_load(&self.h[H_VALIDATION_IDX]) > tx:
            if wrote_new_location:
                self._decrease(H_VALIDATION_IDX, tx)
            else:
                return VALIDATION, tx, incarnation
        hy_add(&self.h[H_ACTIVE_TASKS], -1)
        return NO_TASK, -1, -1

    def try_validation_abort(self, int64_t tx, int64_t incarnation):
        cdef bint aborted = False
        hy_lock(&self.locks[tx])
        if self.status_words[tx] == ((incarnation << 4) | C_EXECUTED):
            hy_store(&self.status_words[tx], (incarnation << 4) | C_ABORTING)
            aborted = True
        hy_unlock(&self.locks[tx])
        if aborted:
            hy_add(&self.h[H_VALIDATION_ABORTS], 1)
        return aborted

    def finish_validation(self, int64_t tx, bint aborted):
        cdef int64_t incarnation
        hy_add(&self.h[H_VALIDATIONS], 1)
        if aborted:
            self._set_ready(tx)
            self._decrease(H_VALIDATION_IDX, tx + 1)
            if hy_load(&self.h[H_EXECUTION_IDX]) > tx:
                hy_add(&self.h[H_ACTIVE_TASKS], 1)  # _try_incarnate gives it back on failure
                incarnation = self._try_incarnate(tx)
                if incarnation >= 0:
                    hy_add(&self.h[H_ACTIVE_TASKS], -1)  # the task continues as this execution
                    return EXECUTION, tx, incarnation
        hy_add(&self.h[H_ACTIVE_TASKS], -1)
        return NO_TASK, -1, -1

    def count_incarnation(self, int64_t elapsed_ns):
        hy_add(&self.h[H_INCARNATIONS], 1)
        hy_add(&self.h[H_EXEC_NS], elapsed_ns)

    def count_validation_time(self, int64_t elapsed_ns):
        hy_add(&self.h[H_VALIDATE_NS], elapsed_ns)

    # -- record log -----------------------------------------------------------------------
    def append(self, bytes payload):
        cdef int64_t length = len(payload)
        cdef int64_t size = C_RECORD_HEADER + _align8(length)
        cdef int64_t offset = hy_add(&self.h[H_LOG_ALLOC], size)
        if offset + size + C_RECORD_HEADER > self.log_capacity:
            hy_store(&self.h[H_OVERFLOW], 1)
            hy_store(&self.h[H_STOP], 1)
            return -1
        cdef int64_t *slot = <int64_t *> (self.log + offset)
        hy_store(slot, length)
        memcpy(self.log + offset + C_RECORD_HEADER, <const char *> payload, length)
        hy_store(slot + 1, 1)
        hy_add(&self.h[H_RECORDS], 1)
        return offset

    def read_records(self, int64_t position, bint wait=True):
        cdef list out = []
        cdef int64_t length, ready
        cdef int64_t *slot
        cdef int spins = 0
        while True:
            if position >= hy_load(&self.h[H_LOG_ALLOC]) or position + C_RECORD_HEADER > self.log_capacity:
                return out, position
            slot = <int64_t *> (self.log + position)
            length = hy_load(slot)
            ready = hy_load(slot + 1)
            if length and ready:
                out.append(PyBytes_FromStringAndSize(<char *> (self.log + position + C_RECORD_HEADER), length))
                position += C_RECORD_HEADER + _align8(length)
                continue
            if not wait or hy_load(&self.h[H_STOP]) or hy_load(&self.h[H_ERROR]):
                return out, position
            spins += 1
            if spins > 64:
                hy_yield()
                spins = 0

    def pid(self):
        return os.getpid()

    def inject_fault(self, str kind, int64_t tx):
        """Tests only: leave the shared state as a worker dying right here would.

        ``"lock"``: holding transaction ``tx``'s spinlock; ``"record"``: half-way through
        appending a record (its space reserved, its ready flag never set).
        """
        cdef int64_t offset
        if kind == "lock":
            hy_lock(&self.locks[tx])
        elif kind == "record":
            offset = hy_add(&self.h[H_LOG_ALLOC], C_RECORD_HEADER + 64)
            if offset + 2 * C_RECORD_HEADER + 64 <= self.log_capacity:
                hy_store(<int64_t *> (self.log + offset), 64)
        else:
            raise ValueError(f"unknown fault {kind!r}")
