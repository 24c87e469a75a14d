"""A Block-STM worker process: ``python -m hyperion.scheduler.blockstm.worker``.

Started once as a fresh interpreter (an LMDB environment or gRPC core must never cross a
``fork()``, and unlike ``multiprocessing``'s spawn it never re-imports the caller's
``__main__``) and reused for every block; it talks to the coordinator over a socket pair
in the messages of ``hyperion.scheduler.blockstm.protocol``.  Per block it receives the
inputs once (:class:`~hyperion.scheduler.blockstm.protocol.BlockMessage`), decodes each
transaction at most once, opens its own LMDB read snapshot, and then runs the Block-STM
loop directly on the shared scheduler: take a task, sync the local multi-version memory
replica from the record log, execute or validate, publish a record, repeat until done.
"""
from __future__ import annotations

import os
import time
import traceback
from multiprocessing import shared_memory

from hyperion.scheduler.blockstm.shared import (
    EXECUTION,
    H_ERROR,
    NO_TASK,
    VALIDATION,
    SharedScheduler,
)
from hyperion.scheduler.blockstm.mvmemory import MVMemory, MVView, ReadDependency
from hyperion.scheduler.blockstm.protocol import (
    BlockMessage,
    BlockTask,
    Done,
    EstimateRecord,
    ExecutionRecord,
    Failed,
    LmdbBase,
    Ready,
    Record,
    Stop,
    StoreBase,
    TxVersion,
    Warm,
    WarmUp,
    WorkerStats,
    decode_message,
    decode_record,
    encode_message,
    encode_record,
)

#: gas checks against the block limit happen in the coordinator, in order
UNLIMITED = 2**63


class _Base:
    """The state below the block: LMDB snapshot (or memory copy) + pending layers."""

    def __init__(self) -> None:
        self.store = None
        self.store_key = None
        self.memory_generation = None

    def open(self, task: BlockTask, base: StoreBase):
        from hyperion.state.store import Store
        from hyperion.state.view import DiffReader

        if type(base) is LmdbBase:
            if self.store_key != base.path:
                if self.store is not None:
                    self.store.close()
                self.store = Store.open_lmdb(base.path, readonly=True)  # under the writer's lock: read only
                self.store_key = base.path
        elif base.tables is not None:
            from hyperion.state.kv import MemoryBackend

            backend = MemoryBackend()
            backend.load(base.tables)
            self.store = Store(backend)
            self.store_key = None
            self.memory_generation = base.generation
        elif self.memory_generation != base.generation:
            raise RuntimeError("worker has a stale copy of the in-memory store")
        reader = self.store.reader()
        head = reader.head()
        if head.state_root != task.head_root:
            reader.close()
            raise RuntimeError(
                f"worker snapshot is at root {head.state_root.hex()}, the block runs on {task.head_root.hex()}"
            )
        view = reader
        for diff in task.layers:
            view = DiffReader(view, diff)
        return reader, view


def install(memory: MVMemory, record: Record) -> bool:
    """Apply one record to the local replica; -> whether it wrote a new location."""
    version = record.version
    if type(record) is ExecutionRecord:
        writes = record.write_set
        return memory.apply_record(version.tx_idx, version.tx_incarnation, writes.accounts, writes.storage,
                                   writes.wiped, writes.codes, writes.coinbase_delta, record.reads)
    memory.apply_estimate(version.tx_idx, version.tx_incarnation)
    return False


