"""A Block-STM worker's per-transaction loop next to the sequential loop, in one process.

    python benchmarks/stm_worker_loop.py [--txs 3000] [--rounds 6] [--workload eth|erc20]

End-to-end figures (``bench_stm_worker.py``) on a shared machine mix a worker's own cost
with how much CPU each process got.  This runs the loops themselves, on the same LMDB
state and the same signed block as ``bench_stm_worker.py`` builds, alternating, in one
process, and reports the median CPU time per transaction of each part:

- ``sequential``: decode + recover, execute on the block overlay, apply the write-set;
- ``worker``: what a Block-STM worker does per transaction on a conflict-free block --
  decode + recover, execute on a multi-version view, take the write-set, build and
  encode the record, install it in the local replica, validate the read-set;
- ``worker, per-incarnation state``: the same with a fresh py-evm state per incarnation,
  the worker's own record decoded and installed a second time when it syncs, reads below
  the block not kept, and the cyclic collector running, as the worker did before issue 13.

No scheduler and no other process take part, so the shared-memory calls (a few atomic
operations per task) are not in these figures.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.evm.forks import FORKS
from hyperion.evm.processor import BlockProcessor, account_db
from hyperion.evm.state import state_class_for
from hyperion.evm.transactions import prepare_one
from hyperion.scheduler.blockstm.mvmemory import MVMemory, MVView
from hyperion.scheduler.blockstm.protocol import ExecutionRecord, TxVersion, decode_record, encode_record
from hyperion.scheduler.blockstm.worker import UNLIMITED, BlockBase, install
from hyperion.state.view import Overlay
from hyperion.tools import workloads as w

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_stm_worker import CHAIN_ID, build_block  # noqa: E402


class _NoLowerTransactions:
    """The scheduler as a worker's view sees it when every lower transaction is final."""

    def first_not_executed(self, below):
        return -1


def _sync():
    pass


def sequential_loop(engine, processor, fork, batch):
    reader = engine.store.reader()
    overlay = Overlay(reader)
    state = processor.new_state(overlay)
    accounts = account_db(state)
    for index, raw in enumerate(batch):
        prepared = prepare_one(fork, raw, CHAIN_ID, index)
        processor.execute_transaction(state, prepared, 10**10, 10**9)
        overlay.apply(accounts.take_write_set())
    reader.close()


def worker_loop(engine, processor, fork, batch, per_incarnation_state=False):
    store_reader = engine.store.reader()
    reader = store_reader if per_incarnation_state else BlockBase(store_reader)
    coinbase = processor.env.coinbase
    memory = MVMemory(len(batch), coinbase)
    scheduler = _NoLowerTransactions()
    senders = {}
    state = accounts = None
    collecting = gc.isenabled()
    if not per_incarnation_state:
        gc.disable()
    try:
        for index, raw in enumerate(batch):
            prepared = prepare_one(fork, raw, CHAIN_ID, index, senders.get(index))
            view = MVView(memory, index, reader, scheduler, _sync)
            if state is None or per_incarnation_state:
                state = processor.new_state(view)
                accounts = account_db(state)
                accounts.enable_lazy_coinbase(coinbase)
            else:
                accounts.rebind(view)
            outcome = processor.execute_transaction(state, prepared, UNLIMITED, UNLIMITED)
            record = ExecutionRecord(TxVersion(index, 0), accounts.take_write_set(), view.reads, outcome,
                                     outcome.sender)
            raw_record = encode_record(record, 0)
            install(memory, record, senders)
            if per_incarnation_state:  # the sync used to decode and re-install the worker's own records
                install(memory, decode_record(raw_record, outcome=False), senders)
            memory.validate(index, reader, scheduler, _sync)
    finally:
        if collecting:
            gc.enable()
    store_reader.close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--workload", choices=["eth", "erc20"], default="eth")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(os.path.join(tmp, "state"), chain_config=ChainConfig(chain_id=CHAIN_ID))
        try:
            engine.init_genesis(w.genesis_alloc(args.txs))
            batch = build_block(args.workload, args.txs)
            fork = FORKS["prague"]
            env = BlockEnv(number=1, timestamp=1_700_000_012, coinbase=b"\xc0" * 20, base_fee=w.GWEI,
                           gas_limit=10**10, parent_beacon_block_root=b"\x01" * 32)
            processor = BlockProcessor(fork, CHAIN_ID, env, lambda number: None, state_class_for(fork, ()))
            loops = {
                "sequential": lambda: sequential_loop(engine, processor, fork, batch),
                "worker": lambda: worker_loop(engine, processor, fork, batch),
                "worker, per-incarnation state": lambda: worker_loop(engine, processor, fork, batch, True),
            }
            names = list(loops)
            times = {name: [] for name in names}
            for round_ in range(args.rounds + 1):  # round 0 warms up and is not reported
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    started = time.process_time()
                    loops[name]()
                    if round_:
                        times[name].append(time.process_time() - started)
        finally:
            engine.close()
    base = statistics.median(times["sequential"])
    print(f"{args.workload}, {args.txs} txs, CPU per transaction, median of {args.rounds} rounds (alternating):")
    for name in names:
        median = statistics.median(times[name])
        ratios = sorted(t / s for t, s in zip(times[name], times["sequential"]))
        print(f"  {name:32} {median / args.txs * 1e6:7.1f} us/tx  {median / base:.2f}x sequential"
              f" (per round {ratios[0]:.2f}-{ratios[-1]:.2f})")


if __name__ == "__main__":
    main()
