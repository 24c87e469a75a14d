"""Deadlines and cancellation stop an execution promptly and keep nothing (hyperion.deadline);
a refused revert changes nothing."""
from __future__ import annotations

import time

import pytest

from hyperion import ChainConfig, Engine, RevertError, TxStatus, UnsignedTx
from hyperion.tools import workloads
from hyperion import deadline as deadline_module
from hyperion.calls import EstimateTimeout
from hyperion.errors import DeadlineExceededError, ExecutionCancelled

from tests.rpc_support import GENESIS_TIME, env, small_alloc

ALICE, BOB = workloads.wallet(0), workloads.wallet(1)
#: JUMPDEST PUSH1 0 JUMP: loops until its gas runs out (999M gas: minutes in py-evm)
LOOP = b"\x44" * 20
#: calls LOOP with all its gas, then loops itself: the check must also work in a child frame
CALLS_LOOP = b"\x45" * 20
BIG_GAS = 999_000_000
BIG_BLOCK = 1_000_000_000
#: how long a stopped execution may take past its deadline (a loaded 2-core CI machine)
SLACK = 3.0


def deadline_alloc() -> dict:
    alloc = small_alloc()
    alloc["0x" + LOOP.hex()] = {"balance": "0x0", "code": "0x5b600056"}
    # PUSH1 0 (x5) PUSH20 LOOP GAS CALL POP; JUMPDEST PUSH1 <dest> JUMP
    call = bytes.fromhex("6000600060006000600073") + LOOP + bytes.fromhex("5af150")
    code = call + b"\x5b\x60" + bytes([len(call)]) + b"\x56"
    alloc["0x" + CALLS_LOOP.hex()] = {"balance": "0x0", "code": "0x" + code.hex()}
    return alloc


@pytest.fixture
def engine():
    engine = Engine.in_memory()
    engine.init_genesis(deadline_alloc(), chain_config=ChainConfig.hyperion_default(), timestamp=GENESIS_TIME)
    yield engine
    engine.close()


def loop_tx(nonce: int = 0, to: bytes = LOOP, gas: int = BIG_GAS) -> bytes:
    return workloads.sign_tx(ALICE, nonce, to, gas=gas)


def transfers(count: int, start: int = 0) -> list:
    return [workloads.sign_tx(ALICE, start + i, BOB.address, value=1) for i in range(count)]


def assert_untouched(engine: Engine) -> None:
    """Nothing of a stopped execution is left: no pending block, head and state as before."""
    assert engine.pending_blocks() == [] and engine.head.number == 0
    assert engine.get_nonce(ALICE.address) == 0
    # and the engine goes on: the next block executes and commits
    result = engine.execute(env(1), transfers(1))
    assert result.tx_results[0].status is TxStatus.SUCCESS
    assert engine.commit(result).number == 1


@pytest.mark.parametrize("target", [LOOP, CALLS_LOOP], ids=["loop", "loop-in-a-call"])
def test_a_deadline_stops_a_long_transaction(engine, target):
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="block 1 was stopped: its deadline passed"):
        engine.execute(env(1, gas_limit=BIG_BLOCK), [loop_tx(to=target)], deadline=started + 0.3)
    assert time.monotonic() - started < 0.3 + SLACK
    assert_untouched(engine)


def test_an_expired_deadline_runs_nothing(engine):
    with pytest.raises(DeadlineExceededError):
        engine.execute(env(1), transfers(3), deadline=time.monotonic() - 1)
    assert_untouched(engine)


def test_cancellation_is_checked_between_transactions(engine, monkeypatch):
    """Plain transfers run no code: only the check before each transaction can stop them."""
    monkeypatch.setattr(deadline_module, "POLL_SECONDS", 0.0)  # ask cancelled() at every check
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 5

    with pytest.raises(ExecutionCancelled, match="its caller cancelled it") as info:
        engine.execute(env(1), transfers(40), cancelled=cancelled)
    assert not isinstance(info.value, DeadlineExceededError)
    assert len(asked) == 6  # asked before transactions 0..5, stopped before transaction 5
    assert_untouched(engine)