def run_block(task: BlockTask, base_spec: StoreBase, scheduler, base_source: _Base) -> WorkerStats:
    """Run the Block-STM loop for one block until the scheduler is done or stopped."""
    from hyperion.evm.forks import FORKS
    from hyperion.evm.processor import BlockProcessor, account_db
    from hyperion.evm.transactions import prepare_one
    from hyperion.evm.state import state_class_for

    started = time.perf_counter()
    fork = FORKS[task.fork]
    env = task.env
    chain_id = task.chain_id
    processor = BlockProcessor(fork, chain_id, env, task.ancestors.get, state_class_for(fork, task.precompiles))
    inputs = task.inputs
    n = len(inputs)
    coinbase = env.coinbase
    memory = MVMemory(n, coinbase)
    store_reader, base = base_source.open(task, base_spec)
    prepared = {}
    fault = task.fault or {}
    position = 0
    stats = WorkerStats()
    # where this worker's time went (ns): decoding + sender recovery, applying the other
    # workers' records to the local replica, and waiting for a task
    prepare_ns = sync_ns = idle_ns = 0
    stats.setup_seconds = time.perf_counter() - started

    def sync() -> None:
        nonlocal position, sync_ns
        begun = time.perf_counter_ns()
        records, position = scheduler.read_records(position)
        for raw in records:
            install(memory, decode_record(raw, outcome=False))
        sync_ns += time.perf_counter_ns() - begun

    def execute(tx: int, incarnation: int):
        nonlocal prepare_ns
        if fault.get("exit_at_tx") == tx:  # fault injection (tests): die without a word, mid-block
            if fault.get("holding"):
                scheduler.inject_fault(fault["holding"], tx)
            os._exit(3)
        item = prepared.get(tx)
        if item is None:
            begun = time.perf_counter_ns()
            item = prepared[tx] = prepare_one(fork, inputs[tx], chain_id, tx)
            prepare_ns += time.perf_counter_ns() - begun
        while True:
            begun = time.perf_counter_ns()
            view = MVView(memory, tx, base, scheduler, sync)
            state = processor.new_state(view)
            accounts = account_db(state)
            accounts.enable_lazy_coinbase(coinbase)
            try:
                outcome = processor.execute_transaction(state, item, UNLIMITED, UNLIMITED)
                write_set = accounts.take_write_set()
            except ReadDependency as dependency:
                scheduler.count_incarnation(time.perf_counter_ns() - begun)
                if scheduler.add_dependency(tx, dependency.blocking):
                    return NO_TASK, -1, -1
                sync()
                continue
            record = ExecutionRecord(TxVersion(tx, incarnation), write_set, view.reads, outcome)
            if scheduler.append(encode_record(record)) < 0:
                return NO_TASK, -1, -1  # log full: the scheduler is stopped, the coordinator falls back
            wrote_new = install(memory, record)
            scheduler.count_incarnation(time.perf_counter_ns() - begun)
            stats.executed += 1
            return scheduler.finish_execution(tx, incarnation, wrote_new)

    def validate(tx: int, incarnation: int):
        begun = time.perf_counter_ns()
        valid = memory.validate(tx, base, scheduler, sync)
        aborted = (not valid) and scheduler.try_validation_abort(tx, incarnation)
        if aborted:
            record = EstimateRecord(TxVersion(tx, incarnation))
            scheduler.append(encode_record(record))
            install(memory, record)
        stats.validated += 1
        scheduler.count_validation_time(time.perf_counter_ns() - begun)
        return scheduler.finish_validation(tx, aborted)

    try:
        kind, tx, incarnation = NO_TASK, -1, -1
        idle_spins = 0
        idle_since = None
        while True:
            if kind == NO_TASK:
                if idle_since is None:
                    idle_since = time.perf_counter_ns()
                if scheduler.done():
                    break
                kind, tx, incarnation = scheduler.next_task()
                if kind == NO_TASK:
                    # Usually transient (the validation counter passed a transaction another
                    # worker is still executing): retry at once.  Yielding costs a whole
                    # scheduler quantum on a busy machine, so only a long idle streak (the end
                    # of the block, a dependency wait) yields, then sleeps.
                    idle_spins += 1
                    if idle_spins > 2000:
                        time.sleep(0.0001)
                    elif idle_spins > 200:
                        time.sleep(0)
                    continue
                idle_spins = 0
                idle_ns += time.perf_counter_ns() - idle_since
                idle_since = None
            sync()
            if kind == EXECUTION:
                kind, tx, incarnation = execute(tx, incarnation)
            elif kind == VALIDATION:
                kind, tx, incarnation = validate(tx, incarnation)
        if idle_since is not None:
            idle_ns += time.perf_counter_ns() - idle_since
    finally:
        store_reader.close()
    stats.decoded = len(prepared)
    stats.seconds = time.perf_counter() - started
    stats.prepare_seconds, stats.sync_seconds, stats.idle_seconds = prepare_ns / 1e9, sync_ns / 1e9, idle_ns / 1e9
    return stats


