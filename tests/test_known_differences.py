"""Each known py-evm difference (tests/known_differences.py), pinned by a scenario of its own.

For every entry: its trigger recognises the scenario, stock py-evm still differs from the
execution specs there (if py-evm is fixed upstream this fails: drop the entry), and
Hyperion agrees with the specs.  Then random batches: Hyperion may differ from stock py-evm
only on batches a known difference explains, and must agree with the specs on them.
"""
from __future__ import annotations

import pytest
import rlp
from eth_hash.auto import keccak
from hypothesis import given

from tests import known_differences
from tests.crosscheck import (
    CONTRACTS,
    COINBASE,
    FACTORY,
    KEYS,
    SENDERS,
    STORE,
    Batch,
    asm,
    batches,
    compare,
    h,
    hb,
    hyperion_t8n,
    init_returning,
    spec_t8n,
)
from hyperion.tools.conformance.fixture_json import sign, to_int, tx_from_json, tx_input
from hyperion.tools.conformance.t8n import build_env
from hyperion.evm.forks import get_fork
from hyperion.tools.reference import run_stock

pytestmark = pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")

ENV = {
    "currentCoinbase": hb(COINBASE), "currentGasLimit": h(30_000_000), "currentNumber": "0x1",
    "currentTimestamp": "0x10", "currentRandom": hb(bytes(32)), "currentBaseFee": "0x7", "withdrawals": [],
    "parentBeaconBlockRoot": hb(bytes(32)), "currentExcessBlobGas": "0x0",
}
TX = {"type": "0x2", "nonce": "0x0", "gas": h(400_000), "maxFeePerGas": "0x10", "maxPriorityFeePerGas": "0x1",
      "value": "0x0", "input": "0x", "secretKey": hb(KEYS[0]), "chainId": "0x1", "to": hb(SENDERS[1])}
FUNDED = {hb(SENDERS[0]): {"balance": h(10**18), "nonce": "0x0"}}

MODEXP_CALLER = bytes.fromhex("c0de0000000000000000000000000000000000e5")
CLEARER = bytes.fromhex("c0de0000000000000000000000000000000000c1")


def stock_outcome(batch: Batch):
    fork = get_fork(batch.fork)
    env, _ = build_env(fork, batch.env)
    raw = [tx_input(tx_from_json(dict(tx)), 1, fork) for tx in batch.txs]
    result = run_stock(fork, 1, batch.alloc, env, raw)
    return ("0x" + result.state_root.hex(), sorted(result.rejected),
            [r.cumulative_gas_used for r in result.receipts])


def spec_outcome(output):
    result = output["result"]
    return (result["stateRoot"], sorted(r["index"] for r in result["rejected"]),
            [to_int(r["cumulativeGasUsed"]) for r in result["receipts"]])


def scenario(name: str) -> Batch:
    if name == "priority-fee-above-max-fee":
        return Batch("Prague", FUNDED, ENV, [dict(TX, maxPriorityFeePerGas="0x11")])
    if name == "eip3607-sender-with-code":
        alloc = {hb(SENDERS[0]): {"balance": h(10**18), "nonce": "0x0", "code": hb(STORE)}}
        return Batch("Prague", alloc, ENV, [dict(TX)])
    if name == "eip7623-receipt-floor":
        # ten cleared slots refund 48,000 gas; 5,000 non-zero calldata bytes put the floor at
        # 221,000, above the refunded gas: stock py-evm caps the refund on the floor-raised gas
        code = b"".join(asm(0, i, "SSTORE") for i in range(10)) + asm("STOP")
        alloc = dict(FUNDED, **{hb(CLEARER): {"balance": "0x0", "nonce": "0x1", "code": hb(code),
                                              "storage": {h(i): "0x1" for i in range(10)}}})
        return Batch("Prague", alloc, ENV, [dict(TX, to=hb(CLEARER), input=hb(b"\x01" * 5000))])
    if name == "modexp-empty-base":
        # MODEXP(base = "", exponent = "", modulus = 5) must return 1; the caller stores it
        code = asm(1, 64, "MSTORE", 5, 96, "MSTORE8", 1, 0, 97, 0, 5, "GAS", "STATICCALL", "POP",
                   0, "MLOAD", 0, "SSTORE", "STOP")
        alloc = dict(FUNDED, **{hb(MODEXP_CALLER): {"balance": "0x0", "nonce": "0x1", "code": hb(code)}})
        return Batch("Prague", alloc, ENV, [dict(TX, to=hb(MODEXP_CALLER))])
    if name == "delegated-eoa-create-initcode-charged-twice":
        alloc = {hb(SENDERS[0]): {"balance": h(10**18), "nonce": "0x0",
                                  "code": hb(b"\xef\x01\x00" + CONTRACTS["factory"])},
                 hb(CONTRACTS["factory"]): {"balance": "0x0", "nonce": "0x1", "code": hb(FACTORY)}}
        return Batch("Prague", alloc, ENV, [dict(TX, to=hb(SENDERS[0]), input=hb(init_returning(STORE)))])
    if name == "wrong-chain-id":
        # signed here (a t8n signs a secretKey transaction for its own chain)
        signed = sign(tx_from_json(dict(TX, chainId="0x2")), 2)
        tx = {k: v for k, v in TX.items() if k != "secretKey"}
        return Batch("Prague", FUNDED, ENV, [dict(tx, chainId="0x2", v=h(signed.v), r=h(signed.r), s=h(signed.s))])
    if name == "eip7610-storage-collision":
        target = keccak(rlp.encode([SENDERS[0], 0]))[12:]
        alloc = dict(FUNDED, **{hb(target): {"balance": "0x1", "nonce": "0x0", "code": "0x",
                                             "storage": {"0x01": "0x01"}}})
        return Batch("Prague", alloc, ENV, [dict(TX, to=None, input=hb(init_returning(STORE)))])
    raise KeyError(name)


@pytest.mark.parametrize("name", sorted(known_differences.KNOWN_DIFFERENCES))
def test_known_difference_is_pinned(name):
    entry = known_differences.KNOWN_DIFFERENCES[name]
    batch = scenario(name)
    assert name in known_differences.explain(batch.fork, batch.alloc, batch.txs), "the trigger must see its scenario"
    spec = spec_t8n(batch)
    stock = stock_outcome(batch)
    assert stock != spec_outcome(spec), (
        f"stock py-evm now agrees with the specs on {name!r}: remove it from tests/known_differences.py")
    if entry.fixed_in is None:
        pytest.xfail(f"unexplained py-evm difference {name!r}")
    problems = compare(spec, hyperion_t8n(batch))
    assert not problems, f"Hyperion differs from the specs on {name!r}: {problems}"


@given(batches(forks=["Prague", "Cancun", "Shanghai", "London", "Berlin"], stock_compatible=True))
def test_differences_from_stock_pyevm_are_all_known(batch):
    """Hyperion vs stock py-evm on random batches: any difference must be a listed one, and
    on such batches Hyperion must agree with the specs."""
    mine = hyperion_t8n(batch)
    stock = stock_outcome(batch)
    if stock == spec_outcome(mine):
        return
    names = known_differences.explain(batch.fork, batch.alloc, batch.txs)
    assert names, (f"Hyperion and stock py-evm differ on a batch no known difference explains:\n"
                   f"stock {stock}\nhyperion {spec_outcome(mine)}\n{batch.describe()}")
    problems = compare(spec_t8n(batch), mine)
    assert not problems, f"known difference(s) {names}, but Hyperion differs from the specs: {problems}"