def test_cancellation_stops_a_long_transaction(engine):
    started = time.monotonic()
    with pytest.raises(ExecutionCancelled):
        engine.execute(env(1, gas_limit=BIG_BLOCK), [loop_tx()], cancelled=lambda: time.monotonic() > started + 0.3)
    assert time.monotonic() - started < 0.3 + SLACK
    assert_untouched(engine)


def test_a_deadline_in_the_future_changes_nothing(engine):
    txs = transfers(3) + [loop_tx(3, gas=200_000)]
    plain = engine.simulate(env(1), txs)
    timed = engine.execute(env(1), txs, deadline=time.monotonic() + 600, cancelled=lambda: False)
    assert timed.state_root == plain.state_root and timed.block_hash == plain.block_hash
    assert [r.gas_used for r in timed.tx_results] == [r.gas_used for r in plain.tx_results]
    assert timed.tx_results[3].status is TxStatus.HALTED  # out of gas, as without a deadline


def test_simulate_call_and_estimate_gas_stop_at_their_deadline(engine):
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="simulation of block 1"):
        engine.simulate(env(1, gas_limit=BIG_BLOCK), [loop_tx()], deadline=started + 0.2)
    call = UnsignedTx(sender=ALICE.address, nonce=None, gas=BIG_GAS, to=LOOP)
    with pytest.raises(DeadlineExceededError, match="the call was stopped"):
        engine.call(call, gas_cap=BIG_BLOCK, deadline=time.monotonic() + 0.2)
    with pytest.raises(EstimateTimeout, match="deadline"):
        engine.estimate_gas(call, gas_cap=BIG_BLOCK, deadline=time.monotonic() + 0.2)
    assert time.monotonic() - started < 0.6 + 3 * SLACK
    assert_untouched(engine)


def test_blockstm_engine_stops_a_block_it_runs_sequentially():
    """Block-STM runs a block below its parallel threshold sequentially, in this process:
    the same checks apply (its parallel phase checks only once it is over)."""
    with Engine.in_memory(scheduler="blockstm", workers=2) as engine:
        engine.init_genesis(deadline_alloc(), chain_config=ChainConfig.hyperion_default(), timestamp=GENESIS_TIME)
        engine.warm_up()  # start the workers now, not in the block (as servers do)
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            engine.execute(env(1, gas_limit=BIG_BLOCK), [loop_tx()], deadline=started + 0.3)
        assert time.monotonic() - started < 0.3 + SLACK
        assert_untouched(engine)


# -- a refused revert changes nothing -----------------------------------------------------------
@pytest.mark.parametrize("kind", ["memory", "lmdb"])
def test_a_refused_revert_keeps_the_pending_blocks(tmp_path, kind):
    if kind == "memory":
        engine = Engine.in_memory(revert_depth=2)
    else:
        engine = Engine.open(str(tmp_path / "data"), revert_depth=2)
    with engine:
        engine.init_genesis(deadline_alloc(), chain_config=ChainConfig.hyperion_default(), timestamp=GENESIS_TIME)
        for number in range(1, 5):
            engine.commit(engine.execute(env(number), transfers(1, start=number - 1)))
        held = engine.execute(env(5), transfers(1, start=4))
        child = engine.execute(env(6), transfers(1, start=5), parent=held)
        for target, reason in [(1004, "the head is block 4"), (5, "the head is block 4"),
                               (1, "change set of block 2 was pruned"), (-1, "before genesis")]:
            with pytest.raises(RevertError, match=reason):
                engine.revert_to(target)
            assert [p.id for p in engine.pending_blocks()] == [held.id, child.id]
            assert engine.gone(held.id) is None and engine.head.number == 4
        assert engine.commit(held).number == 5 and engine.commit(child).number == 6