def worker_main(index: int, conn, shm_name: str, capacity: int, dep_capacity: int, log_capacity: int,
                lock_path: str, fault: str = "") -> None:
    """Serve blocks until told to stop (or the coordinator goes away).

    ``fault`` (tests): ``"start"`` exits before Ready, ``"warm-up"`` exits on WarmUp.
    """
    if fault == "start":
        os._exit(3)
    started = time.perf_counter()
    try:
        segment = _attach(shm_name)
    except FileNotFoundError:  # the coordinator is gone already (it unlinks the segment last)
        return
    scheduler = SharedScheduler(segment.buf, capacity, dep_capacity, log_capacity, lock_path)
    # import the execution stack now, not in the middle of the first block
    import hyperion.evm.processor  # noqa: F401
    import hyperion.evm.forks  # noqa: F401

    base_source = _Base()
    conn.send(encode_message(Ready(os.getpid(), time.perf_counter() - started)))
    try:
        while True:
            try:
                message = decode_message(conn.recv())
            except EOFError:
                break
            if type(message) is Stop:
                break
            if type(message) is WarmUp:
                if fault == "warm-up":
                    os._exit(3)
                from hyperion.evm.forks import FORKS
                from hyperion.evm.state import state_class_for

                for fork_name, names in message.specs:
                    state_class_for(FORKS[fork_name], tuple(names))
                conn.send(encode_message(Warm()))
                continue
            if type(message) is not BlockMessage:
                raise RuntimeError(f"Block-STM worker {index}: unexpected {type(message).__name__} message")
            task = message.task
            try:
                if os.environ.get("HYPERION_WORKER_PROFILE"):
                    import cProfile
                    profiler = cProfile.Profile()
                    stats = profiler.runcall(run_block, task, message.base, scheduler, base_source)
                    profiler.dump_stats(f"{os.environ['HYPERION_WORKER_PROFILE']}.{index}.{task.seq}")
                else:
                    stats = run_block(task, message.base, scheduler, base_source)
                conn.send(encode_message(Done(task.seq, stats)))
            except BaseException as exc:  # report, stop the others, let the coordinator fall back
                scheduler.set_flag(H_ERROR, 1)
                conn.send(encode_message(Failed(task.seq, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")))
    finally:
        scheduler.release()
        segment.close()
        if base_source.store is not None:
            base_source.store.close()


def _attach(name: str) -> shared_memory.SharedMemory:
    segment = shared_memory.SharedMemory(name=name)
    try:  # the coordinator owns the segment; keep this process's tracker out of it
        from multiprocessing import resource_tracker

        resource_tracker.unregister(segment._name, "shared_memory")
    except Exception:
        pass
    return segment


def main(argv=None) -> None:
    import sys
    from multiprocessing.connection import Connection

    args = sys.argv[1:] if argv is None else argv
    fd, shm_name, capacity, dep_capacity, log_capacity, lock_path, index, *fault = args
    conn = Connection(int(fd))
    try:
        worker_main(int(index), conn, shm_name, int(capacity), int(dep_capacity), int(log_capacity), lock_path,
                    *fault)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the coordinator went away mid-block: nobody is left to tell


if __name__ == "__main__":
    main()
