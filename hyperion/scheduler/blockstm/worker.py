"""A Block-STM worker process: ``python -m hyperion.scheduler.blockstm.worker``.

Started once as a fresh interpreter (an LMDB environment or gRPC core must never cross a
``fork()``, and unlike ``multiprocessing``'s spawn it never re-imports the caller's
``__main__``) and reused for every block; it talks to the coordinator over a socket pair.  Per block it receives the inputs once, decodes each
transaction at most once, opens its own LMDB read snapshot, and then runs the Block-STM
loop directly on the shared scheduler: take a task, sync the local multi-version memory
replica from the record log, execute or validate, publish, repeat until done.
"""
from __future__ import annotations

import os
import pickle
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

RECORD = 0
ESTIMATE_RECORD = 1
#: gas checks against the block limit happen in the coordinator, in order
UNLIMITED = 2**63


def encode_outcome(outcome) -> tuple:
    return (
        outcome.status.value, outcome.gas_used, outcome.blob_gas_used,
        tuple((log.address, log.topics, log.data) for log in outcome.logs),
        outcome.return_data, outcome.contract_address, outcome.error, outcome.sender, outcome.gas_limit,
        outcome.inference_records,
    )


def decode_outcome(data: tuple):
    from hyperion.evm.processor import TxOutcome
    from hyperion.types import Log, TxStatus

    status, gas_used, blob_gas_used, logs, return_data, contract, error, sender, gas_limit, records = data
    return TxOutcome(
        status=TxStatus(status), gas_used=gas_used, blob_gas_used=blob_gas_used,
        logs=tuple(Log(address=a, topics=t, data=d) for a, t, d in logs), return_data=return_data,
        contract_address=contract, error=error, sender=sender, gas_limit=gas_limit, inference_records=records,
    )


class _Base:
    """The state below the block: LMDB snapshot (or memory copy) + pending layers."""

    def __init__(self) -> None:
        self.store = None
        self.store_key = None
        self.memory_generation = None

    def open(self, message):
        from hyperion.state.store import Store
        from hyperion.state.view import DiffReader

        base = message["base"]
        if base["kind"] == "lmdb":
            if self.store_key != base["path"]:
                if self.store is not None:
                    self.store.close()
                self.store = Store.open_lmdb(base["path"])
                self.store_key = base["path"]
        else:
            if base.get("tables") is not None:
                from hyperion.state.kv import MemoryBackend

                backend = MemoryBackend()
                backend.load(base["tables"])
                self.store = Store(backend)
                self.store_key = None
                self.memory_generation = base["generation"]
            elif self.memory_generation != base["generation"]:
                raise RuntimeError("worker has a stale copy of the in-memory store")
        reader = self.store.reader()
        head = reader.head()
        if head.state_root != message["head_root"]:
            reader.close()
            raise RuntimeError(
                f"worker snapshot is at root {head.state_root.hex()}, the block runs on {message['head_root'].hex()}"
            )
        view = reader
        for diff in message["layers"]:
            view = DiffReader(view, diff)
        return reader, view


