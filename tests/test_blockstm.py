"""Block-STM (parallel) execution equals sequential execution, exactly.

Random batches of transfers, contract calls and creations, reverts, self-destructs,
nonce chains, hot accounts and hot storage slots, coinbase reads and invalid
transactions, at contention levels from none to total, on 1, 2 and 4 worker processes.
Every receipt, log, return value, error, the state root and the state diff must match.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from hyperion import BlockEnv, ChainConfig, Engine, TxStatus
from hyperion.tools import workloads as w
from tests import contracts

GWEI = 10**9
SENDERS = 12
COINBASE = bytes.fromhex("c0ffee00000000000000000000000000000000c0")


def address(n: int) -> bytes:
    return (0xA000 + n).to_bytes(20, "big")


KEYED, COUNTER, COINBASE_READER, REVERTER, CREATOR, SELF_DESTRUCTOR, FORWARDER = (address(i) for i in range(7))


def genesis() -> dict:
    alloc = {"0x" + wal.address.hex(): {"balance": hex(10**21)} for wal in w.wallets(SENDERS)}
    for addr, code, balance in (
        (KEYED, contracts.KEYED_STORE, 0),
        (COUNTER, contracts.COUNTER, 0),
        (COINBASE_READER, contracts.COINBASE_READER, 0),
        (REVERTER, contracts.REVERTER, 0),
        (CREATOR, contracts.CREATOR, 0),
        (SELF_DESTRUCTOR, contracts.SELF_DESTRUCTOR, 10**18),
        (FORWARDER, contracts.FORWARDER, 0),
    ):
        alloc["0x" + addr.hex()] = {"balance": hex(balance), "code": "0x" + code.hex(), "nonce": "0x1"}
    alloc["0x" + COINBASE.hex()] = {"balance": hex(10**18)}
    return alloc


KINDS = (
    "transfer", "store", "counter", "coinbase_read", "revert", "revert_ok", "create", "deploy",
    "selfdestruct", "forward", "bad_nonce", "to_coinbase", "underpriced",
)
CONTENTION = {"none": None, "low": 8, "high": 2, "total": 1}


def build_batch(actions, contention: str, chain_id: int) -> list:
    keys = CONTENTION[contention]
    nonces = {}
    txs = []
    for position, (kind, sender_index, key, amount) in enumerate(actions):
        sender = w.wallet(sender_index % SENDERS if contention != "none" else position % SENDERS)
        key = position if keys is None else key % keys
        nonce = nonces.get(sender.index, 0)
        gas, to, value, data = 100_000, None, 0, b""
        max_fee = 3 * GWEI
        if kind == "transfer":
            to, value, gas = (0xBEEF00 + key).to_bytes(20, "big"), 1 + amount, 21_000
        elif kind == "store":
            to, data = KEYED, key.to_bytes(32, "big") + (amount + position).to_bytes(32, "big")
        elif kind == "counter":
            to = COUNTER
        elif kind == "coinbase_read":
            to = COINBASE_READER
        elif kind == "revert":
            to, data = REVERTER, b"\x01"
        elif kind == "revert_ok":
            to = REVERTER
        elif kind == "create":
            to, gas = CREATOR, 200_000
        elif kind == "deploy":
            to, data, gas = None, contracts.deploy_code(contracts.KEYED_STORE), 200_000
        elif kind == "selfdestruct":
            to = SELF_DESTRUCTOR
        elif kind == "forward":
            to, value = FORWARDER, 1 + amount
            data = (0xBEEF00 + key).to_bytes(32, "big")
        elif kind == "to_coinbase":
            to, value, gas = COINBASE, 1 + amount, 21_000
        elif kind == "underpriced":
            to, gas, max_fee = KEYED, 50_000, GWEI // 2  # below the base fee: invalid
        if kind == "bad_nonce":
            txs.append(w.sign_tx(sender, nonce + 3, KEYED, gas=50_000, chain_id=chain_id))
            continue
        txs.append(w.sign_tx(sender, nonce, to, value=value, data=data, gas=gas, chain_id=chain_id,
                             max_fee=max_fee, tip=GWEI))
        if kind != "underpriced":
            nonces[sender.index] = nonce + 1
    return txs


@pytest.fixture(scope="module")
def engines():
    config = ChainConfig(system_contracts=True)
    alloc = genesis()
    sequential = Engine.in_memory(chain_config=config)
    sequential.init_genesis(alloc)
    parallel = {}
    for workers in (1, 2, 4):
        engine = Engine.in_memory(
            chain_config=config, scheduler="blockstm", workers=workers,
            # force the parallel path on small batches, never give up on contention,
            # and re-check every folded read-set against the sequential state
            scheduler_options={"min_txs": 1, "contention_probe": 10**9, "check": True},
        )
        engine.init_genesis(alloc)
        parallel[workers] = engine
    yield sequential, parallel
    sequential.close()
    for engine in parallel.values():
        engine.close()


def block_env(number: int = 1, coinbase: bytes = COINBASE) -> BlockEnv:
    return BlockEnv(number=number, timestamp=1_700_000_000 + 12 * number, coinbase=coinbase, base_fee=GWEI,
                    gas_limit=60_000_000, parent_beacon_block_root=b"\x01" * 32)


def assert_same(expected, got) -> None:
    assert got.stats.fallback is None, got.stats.fallback
    for a, b in zip(expected.tx_results, got.tx_results, strict=True):
        assert a == b, f"transaction {a.index} differs:\n sequential {a}\n parallel   {b}"
    assert got.state_root == expected.state_root
    assert got.receipts_root == expected.receipts_root
    assert got.logs_bloom == expected.logs_bloom
    assert got.gas_used == expected.gas_used
    assert got.diff == expected.diff
    assert got.block_hash == expected.block_hash


def run_both(engines, txs, workers, coinbase=COINBASE):
    sequential, parallel = engines
    env = block_env(coinbase=coinbase)
    expected = sequential.execute(env, txs)
    got = parallel[workers].execute(env, txs)
    sequential.discard(expected)
    parallel[workers].discard(got)
    return expected, got


actions_strategy = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, SENDERS - 1), st.integers(0, 15), st.integers(0, 1000)),
    min_size=1, max_size=40,
)


@pytest.mark.parametrize("workers", [1, 2, 4])
@settings(max_examples=12)
@given(actions=actions_strategy, contention=st.sampled_from(sorted(CONTENTION)),
       coinbase_is_sender=st.booleans())
def test_parallel_equals_sequential(engines, workers, actions, contention, coinbase_is_sender):
    coinbase = w.wallet(0).address if coinbase_is_sender else COINBASE
    txs = build_batch(actions, contention, ChainConfig().chain_id)
    expected, got = run_both(engines, txs, workers, coinbase)
    assert_same(expected, got)


@pytest.mark.parametrize("contention", sorted(CONTENTION))
def test_contention_levels_on_a_larger_batch(engines, contention):
    """One fixed 120-transaction batch per contention level (deterministic, 2 workers)."""
    kinds = ["store", "counter", "transfer", "forward", "coinbase_read", "create", "revert"]
    actions = [(kinds[i % len(kinds)], i * 7, i * 3, i) for i in range(120)]
    txs = build_batch(actions, contention, ChainConfig().chain_id)
    expected, got = run_both(engines, txs, 2)
    assert_same(expected, got)
    assert sum(r.status is TxStatus.SUCCESS for r in got.tx_results) > 60


def test_hot_slot_records_aborts(engines):
    """Every transaction increments the same slot: correct, and the work shows re-executions."""
    txs = build_batch([("counter", i, 0, 0) for i in range(60)], "total", ChainConfig().chain_id)
    expected, got = run_both(engines, txs, 2)
    assert_same(expected, got)
    assert got.stats.incarnations >= 60
    assert got.stats.validations >= 60


def test_stats_are_reported(engines):
    txs = build_batch([("transfer", i, i, i) for i in range(30)], "none", ChainConfig().chain_id)
    _, got = run_both(engines, txs, 2)
    stats = got.stats
    assert stats.scheduler == "blockstm" and stats.workers == 2
    assert stats.incarnations >= 30 and stats.validations >= 30
    assert stats.extra["parallel_prefix"] == 30
    assert stats.execution_seconds > 0


def test_small_batches_fall_back_and_say_so():
    config = ChainConfig(system_contracts=True)
    with Engine.in_memory(chain_config=config, scheduler="blockstm", workers=2) as engine:
        engine.init_genesis(genesis())
        txs = build_batch([("transfer", 1, 1, 1)], "none", config.chain_id)
        result = engine.execute(block_env(), txs)
        assert "below the parallel threshold" in result.stats.fallback
        assert result.tx_results[0].status is TxStatus.SUCCESS


def test_block_gas_limit_reached_mid_batch(engines):
    """The block gas limit depends on earlier transactions: the coordinator re-checks it."""
    sequential, parallel = engines
    txs = build_batch([("store", i, i, i) for i in range(30)], "none", ChainConfig().chain_id)
    env = BlockEnv(number=1, timestamp=1_700_000_012, coinbase=COINBASE, base_fee=GWEI, gas_limit=1_000_000,
                   parent_beacon_block_root=b"\x01" * 32)
    expected = sequential.execute(env, txs)
    got = parallel[2].execute(env, txs)
    sequential.discard(expected)
    parallel[2].discard(got)
    assert any(r.status is TxStatus.INVALID and "gas limit" in r.error for r in expected.tx_results)
    for a, b in zip(expected.tx_results, got.tx_results, strict=True):
        assert a == b
    assert got.state_root == expected.state_root
    assert "block gas limit" in got.stats.fallback


def test_worker_death_mid_block_is_survived(engines):
    """A worker killed mid-block: the block still equals sequential, and it is reported."""
    sequential, parallel = engines
    engine = parallel[2]
    txs = build_batch([("store", i, i, i) for i in range(40)], "low", ChainConfig().chain_id)
    engine.scheduler.fault_injection = {"exit_at_tx": 7}
    env = block_env()
    expected = sequential.execute(env, txs)
    got = engine.execute(env, txs)
    sequential.discard(expected)
    engine.discard(got)
    for a, b in zip(expected.tx_results, got.tx_results, strict=True):
        assert a == b
    assert got.state_root == expected.state_root
    assert got.stats.worker_restarts == 1
    assert "died" in got.stats.fallback
    # the pool is whole again: the next block runs fully in parallel
    expected, got = run_both(engines, txs, 2)
    assert_same(expected, got)


def test_parallel_lmdb_engine_commits_and_pipelines(tmp_path):
    """Workers read LMDB snapshots themselves, also under pending parents."""
    config = ChainConfig(system_contracts=True)
    alloc = genesis()
    with Engine.open(str(tmp_path / "seq"), chain_config=config) as sequential, Engine.open(
        str(tmp_path / "par"), chain_config=config, scheduler="blockstm", workers=2,
        scheduler_options={"min_txs": 1, "check": True},
    ) as parallel:
        sequential.init_genesis(alloc)
        parallel.init_genesis(alloc)
        chain_id = config.chain_id
        first = build_batch([("store", i, i % 3, i) for i in range(20)], "low", chain_id)
        # second block: same senders continue their nonces
        second = [
            w.sign_tx(w.wallet(i % SENDERS), 1 + i // SENDERS + (1 if i % SENDERS < 20 - SENDERS else 0), KEYED,
                      data=(i % 3).to_bytes(32, "big") + (7 * i).to_bytes(32, "big"), gas=100_000, chain_id=chain_id,
                      max_fee=3 * GWEI, tip=GWEI)
            for i in range(20)
        ]
        results = {}
        for name, engine in (("seq", sequential), ("par", parallel)):
            a = engine.execute(block_env(1), first)
            b = engine.execute(block_env(2), second, parent=a)  # pipelined on a pending parent
            engine.commit(a)
            engine.commit(b)
            results[name] = (a, b)
        for a, b in zip(results["seq"], results["par"]):
            assert b.stats.fallback is None
            assert a.tx_results == b.tx_results
            assert a.state_root == b.state_root
        assert sequential.head == parallel.head
