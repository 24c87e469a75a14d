"""Block environment bounds (hyperion.blockenv_bounds) and the bounded blob base fee.

Regressions of issue #16, defect 1: an unbounded ``excess_blob_gas`` made the blob base fee
series run for minutes (10**12) or forever (2**64 - 1) under the engine's lock, in the
block processor and again in py-evm's BLOBBASEFEE; out-of-range env values were accepted.
"""
from __future__ import annotations

import random

import pytest

from hyperion import BlockEnv, ChainConfig, Engine, Ommer, TxStatus, UnsignedTx, Withdrawal
from hyperion.blockenv_bounds import BlockEnvError
from hyperion.evm.processor import BLOB_BASE_FEE_FRACTION, fake_exponential
from hyperion.rpc.convert import BadInput, env_from_pb
from hyperion.v1 import types_pb2 as tpb

from tests.hostile import deadline

SENDER = b"\x51" * 20
BLOB_FEE_READER = b"\x4a" * 20
#: BLOBBASEFEE PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
BLOB_FEE_CODE = bytes.fromhex("4a60005260206000f3")


def spec_fake_exponential(factor: int, numerator: int, denominator: int) -> int:
    """The execution specs' loop, unbounded."""
    i, output, accum = 1, 0, factor * denominator
    while accum > 0:
        output += accum
        accum = (accum * numerator) // (denominator * i)
        i += 1
    return output // denominator


def test_fake_exponential_is_the_specs_below_2_256():
    rng = random.Random(16)
    for fraction in BLOB_BASE_FEE_FRACTION.values():
        # up to where the specs' result passes 2**256, and the crossing itself
        limit = 180 * fraction
        values = [0, 1, fraction, 393_216, 0x0E0000, 0x240000] + [rng.randrange(limit) for _ in range(300)]
        for excess in values:
            expected = spec_fake_exponential(1, excess, fraction)
            got = fake_exponential(1, excess, fraction)
            assert got == (expected if expected < 2**256 else 2**256), excess
        lo, hi = 0, limit  # the first excess whose specs' result reaches 2**256
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if spec_fake_exponential(1, mid, fraction) < 2**256 else (lo, mid)
        assert fake_exponential(1, lo, fraction) == spec_fake_exponential(1, lo, fraction) < 2**256
        assert fake_exponential(1, hi, fraction) == 2**256 <= spec_fake_exponential(1, hi, fraction)


@pytest.mark.parametrize("excess", [10**12, 2**64 - 1])
def test_fake_exponential_is_bounded(excess):
    with deadline(2, f"fake_exponential with excess blob gas {excess}"):
        assert fake_exponential(1, excess, BLOB_BASE_FEE_FRACTION["prague"]) == 2**256


def _engine(fork: str = "prague") -> Engine:
    config = ChainConfig() if fork == "prague" else ChainConfig.single_fork(fork)
    engine = Engine.in_memory(chain_config=config)
    engine.init_genesis({"0x" + SENDER.hex(): {"balance": hex(10**20)},
                         "0x" + BLOB_FEE_READER.hex(): {"balance": "0x0", "code": "0x" + BLOB_FEE_CODE.hex()}})
    return engine


def _env(excess: int) -> BlockEnv:
    return BlockEnv(number=1, timestamp=1_700_000_012, base_fee=7, excess_blob_gas=excess,
                    parent_beacon_block_root=b"\x01" * 32)


def _read_blob_fee(nonce: int = 0) -> UnsignedTx:
    return UnsignedTx(sender=SENDER, nonce=nonce, gas=100_000, to=BLOB_FEE_READER, max_fee_per_gas=10,
                      max_priority_fee_per_gas=1)


@pytest.mark.parametrize("fork", ["cancun", "prague"])
def test_blobbasefee_is_exact_for_a_reachable_excess(fork):
    engine = _engine(fork)
    excess = 0x240000
    result = engine.simulate(_env(excess), [_read_blob_fee()])
    fraction = BLOB_BASE_FEE_FRACTION[fork]
    assert int.from_bytes(result.tx_results[0].return_data, "big") == spec_fake_exponential(1, excess, fraction)


@pytest.mark.parametrize("excess", [10**12, 2**64 - 1])
def test_huge_excess_blob_gas_does_not_stall_execution(excess):
    """The block and a BLOBBASEFEE inside it finish at once: the fee is past any uint256,
    so the opcode fails as it does for every such fee (py-evm cannot push it)."""
    engine = _engine()
    with deadline(30, f"a block with excess blob gas {excess}"):
        empty = engine.simulate(_env(excess), [])
    assert empty.block_exception is None
    # py-evm's own BLOBBASEFEE (10,000 rounds of its series, most of a second each) is
    # replaced too;
    # an invalid transaction uses no nonce, so every one of these reads the fee
    with deadline(10, f"40 BLOBBASEFEE transactions under excess blob gas {excess}"):
        result = engine.simulate(_env(excess), [_read_blob_fee() for _ in range(40)])
    assert [r.status for r in result.tx_results] == [TxStatus.INVALID] * 40


