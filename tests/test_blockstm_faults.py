"""Block-STM workers fail in every state and the block still equals sequential execution
(hyperion.scheduler.blockstm.pool): killed idle, while starting, warming up, mid-block,
holding a scheduler lock, half-way through a record; frozen (the watchdog); stopped by the
caller's deadline.  After each, the pool is whole again and the next block runs in parallel."""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time

import pytest

from hyperion import ChainConfig, Engine
from hyperion.errors import DeadlineExceededError
from hyperion.tools import workloads as w
from tests.test_blockstm import assert_same, block_env, build_batch, genesis

#: JUMPDEST PUSH1 0 JUMP: loops until its gas runs out
LOOP = (0xD00D).to_bytes(20, "big")
WORKERS = 2


def fault_alloc() -> dict:
    alloc = genesis()
    alloc["0x" + LOOP.hex()] = {"balance": "0x0", "code": "0x5b600056"}
    return alloc


@pytest.fixture(scope="module")
def engines():
    config = ChainConfig(system_contracts=True)
    alloc = fault_alloc()
    sequential = Engine.in_memory(chain_config=config)
    sequential.init_genesis(alloc)
    parallel = Engine.in_memory(
        chain_config=config, scheduler="blockstm", workers=WORKERS,
        # parallel on small blocks, never give up on contention, re-check every read-set;
        # a short watchdog slack keeps the frozen-worker test quick
        scheduler_options={"min_txs": 1, "contention_probe": 10**9, "check": True, "watchdog_slack": 0.5},
    )
    parallel.init_genesis(alloc)
    parallel.warm_up()
    # this chain has no extra precompiles, so the engine warms nothing up; warm the fork's
    # state class so that replacements have a warm-up to go through (and to die in)
    parallel.scheduler.warm_up([(config.fork_at(1, block_env().timestamp).name, ())])
    yield sequential, parallel
    sequential.close()
    parallel.close()


def stores(count: int) -> list:
    return build_batch([("store", i, i, i) for i in range(count)], "low", ChainConfig().chain_id)


def execute_both(engines, txs, **kwargs):
    sequential, parallel = engines
    env = block_env()
    expected = sequential.execute(env, txs)
    sequential.discard(expected)
    got = parallel.execute(env, txs, **kwargs)
    parallel.discard(got)
    return expected, got


def assert_same_result(expected, got) -> None:
    for a, b in zip(expected.tx_results, got.tx_results, strict=True):
        assert a == b, f"transaction {a.index} differs:\n sequential {a}\n parallel   {b}"
    assert (got.state_root, got.receipts_root, got.gas_used, got.diff) == (
        expected.state_root, expected.receipts_root, expected.gas_used, expected.diff)


def assert_pool_healthy(engines) -> None:
    """Every worker is up, and the next block runs wholly in parallel with the exact result."""
    expected, got = execute_both(engines, stores(24))
    assert_same(expected, got)
    assert got.stats.worker_restarts == 0
    pool = engines[1].scheduler.pool
    assert len(pool.workers) == WORKERS and all(worker.alive() for worker in pool.workers)


def worker_pids(engine) -> list:
    return [worker.process.pid for worker in engine.scheduler.pool.workers]


@pytest.mark.parametrize("holding", [None, "lock", "record"])
def test_worker_dies_mid_block(engines, holding):
    """Killed mid-block -- plain, holding a scheduler lock, or half-way through a record."""
    fault = {"exit_at_tx": 7}
    if holding:
        fault["holding"] = holding
    engines[1].scheduler.fault_injection = fault
    expected, got = execute_both(engines, stores(40))
    assert_same_result(expected, got)
    assert got.stats.worker_restarts >= 1
    assert "died mid-block" in got.stats.fallback
    assert_pool_healthy(engines)