def run_block(message, scheduler, base_source: _Base) -> dict:
    """Run the Block-STM loop for one block until the scheduler is done or stopped."""
    from hyperion.evm.forks import FORKS
    from hyperion.evm.processor import BlockProcessor, account_db
    from hyperion.evm.transactions import prepare_one
    from hyperion.evm.state import state_class_for

    started = time.perf_counter()
    fork = FORKS[message["fork"]]
    env = message["env"]
    ancestors = message["ancestors"]
    chain_id = message["chain_id"]
    processor = BlockProcessor(fork, chain_id, env, ancestors.get, state_class_for(fork, message["precompiles"]))
    inputs = message["inputs"]
    n = len(inputs)
    coinbase = env.coinbase
    memory = MVMemory(n, coinbase)
    store_reader, base = base_source.open(message)
    prepared = {}
    fault = message.get("fault") or {}
    position = 0
    executed = 0
    validated = 0
    # where this worker's time went (ns): decoding + sender recovery, applying the other
    # workers' records to the local replica, and waiting for a task
    prepare_ns = sync_ns = idle_ns = 0
    setup_seconds = time.perf_counter() - started

    def sync() -> None:
        nonlocal position, sync_ns
        begun = time.perf_counter_ns()
        records, position = scheduler.read_records(position)
        for raw in records:
            record = pickle.loads(raw)
            if record[0] == RECORD:
                _, tx, incarnation, accounts, storage, wiped, codes, delta, reads, _outcome = record
                memory.apply_record(tx, incarnation, accounts, storage, wiped, codes, delta, reads)
            else:
                memory.apply_estimate(record[1], record[2])
        sync_ns += time.perf_counter_ns() - begun

    def execute(tx: int, incarnation: int):
        nonlocal executed, prepare_ns
        if fault.get("exit_at_tx") == tx:
            os._exit(3)  # fault injection (tests): die without a word, mid-block
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
            record = (RECORD, tx, incarnation, write_set.accounts, write_set.storage, write_set.wiped,
                      write_set.codes, write_set.coinbase_delta, view.reads, encode_outcome(outcome))
            if scheduler.append(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)) < 0:
                return NO_TASK, -1, -1  # log full: the scheduler is stopped, the coordinator falls back
            wrote_new = memory.apply_record(tx, incarnation, write_set.accounts, write_set.storage, write_set.wiped,
                                            write_set.codes, write_set.coinbase_delta, view.reads)
            scheduler.count_incarnation(time.perf_counter_ns() - begun)
            executed += 1
            return scheduler.finish_execution(tx, incarnation, wrote_new)

    def validate(tx: int, incarnation: int):
        nonlocal validated
        begun = time.perf_counter_ns()
        valid = memory.validate(tx, base, scheduler, sync)
        aborted = (not valid) and scheduler.try_validation_abort(tx, incarnation)
        if aborted:
            scheduler.append(pickle.dumps((ESTIMATE_RECORD, tx, incarnation), protocol=pickle.HIGHEST_PROTOCOL))
            memory.apply_estimate(tx, incarnation)
        validated += 1
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
    return {"executed": executed, "validated": validated, "decoded": len(prepared),
            "seconds": time.perf_counter() - started, "setup_seconds": setup_seconds,
            "prepare_seconds": prepare_ns / 1e9, "sync_seconds": sync_ns / 1e9, "idle_seconds": idle_ns / 1e9}


def worker_main(index: int, conn, shm_name: str, capacity: int, dep_capacity: int, log_capacity: int,
                lock_path: str) -> None:
    """Serve blocks until told to stop (or the coordinator goes away)."""
    started = time.perf_counter()
    segment = _attach(shm_name)
    scheduler = SharedScheduler(segment.buf, capacity, dep_capacity, log_capacity, lock_path)
    # import the execution stack now, not in the middle of the first block
    import hyperion.evm.processor  # noqa: F401
    import hyperion.evm.forks  # noqa: F401

    base_source = _Base()
    conn.send(("ready", os.getpid(), time.perf_counter() - started))
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                break
            if message[0] == "stop":
                break
            if message[0] == "warmup":
                from hyperion.evm.forks import FORKS
                from hyperion.evm.state import state_class_for

                for fork_name, names in message[1]:
                    state_class_for(FORKS[fork_name], tuple(names))
                conn.send(("warm",))
                continue
            block = pickle.loads(message[1])
            block["base"] = message[2]
            try:
                if os.environ.get("HYPERION_WORKER_PROFILE"):
                    import cProfile
                    profiler = cProfile.Profile()
                    stats = profiler.runcall(run_block, block, scheduler, base_source)
                    profiler.dump_stats(f"{os.environ['HYPERION_WORKER_PROFILE']}.{index}.{block['seq']}")
                else:
                    stats = run_block(block, scheduler, base_source)
                conn.send(("done", block["seq"], stats))
            except BaseException as exc:  # report, stop the others, let the coordinator fall back
                scheduler.set_flag(H_ERROR, 1)
                conn.send(("error", block["seq"], f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
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
    fd, shm_name, capacity, dep_capacity, log_capacity, lock_path, index = args
    conn = Connection(int(fd))
    worker_main(int(index), conn, shm_name, int(capacity), int(dep_capacity), int(log_capacity), lock_path)


if __name__ == "__main__":
    main()
