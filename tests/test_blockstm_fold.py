"""The Block-STM coordinator folds the settled prefix while the workers run, and only that.

Two layers: :class:`InOrderFold` on hand-made record logs (a stale incarnation, one that
arrives late, the gas limit, strict blocks), where each case is pinned exactly; then whole
conflict-heavy random blocks on worker processes *without* the test-only read-set re-check
(``check=False``, as in production), compared with sequential execution in every receipt,
log, root and diff.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from hyperion import ChainConfig, Engine
from hyperion.errors import InvalidTransactionError
from hyperion.evm.accountdb import WriteSet
from hyperion.evm.forks import get_fork
from hyperion.evm.processor import TxOutcome
from hyperion.evm.receipts import ReceiptBuilder
from hyperion.scheduler.blockstm.fold import InOrderFold
from hyperion.scheduler.blockstm.protocol import ExecutionRecord, TxVersion, encode_record
from hyperion.state.view import Overlay
from hyperion.types import EMPTY_CODE_HASH, TxStatus
from hyperion.tools import workloads as w
from tests.test_blockstm import assert_same, block_env, build_batch, genesis

ALICE = b"\xa1" * 20
BOB = b"\xb0" * 20
COINBASE = b"\xc0" * 20


class DictReader:
    """A base state: ``accounts`` address -> (nonce, balance, code_hash)."""

    def __init__(self, accounts):
        self.accounts = accounts

    def read_account(self, address):
        return self.accounts.get(address)

    def read_storage(self, address, slot):
        return 0

    def read_code(self, code_hash):
        return b""

    def has_storage(self, address, excluded=()):
        return False


class FakeLog:
    """The record log as the shared scheduler serves it: what was published so far."""

    def __init__(self):
        self.published = []

    def publish(self, record):
        self.published.append(encode_record(record))

    def read_records(self, position, wait=True):
        return self.published[position:], len(self.published)


def transfer(tx, incarnation, reads, writes, gas=21_000, gas_limit=21_000, status=TxStatus.SUCCESS, delta=7):
    """Tx ``tx`` read ``reads`` (address -> balance) and set ``writes`` (address -> balance)."""
    return ExecutionRecord(
        TxVersion(tx, incarnation),
        WriteSet({a: (0, b, EMPTY_CODE_HASH) for a, b in writes.items()}, {}, set(), {}, delta),
        {a: (0, b, EMPTY_CODE_HASH) for a, b in reads.items()},
        TxOutcome(status=status, gas_used=gas if status is not TxStatus.INVALID else 0, gas_limit=gas_limit),
    )


def make_fold(n, gas_limit=10**9, strict=False):
    fork = get_fork("prague")
    overlay = Overlay(DictReader({ALICE: (0, 100, EMPTY_CODE_HASH), BOB: (0, 0, EMPTY_CODE_HASH)}))
    processor = SimpleNamespace(env=SimpleNamespace(gas_limit=gas_limit, coinbase=COINBASE), max_blob_gas=0,
                                fork=fork, chain_id=1)
    job = SimpleNamespace(
        processor=processor, overlay=overlay, strict=strict, receipts=ReceiptBuilder(fork), root=None,
        light=lambda index: SimpleNamespace(index=index, type=2, hash=bytes([index]) * 32, encoded=b"tx%d" % index,
                                            sender=ALICE),
    )
    records = FakeLog()
    return InOrderFold(job, records, n), records, overlay


def balance(overlay, address):
    return overlay.read_account(address)[1]


def test_a_stale_incarnation_is_never_folded_and_its_successor_is():
    fold, log, overlay = make_fold(2)
    # tx 1 ran first, on the pre-block state: ALICE 100 -> 90
    log.publish(transfer(1, 0, {ALICE: 100}, {ALICE: 90}))
    fold.advance()
    assert fold.next == 0  # tx 0 has no record yet: nothing is settled
    # tx 0 moves 40 from ALICE to BOB: tx 1's incarnation 0 read a value that is no longer true
    log.publish(transfer(0, 0, {ALICE: 100, BOB: 0}, {ALICE: 60, BOB: 40}))
    fold.advance()
    assert fold.next == 1 and balance(overlay, ALICE) == 60
    fold.advance()  # the rejected record is not taken on a second look
    assert fold.next == 1 and balance(overlay, ALICE) == 60
    log.publish(transfer(1, 1, {ALICE: 60}, {ALICE: 50}))
    fold.advance()
    assert fold.next == 2 and balance(overlay, ALICE) == 50
    assert fold.early == 2
    # the coinbase deltas of both folded transactions, and receipts in order
    assert balance(overlay, COINBASE) == 14
    receipts = fold.job.receipts
    assert [r.cumulative_gas_used for r in receipts.results] == [21_000, 42_000]
    assert fold.finish(normal=False, check=True) is None and fold.next == 2


def test_finish_verifies_the_rest_when_the_block_stopped():
    fold, log, overlay = make_fold(3)
    log.publish(transfer(0, 0, {ALICE: 100}, {ALICE: 90}))
    log.publish(transfer(1, 0, {ALICE: 100}, {ALICE: 80}))  # stale, and no newer incarnation came
    fold.advance()
    assert fold.next == 1
    # the workers were stopped: the stale record is not used, the caller runs txs 1.. sequentially
    assert fold.finish(normal=False, check=False) is None
    assert fold.next == 1 and balance(overlay, ALICE) == 90


def test_the_block_gas_limit_is_left_to_finish():
    fold, log, overlay = make_fold(2, gas_limit=30_000)
    log.publish(transfer(0, 0, {ALICE: 100}, {ALICE: 90}))
    log.publish(transfer(1, 0, {ALICE: 90}, {ALICE: 80}))
    fold.advance()
    assert fold.next == 1  # tx 1's 21,000 gas no longer fit: not folded early
    assert fold.finish(normal=False, check=True) == "tx 1 reaches the block gas limit"
    assert fold.next == 1 and balance(overlay, ALICE) == 90


def test_a_strict_blocks_invalid_transaction_raises_only_at_finish():
    fold, log, _ = make_fold(2, strict=True)
    log.publish(transfer(0, 0, {ALICE: 100}, {ALICE: 90}))
    log.publish(transfer(1, 0, {ALICE: 90}, {}, status=TxStatus.INVALID, delta=0))
    fold.advance()
    assert fold.next == 1
    with pytest.raises(InvalidTransactionError):
        fold.finish(normal=False, check=True)


# -- whole blocks on worker processes -----------------------------------------------------------
@pytest.fixture(scope="module")
def engines():
    config = ChainConfig(system_contracts=True)
    alloc = genesis()
    sequential = Engine.in_memory(chain_config=config)
    sequential.init_genesis(alloc)
    # production settings except the threshold, the contention stop and a state-root step
    # every 8 folded transactions (not every n/8, so that small blocks take several): the fold trusts
    # Block-STM after the workers finish (check=False), so only the early fold's own
    # check stands between a stale incarnation and the result
    parallel = Engine.in_memory(chain_config=config, scheduler="blockstm", workers=2,
                                scheduler_options={"min_txs": 1, "contention_probe": 10**9, "check": False,
                                                   "root_every": 8})
    parallel.init_genesis(alloc)
    yield sequential, parallel
    sequential.close()
    parallel.close()


# kinds that make later transactions read what earlier ones wrote: a hot counter, a few
# storage keys, transfers among a few accounts, coinbase reads, nonce chains of one sender
CONFLICT_KINDS = ("counter", "store", "transfer", "forward", "coinbase_read", "to_coinbase", "revert", "bad_nonce")
conflict_actions = st.lists(
    st.tuples(st.sampled_from(CONFLICT_KINDS), st.integers(0, 11), st.integers(0, 15), st.integers(0, 1000)),
    min_size=60, max_size=160,
)


@settings(max_examples=8, deadline=None)
@given(actions=conflict_actions, contention=st.sampled_from(["low", "high", "total"]))
def test_conflict_heavy_blocks_equal_sequential_with_the_early_fold(engines, actions, contention):
    sequential, parallel = engines
    txs = build_batch(actions, contention, ChainConfig().chain_id)
    env = block_env()
    expected = sequential.execute(env, txs)
    got = parallel.execute(env, txs)
    sequential.discard(expected)
    parallel.discard(got)
    assert_same(expected, got)
    extra = got.stats.extra
    assert 0 <= extra["overlap_folded_txs"] <= len(txs)


def test_a_long_hot_block_is_folded_partly_while_the_workers_run(engines):
    """Every transaction increments one counter, so most early incarnations are stale; the
    early fold still folds a prefix (it must, or nothing overlaps) and the result is exact."""
    sequential, parallel = engines
    txs = build_batch([("counter", i, 0, 0) for i in range(200)] + [("transfer", i, i, i) for i in range(200)],
                      "total", ChainConfig().chain_id)
    env = block_env()
    expected = sequential.execute(env, txs)
    got = parallel.execute(env, txs)
    sequential.discard(expected)
    parallel.discard(got)
    assert_same(expected, got)
    assert got.stats.aborts + got.stats.dependency_waits > 0
    assert got.stats.extra["overlap_folded_txs"] > 0
    assert got.stats.extra["overlap_root_seconds"] > 0  # the state root was started early too


def test_tail_stats_name_their_parts(engines):
    sequential, parallel = engines
    chain_id = ChainConfig().chain_id
    txs = [w.sign_tx(w.wallet(i % 12), i // 12, (0xBEEF00 + i).to_bytes(20, "big"), value=1, chain_id=chain_id)
           for i in range(24)]
    for engine in (sequential, parallel):
        result = engine.execute(block_env(), txs)
        engine.discard(result)
        extra = result.stats.extra
        measured = [extra[key] for key in ("tail_fold_seconds", "tail_receipts_seconds", "tail_root_seconds")]
        assert min(measured) >= 0 and extra["tail_other_seconds"] >= 0
        # the measured parts lie inside the tail, which starts when the last transaction ran
        assert 0 < sum(measured) <= extra["tail_seconds"]
    assert result.stats.extra["parallel_seconds"] > 0


def test_an_error_in_the_early_fold_stops_the_block_and_leaves_the_pool_usable(engines, monkeypatch):
    sequential, parallel = engines
    chain_id = ChainConfig().chain_id
    txs = build_batch([("store", i, i % 4, i) for i in range(40)], "low", chain_id)

    def broken(self):
        raise RuntimeError("fold bug")

    with monkeypatch.context() as patch:
        patch.setattr(InOrderFold, "advance", broken)
        with pytest.raises(RuntimeError, match="fold bug"):
            parallel.execute(block_env(), txs)
    # the workers were stopped and waited for: the next block runs in parallel and is exact
    expected = sequential.execute(block_env(), txs)
    got = parallel.execute(block_env(), txs)
    sequential.discard(expected)
    parallel.discard(got)
    assert_same(expected, got)