@pytest.mark.parametrize("replacement", ["start", "warm-up"])
def test_replacement_dies_too(engines, replacement, caplog):
    """Killed mid-block, then its replacement dies while starting (or warming up): the block
    is exact, no socket error reaches the caller, later blocks run in parallel again."""
    engines[1].scheduler.fault_injection = {"exit_at_tx": 7, "replacement": replacement}
    expected, got = execute_both(engines, stores(40))
    assert_same_result(expected, got)
    # the replacement's death is found (and healed) before the next block
    with caplog.at_level(logging.ERROR, logger="hyperion.blockstm"):
        expected, got = execute_both(engines, stores(24))
    assert_same(expected, got)
    assert got.stats.worker_restarts == 1 and got.stats.extra["pool_repairs"] == 1
    assert f"died while {'starting' if replacement == 'start' else 'warming'}" in caplog.text
    assert_pool_healthy(engines)


def test_worker_killed_while_idle(engines):
    """A worker SIGKILLed between blocks is replaced before the next block, which runs in parallel."""
    os.kill(worker_pids(engines[1])[0], signal.SIGKILL)
    time.sleep(0.05)
    expected, got = execute_both(engines, stores(24))
    assert_same(expected, got)
    assert got.stats.worker_restarts == 1
    assert_pool_healthy(engines)


def test_frozen_worker_is_killed_by_the_watchdog(engines):
    """SIGSTOP one worker 0.05 s into a block: the watchdog stops the block, kills the silent
    worker and the block still equals sequential; it is reported in the stats."""
    sequential, parallel = engines
    txs = stores(1200)  # long enough that the block is still running when the worker freezes
    expected = sequential.execute(block_env(), txs)
    sequential.discard(expected)
    frozen = worker_pids(parallel)[0]
    # the clock starts with the parallel block (the sequential one above would use it up)
    freeze = threading.Timer(0.05, os.kill, (frozen, signal.SIGSTOP))
    freeze.start()
    try:
        got = parallel.execute(block_env(), txs)
        parallel.discard(got)
    finally:
        freeze.cancel()
    assert_same_result(expected, got)
    assert "watchdog" in got.stats.fallback
    assert "silent; killed and replaced" in got.stats.fallback
    assert got.stats.worker_restarts >= 1
    assert frozen not in worker_pids(engines[1])
    with pytest.raises(ProcessLookupError):
        os.kill(frozen, 0)  # killed and reaped
    assert_pool_healthy(engines)


def test_deadline_stops_the_workers(engines):
    """A block of long loops with a 0.5 s deadline: the workers are stopped promptly (killed
    if need be), nothing is kept, and the pool heals."""
    sequential, parallel = engines
    # 240M gas of JUMP loop each: about a second per transaction even in the compiled
    # interpreter, so the workers are still busy when the deadline passes
    sender_txs = [w.sign_tx(w.wallet(i), 0, LOOP, gas=240_000_000, chain_id=ChainConfig().chain_id)
                  for i in range(4)]
    head = (parallel.head.number, parallel.head.state_root)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        parallel.execute(dataclasses.replace(block_env(), gas_limit=10**9), sender_txs, deadline=started + 0.5)
    assert time.monotonic() - started < 4.0
    assert parallel.pending_blocks() == []
    assert (parallel.head.number, parallel.head.state_root) == head
    assert_pool_healthy(engines)


def test_a_pool_whose_workers_die_while_starting_still_starts():
    """Initial start: one worker dies before Ready, its replacement dies warming up."""
    config = ChainConfig(system_contracts=True)
    engine = Engine.in_memory(chain_config=config, scheduler="blockstm", workers=1,
                              scheduler_options={"min_txs": 1, "check": True})
    try:
        engine.init_genesis(fault_alloc())
        engine.scheduler.fault_injection = {"spawn": ["start", "warm-up"]}
        engine.warm_up()  # raises nothing
        engine.scheduler.warm_up([(config.fork_at(1, block_env().timestamp).name, ())])  # as in engines()
        assert engine.scheduler.pool.restarts == 2
        txs = stores(20)
        got = engine.execute(block_env(), txs)
        assert got.stats.fallback is None
        assert got.tx_results[0].status.name == "SUCCESS"
    finally:
        engine.close()
