"""Engine.call / Engine.estimate_gas (hyperion.calls), what the engine remembers about
decided ids (Engine.gone), and the block pipeline on its own (BlockExecutor over a
PendingChain)."""
from __future__ import annotations

import time

import pytest

from hyperion import ChainConfig, Engine, TxStatus, UnknownBlockError, UnsignedTx
from hyperion.tools import workloads
from hyperion.block import BlockExecutor
from hyperion.calls import EstimateTimeout, call_env
from hyperion.scheduler import make_scheduler
from hyperion.state.pending import PendingChain

from tests.rpc_support import COINBASE, env, small_alloc

ALICE, BOB = workloads.wallet(0), workloads.wallet(1)
TOKEN = workloads.TOKEN_ADDRESS
ALICE_TOKENS = 10**24  # what small_alloc gives each wallet


@pytest.fixture
def engine(tmp_path):
    engine = Engine.open(str(tmp_path / "data"))
    engine.init_genesis(small_alloc(), chain_config=ChainConfig.hyperion_default(), timestamp=1_700_000_000)
    yield engine
    engine.close()


def balance_of(holder: bytes) -> UnsignedTx:
    """A read-only call; nonce None and gas 0 take the call defaults."""
    return UnsignedTx(sender=b"\0" * 20, nonce=None, gas=0, to=TOKEN, data=workloads.erc20_balance_of_data(holder))


def token_transfer(to: bytes, amount: int, *, gas: int = 0) -> UnsignedTx:
    return UnsignedTx(sender=ALICE.address, nonce=None, gas=gas, to=TOKEN,
                      data=workloads.erc20_transfer_data(to, amount))


def test_call_reads_the_head_and_keeps_nothing(engine):
    head = engine.head
    result = engine.call(balance_of(ALICE.address))
    assert result.status is TxStatus.SUCCESS and int.from_bytes(result.return_data, "big") == ALICE_TOKENS
    assert engine.head == head and engine.pending_blocks() == []


def test_call_at_a_pending_block_sees_its_state(engine):
    pending = engine.execute(env(1), [workloads.sign_tx(ALICE, 0, TOKEN, data=workloads.erc20_transfer_data(
        BOB.address, ALICE_TOKENS), gas=80_000)])
    assert int.from_bytes(engine.call(balance_of(ALICE.address), at=pending).return_data, "big") == 0
    assert int.from_bytes(engine.call(balance_of(ALICE.address)).return_data, "big") == ALICE_TOKENS
    # the sender's nonce defaults to its nonce at the pending block (1 there, 0 on the head)
    assert engine.call(token_transfer(BOB.address, 0), at=pending).status is TxStatus.SUCCESS
    assert engine.call(token_transfer(BOB.address, 0)).status is TxStatus.SUCCESS


def test_a_call_that_reverts_says_so(engine):
    result = engine.call(token_transfer(BOB.address, ALICE_TOKENS + 1))
    assert result.status is TxStatus.REVERTED and result.gas_used > 0


def test_call_at_a_discarded_block_raises_the_reason(engine):
    pending = engine.execute(env(1), [])
    engine.discard(pending, reason="was discarded: a test said so")
    with pytest.raises(UnknownBlockError, match="a test said so"):
        engine.call(balance_of(ALICE.address), at=pending)


def test_estimate_gas_is_the_least_gas_that_succeeds(engine):
    estimate = engine.estimate_gas(token_transfer(b"\x42" * 20, 5))
    assert estimate.success and estimate.gas > 21_000
    runs = {}
    for gas in (estimate.gas, estimate.gas - 1):
        tx = workloads.sign_tx(ALICE, 0, TOKEN, data=workloads.erc20_transfer_data(b"\x42" * 20, 5), gas=gas)
        runs[gas] = engine.simulate(env(1), [tx]).tx_results[0].status
    assert runs == {estimate.gas: TxStatus.SUCCESS, estimate.gas - 1: TxStatus.HALTED}
    assert engine.pending_blocks() == [] and engine.head.number == 0


def test_estimate_gas_of_a_failing_call(engine):
    estimate = engine.estimate_gas(token_transfer(BOB.address, ALICE_TOKENS + 1))
    assert not estimate.success and estimate.status is TxStatus.REVERTED and estimate.gas == 0


def test_estimate_gas_past_its_deadline(engine):
    with pytest.raises(EstimateTimeout, match="deadline"):
        engine.estimate_gas(token_transfer(BOB.address, 1), deadline=time.monotonic() - 1)


def test_call_env_defaults_follow_the_committed_head(engine):
    default = call_env(engine, gas_cap=1_000_000)
    assert (default.number, default.base_fee, default.gas_limit) == (1, 0, 1_000_000)
    committed = env(1)
    engine.commit(engine.execute(committed, []))
    after = call_env(engine)
    assert after.number == 2 and after.timestamp == committed.timestamp + 1 and after.coinbase == COINBASE
    engine.revert_to(0)
    assert engine.head_env is None and call_env(engine).number == 1


def test_gone_remembers_commits_discards_and_reverts(engine):
    one = engine.execute(env(1), [])
    sibling = engine.execute(env(1), [workloads.sign_tx(ALICE, 0, BOB.address, value=1)])
    child = engine.execute(env(2), [], parent=sibling)
    assert engine.gone(one.id) is None and engine.pending_block(one.id) is one
    engine.commit(one)
    assert engine.gone(one.id).committed == (1, one.state_root)
    assert "committed on the same parent" in engine.gone(sibling.id).reason
    assert "ancestor was dropped" in engine.gone(child.id).reason
    engine.revert_to(0)
    assert engine.gone(one.id).committed is None and "reverted" in engine.gone(one.id).reason
    assert engine.gone(123_456) is None


def test_block_executor_on_a_pending_chain_equals_execute(engine):
    first = engine.execute(env(1), [workloads.sign_tx(ALICE, 0, BOB.address, value=7)])
    txs = [workloads.sign_tx(ALICE, 1, BOB.address, value=3), workloads.sign_tx(BOB, 0, ALICE.address, value=1)]
    block = env(2, parent_hash=first.block_hash)
    with engine._lock:
        layers = [engine._pending[first.id]]
    with PendingChain(engine.store.reader(), layers) as state:
        assert state.top() == (1, first.state_root, first.block_hash)
        assert state.ancestor_hash(1) == first.block_hash
        output = BlockExecutor(engine.chain_config, engine._state_class).execute(
            block, txs, state, make_scheduler("sequential"))
    executed = engine.execute(env(2), txs, parent=first)
    result = output.to_result(block_id=0, parent_id=first.id)
    for name in ("state_root", "receipts_root", "transactions_root", "block_hash", "gas_used", "diff"):
        assert getattr(result, name) == getattr(executed, name), name
