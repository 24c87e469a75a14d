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

import gc
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
    COORDINATOR_WRITER,
    BlockMessage,
    BlockTask,
    Done,
    EstimateRecord,
    ExecutionRecord,
    Failed,
    LmdbBase,
    Ready,
    Record,
    SenderRecord,
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
    record_writer,
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


_MISSING = object()


class BlockBase:
    """The state below the block, each answer kept for the block.

    It cannot change while the block runs, and validation reads again every location an
    incarnation read: from here, a dict lookup instead of the store and the pending layers.
    """

    __slots__ = ("base", "accounts", "storage", "codes")

    def __init__(self, base) -> None:
        self.base = base
        self.accounts = {}
        self.storage = {}
        self.codes = {}

    def read_account(self, address):
        value = self.accounts.get(address, _MISSING)
        if value is _MISSING:
            value = self.accounts[address] = self.base.read_account(address)
        return value

    def read_storage(self, address, slot):
        key = (address, slot)
        value = self.storage.get(key)
        if value is None:
            value = self.storage[key] = self.base.read_storage(address, slot)
        return value

    def read_code(self, code_hash):
        code = self.codes.get(code_hash)
        if code is None:
            code = self.codes[code_hash] = self.base.read_code(code_hash)
        return code

    def has_storage(self, address, excluded=()):
        return self.base.has_storage(address, excluded)


def install(memory: MVMemory, record: Record, senders: dict) -> bool:
    """Apply one record to the local replica and note its sender in ``senders`` (tx ->
    sender); -> whether it wrote a new location."""
    if type(record) is SenderRecord:
        senders[record.tx_idx] = record.sender
        return False
    version = record.version
    if type(record) is ExecutionRecord:
        if record.sender is not None:
            senders[version.tx_idx] = record.sender
        writes = record.write_set
        return memory.apply_record(version.tx_idx, version.tx_incarnation, writes.accounts, writes.storage,
                                   writes.wiped, writes.codes, writes.coinbase_delta, record.reads)
    memory.apply_estimate(version.tx_idx, version.tx_incarnation)
    return False


