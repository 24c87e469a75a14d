"""A refused revert changes nothing."""
from __future__ import annotations

import pytest

from hyperion import ChainConfig, Engine, RevertError, workloads

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


def transfers(count: int, start: int = 0) -> list:
    return [workloads.sign_tx(ALICE, start + i, BOB.address, value=1) for i in range(count)]


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