VALID = dict(number=1, timestamp=1)


@pytest.mark.parametrize("changes, field", [
    (dict(number=2**64), "number"),
    (dict(number=-1), "number"),
    (dict(timestamp=2**64), "timestamp"),
    (dict(gas_limit=2**63), "gas_limit"),
    (dict(gas_limit=4999), "gas_limit"),
    (dict(base_fee=2**256), "base_fee"),
    (dict(difficulty=2**256), "difficulty"),
    (dict(excess_blob_gas=2**64), "excess_blob_gas"),
    (dict(max_blob_gas_per_block=-1), "max_blob_gas_per_block"),
    (dict(coinbase=b"\x01" * 19), "coinbase"),
    (dict(prev_randao=b"\x01" * 33), "prev_randao"),
    (dict(parent_hash=b""), "parent_hash"),
    (dict(parent_beacon_block_root=b"\x01" * 31), "parent_beacon_block_root"),
    (dict(block_hashes={0: b"\x01" * 31}), "block_hashes[0]"),
    (dict(block_hashes={2**64: b"\x01" * 32}), "block_hashes key"),
    (dict(withdrawals=(Withdrawal(0, 0, b"\x01" * 20, 2**64),)), "withdrawals[0].amount"),
    (dict(withdrawals=(Withdrawal(2**64, 0, b"\x01" * 20, 1),)), "withdrawals[0].index"),
    (dict(withdrawals=(Withdrawal(0, -1, b"\x01" * 20, 1),)), "withdrawals[0].validator_index"),
    (dict(withdrawals=(Withdrawal(0, 0, b"\x01" * 21, 1),)), "withdrawals[0].address"),
    (dict(extra_data=b"\x00" * 33), "extra_data"),
    (dict(block_reward=-2), "block_reward"),
    (dict(ommers=(Ommer(7, b"\x01" * 20),)), "ommers[0].delta"),
    (dict(number="1"), "number"),
    (dict(gas_limit=True), "gas_limit"),
])
def test_out_of_range_fields_are_refused_by_name(changes, field):
    with pytest.raises(BlockEnvError) as info:
        BlockEnv(**{**VALID, **changes})
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_the_largest_values_a_header_holds_are_accepted():
    env = BlockEnv(number=2**64 - 1, timestamp=2**64 - 1, gas_limit=2**63 - 1, base_fee=2**256 - 1,
                   difficulty=2**256 - 1, excess_blob_gas=2**64 - 1, extra_data=b"\x00" * 32,
                   withdrawals=(Withdrawal(2**64 - 1, 2**64 - 1, b"\x01" * 20, 2**64 - 1),),
                   block_hashes={2**64 - 2: b"\x02" * 32}, ommers=(Ommer(6, b"\x03" * 20),), block_reward=-1)
    assert env.gas_limit == 2**63 - 1


def test_grpc_env_out_of_range_is_invalid_argument():
    with pytest.raises(BadInput, match=r"env\.gas_limit"):
        env_from_pb(tpb.BlockEnv(number=1, timestamp=1, gas_limit=2**64 - 1))
    with pytest.raises(BadInput, match=r"env\.gas_limit"):
        env_from_pb(tpb.BlockEnv(number=1, timestamp=1, gas_limit=4999))
    with pytest.raises(BadInput, match=r"env\.extra_data"):
        env_from_pb(tpb.BlockEnv(number=1, timestamp=1, extra_data=b"\x00" * 33))
    assert env_from_pb(tpb.BlockEnv(number=1, timestamp=1, excess_blob_gas=2**64 - 1)).excess_blob_gas == 2**64 - 1


def test_grpc_execute_with_huge_excess_blob_gas_answers_and_the_server_stays_usable(tmp_path):
    """`hyperion serve` in a subprocess: before the fix its writer spun forever, and every
    later call timed out (the subprocess is killed at the end either way)."""
    import json

    from tests.rpc_support import ServeProcess, env as rpc_env, small_alloc

    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(small_alloc()))
    serve = ServeProcess(str(tmp_path / "data"), "--genesis", str(genesis))
    try:
        serve.wait_listening()
        with serve.client(timeout=30) as client:
            result = client.execute(rpc_env(1, excess_blob_gas=2**64 - 1), [], mode="simulate")
            assert result.state == "simulated"
            assert client.get_head().head.number == 0  # the writer is free again
    finally:
        serve.kill()