def run_block(task: BlockTask, base_spec: StoreBase, scheduler, base_source: _Base, writer: int = 0) -> WorkerStats:
    """Run the Block-STM loop for one block until the scheduler is done or stopped.

    ``writer`` is this worker's index: it tags the records this worker appends, so that
    syncing skips them (they are installed the moment they are appended).
    """
    from hyperion.evm.forks import FORKS
    from hyperion.evm.processor import BlockProcessor, account_db
    from hyperion.evm.transactions import prepare_one
    from hyperion.evm.state import state_class_for

    started = time.perf_counter()
    cpu_started = time.process_time()
    fork = FORKS[task.fork]
    env = task.env
    chain_id = task.chain_id
    processor = BlockProcessor(fork, chain_id, env, task.ancestors.get, state_class_for(fork, task.precompiles))
    inputs = task.inputs
    n = len(inputs)
    coinbase = env.coinbase
    memory = MVMemory(n, coinbase)
    store_reader, base = base_source.open(task, base_spec)
    base = BlockBase(base)
    prepared = {}
    # senders other workers recovered (from their records): a transaction this worker
    # re-executes after another one is decoded again, but its signature is recovered once
    # per block across all workers, as in the sequential loop
    senders = {}
    # senders the coordinator's recovery helper found ahead (RecoveredSenders records): used
    # when present, never waited for -- a transaction whose sender has not arrived yet is
    # recovered here, as before
    ahead = {}
    recovered = recovered_ahead = 0
    # One py-evm state for the block, as in the sequential loop: each incarnation rebinds
    # its account DB to the incarnation's view.  An incarnation cut short by a read
    # dependency leaves py-evm's own per-transaction state (open transient-storage
    # checkpoints) behind, so the next one starts from a fresh state instead.
    state = accounts = None
    fault = task.fault or {}
    position = 0
    stats = WorkerStats()
    # where this worker's time went (ns): decoding + sender recovery, applying the other
    # workers' records to the local replica, and waiting for a task
    prepare_ns = sync_ns = idle_ns = 0
    stats.setup_seconds = time.perf_counter() - started
    # The transaction loop makes no reference cycles (a collection after a 5,000-transaction
    # block finds none), but the block's multi-version memory and records grow the heap, so
    # the cyclic collector runs more often, and longer, than in the sequential loop: ~5% of
    # a worker's time on an ETH-transfer block.  It pauses for the block; reference
    # counting frees the block's objects when the block ends.
    collecting = gc.isenabled()
    gc.disable()

    def sync() -> None:
        nonlocal position, sync_ns
        begun = time.perf_counter_ns()
        records, position = scheduler.read_records(position)
        for raw in records:
            source = record_writer(raw)
            if source == COORDINATOR_WRITER:
                chunk = decode_record(raw)
                ahead.update(zip(range(chunk.first, chunk.first + len(chunk.senders)), chunk.senders))
            elif source != writer:
                install(memory, decode_record(raw, outcome=False), senders)
        sync_ns += time.perf_counter_ns() - begun

    def execute(tx: int, incarnation: int):
        nonlocal prepare_ns, state, accounts, recovered, recovered_ahead
        if fault.get("exit_at_tx") == tx:  # fault injection (tests): die without a word, mid-block
            if fault.get("holding"):
                scheduler.inject_fault(fault["holding"], tx)
            os._exit(3)
        item = prepared.get(tx)
        if item is None:
            begun = time.perf_counter_ns()
            known = senders.get(tx)
            if known is None:
                known = ahead.get(tx)
                recovered_ahead += known is not None
            item = prepared[tx] = prepare_one(fork, inputs[tx], chain_id, tx, known)
            recovered += known is None
            prepare_ns += time.perf_counter_ns() - begun
        while True:
            begun = time.perf_counter_ns()
            view = MVView(memory, tx, base, scheduler, sync)
            if state is None:
                state = processor.new_state(view)
                accounts = account_db(state)
                accounts.enable_lazy_coinbase(coinbase)
            else:
                accounts.rebind(view)
            try:
                outcome = processor.execute_transaction(state, item, UNLIMITED, UNLIMITED)
                write_set = accounts.take_write_set()
            except ReadDependency as dependency:
                state = accounts = None
                if item.sender is not None and tx not in senders:  # no record will carry it yet
                    senders[tx] = item.sender
                    scheduler.append(encode_record(SenderRecord(tx, item.sender), writer))
                scheduler.count_incarnation(time.perf_counter_ns() - begun)
                if scheduler.add_dependency(tx, dependency.blocking):
                    return NO_TASK, -1, -1
                sync()
                continue
            record = ExecutionRecord(TxVersion(tx, incarnation), write_set, view.reads, outcome, outcome.sender)
            if scheduler.append(encode_record(record, writer)) < 0:
                return NO_TASK, -1, -1  # log full: the scheduler is stopped, the coordinator falls back
            wrote_new = install(memory, record, senders)
            scheduler.count_incarnation(time.perf_counter_ns() - begun)
            stats.executed += 1
            return scheduler.finish_execution(tx, incarnation, wrote_new)

    def validate(tx: int, incarnation: int):
        begun = time.perf_counter_ns()
        valid = memory.validate(tx, base, scheduler, sync)
        aborted = (not valid) and scheduler.try_validation_abort(tx, incarnation)
        if aborted:
            record = EstimateRecord(TxVersion(tx, incarnation))
            scheduler.append(encode_record(record, writer))
            install(memory, record, senders)
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
        if collecting:
            gc.enable()
    stats.decoded = len(prepared)
    stats.recovered = recovered
    stats.recovered_ahead = recovered_ahead
    stats.seconds = time.perf_counter() - started
    stats.cpu_seconds = time.process_time() - cpu_started
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

    gc.freeze()  # what start-up built lives as long as the worker: keep collections off it
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
                gc.freeze()
                conn.send(encode_message(Warm()))
                continue
            if type(message) is not BlockMessage:
                raise RuntimeError(f"Block-STM worker {index}: unexpected {type(message).__name__} message")
            task = message.task
            try:
                if os.environ.get("HYPERION_WORKER_PROFILE"):
                    import cProfile
                    profiler = cProfile.Profile()
                    stats = profiler.runcall(run_block, task, message.base, scheduler, base_source, index)
                    profiler.dump_stats(f"{os.environ['HYPERION_WORKER_PROFILE']}.{index}.{task.seq}")
                else:
                    stats = run_block(task, message.base, scheduler, base_source, index)
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
