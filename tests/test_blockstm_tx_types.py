"""Block-STM equals sequential on Prague's transaction types, and runs them without fallback.

Random batches of legacy, access-list (EIP-2930), dynamic-fee (EIP-1559), blob (EIP-4844,
type 3) and set-code (EIP-7702, type 4) transactions: access lists that warm contracts,
slots, other senders and the coinbase; authorizations that delegate an EOA to a contract,
clear the delegation or carry a stale nonce; calls into delegated EOAs; blob transactions
with one or two versioned hashes; a CREATE2 factory whose child self-destructs in the
transaction that created it (EIP-6780), so that a later transaction re-creates the child at
the same address, or collides with a child still alive (and halts).  Every result must equal the
sequential engine's, and ``stats.fallback`` must be None: these are ordinary blocks, and
the workers must finish them themselves.
"""
from __future__ import annotations

import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings, strategies as st

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads as w
from tests import contracts
from tests.evm_asm import asm
from tests.test_blockstm import assert_same
from tests.txgen import authorization, sign

GWEI = 10**9
CHAIN_ID = 1
SENDERS = 8
#: EOAs that only sign authorizations (their nonce moves with every valid one)
AUTHORITIES = [w.wallet(100 + i) for i in range(3)]
COINBASE = bytes.fromhex("c0ffee00000000000000000000000000000000c1")
KEYED = (0xB000).to_bytes(20, "big")
COUNTER = (0xB001).to_bytes(20, "big")
FACTORY = (0xB002).to_bytes(20, "big")
#: blobs a Prague block may carry (EIP-7691: 9); more would end the block, not test it
MAX_BLOBS = 9

#: the child: slot0 = 42, runtime SELFDESTRUCT(CALLER)
CHILD_INIT = asm(42, 0, "SSTORE", 0x33FF, 0, "MSTORE", 2, 30, "RETURN")
#: slot[salt] = CREATE2(child, salt = calldata[0]); if calldata[1] != 0, call the child
#: (it self-destructs: removed, since it was created in this very transaction)
FACTORY_CODE = asm(
    int.from_bytes(CHILD_INIT, "big"), 0, "MSTORE",
    0, "CALLDATALOAD", len(CHILD_INIT), 32 - len(CHILD_INIT), 0, "CREATE2",
    "DUP1", 0, "CALLDATALOAD", "SSTORE",
    32, "CALLDATALOAD", "ISZERO", ("ref", "end"), "JUMPI",
    0, 0, 0, 0, 0, "DUP6", "GAS", "CALL", "POP",
    ("label", "end"), "STOP",
)


def genesis() -> dict:
    alloc = {"0x" + wal.address.hex(): {"balance": hex(10**21)} for wal in w.wallets(SENDERS)}
    for wal in AUTHORITIES:
        alloc["0x" + wal.address.hex()] = {"balance": hex(10**18)}
    for addr, code in ((KEYED, contracts.KEYED_STORE), (COUNTER, contracts.COUNTER), (FACTORY, FACTORY_CODE)):
        alloc["0x" + addr.hex()] = {"balance": "0x0", "code": "0x" + code.hex(), "nonce": "0x1"}
    alloc["0x" + COINBASE.hex()] = {"balance": hex(10**18)}
    return alloc


@pytest.fixture(scope="module")
def engines():
    config = ChainConfig(chain_id=CHAIN_ID)
    alloc = genesis()
    sequential = Engine.in_memory(chain_config=config)
    parallel = Engine.in_memory(chain_config=config, scheduler="blockstm", workers=2,
                                # every batch in parallel, never judged contended; every read re-checked
                                scheduler_options={"min_txs": 1, "contention_probe": 10**9, "check": True})
    for engine in (sequential, parallel):
        engine.init_genesis(alloc)
    yield sequential, parallel
    sequential.close()
    parallel.close()


KINDS = ("transfer", "store", "counter", "create2", "create2_destroy", "blob", "set_code", "call_delegated")
TX_TYPES = (0, 1, 2)


class Batch:
    """Turns drawn actions into signed transactions, tracking every signer's nonce."""

    def __init__(self) -> None:
        self.nonces = {}
        self.blobs = 0
        self.txs = []

    def next_nonce(self, wallet) -> int:
        nonce = self.nonces.get(wallet.index, 0)
        self.nonces[wallet.index] = nonce + 1
        return nonce

    def access_list(self, picks, sender_index: int):
        candidates = [(KEYED, [0, 1, 2]), (COUNTER, [0]), (FACTORY, [3]), (COINBASE, []),
                      (w.wallet((sender_index + 1) % SENDERS).address, []), (AUTHORITIES[0].address, [7])]
        return [(candidates[i][0], candidates[i][1]) for i in sorted(set(picks))]

    def add(self, kind, sender_index, key, tx_type, picks, delegate, stale) -> None:
        sender = w.wallet(sender_index)
        common = dict(chain_id=CHAIN_ID, max_fee=3 * GWEI, tip=GWEI, gas_price=3 * GWEI)
        access = self.access_list(picks, sender_index) if tx_type else ()
        to, data, gas, value = KEYED, b"", 120_000, 0
        if kind == "transfer":
            to, value, gas = (0xBEEF00 + key).to_bytes(20, "big"), 1 + key, 60_000
        elif kind == "store":
            data = key.to_bytes(32, "big") + (1 + key).to_bytes(32, "big")
        elif kind == "counter":
            to = COUNTER
        elif kind in ("create2", "create2_destroy"):
            to, gas = FACTORY, 200_000
            data = (key % 3).to_bytes(32, "big") + (1 if kind == "create2_destroy" else 0).to_bytes(32, "big")
        elif kind == "call_delegated":
            to = AUTHORITIES[key % len(AUTHORITIES)].address
            data = (key % 4).to_bytes(32, "big") + key.to_bytes(32, "big")
        if kind == "blob" and self.blobs < MAX_BLOBS:
            hashes = [b"\x01" + bytes([key, i]) * 15 + b"\x00" for i in range(1 + key % 2)][: MAX_BLOBS - self.blobs]
            self.blobs += len(hashes)
            self.txs.append(sign("Prague", sender.key, nonce=self.next_nonce(sender), to=KEYED, tx_type=3,
                                 data=(key + 16).to_bytes(32, "big") + b"\x00" * 31 + b"\x01", gas=100_000,
                                 access_list=access, blob_hashes=hashes, max_fee_per_blob_gas=10, **common))
            return
        if kind == "set_code":
            nonce = self.next_nonce(sender)
            authority = AUTHORITIES[key % len(AUTHORITIES)]
            target = (KEYED, COUNTER, b"\x00" * 20)[delegate]
            auth_nonce = self.nonces.get(authority.index, 0) + (5 if stale else 0)
            if not stale:
                self.nonces[authority.index] = auth_nonce + 1
            auths = [authorization(authority.key, CHAIN_ID, target, auth_nonce)]
            self.txs.append(sign("Prague", sender.key, nonce=nonce, to=KEYED, tx_type=4, gas=150_000,
                                 data=key.to_bytes(32, "big") + b"\x00" * 32, access_list=access,
                                 authorizations=auths, **common))
            return
        self.txs.append(sign("Prague", sender.key, nonce=self.next_nonce(sender), to=to, value=value, data=data,
                             gas=gas, tx_type=tx_type, access_list=access, **common))


actions_strategy = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, SENDERS - 1), st.integers(0, 11), st.sampled_from(TX_TYPES),
              st.lists(st.integers(0, 5), max_size=3), st.integers(0, 2), st.booleans()),
    min_size=2, max_size=24,
)


def block_env(number: int = 1) -> BlockEnv:
    return BlockEnv(number=number, timestamp=1_700_000_000 + 12 * number, coinbase=COINBASE, base_fee=GWEI,
                    gas_limit=60_000_000, parent_beacon_block_root=b"\x01" * 32, excess_blob_gas=0)


def run_both(engines, txs):
    sequential, parallel = engines
    env = block_env()
    expected = sequential.execute(env, txs)
    got = parallel.execute(env, txs)
    sequential.discard(expected)
    parallel.discard(got)
    return expected, got


@settings(max_examples=15)
@given(actions=actions_strategy)
def test_prague_transaction_types_run_in_parallel_and_equal_sequential(engines, actions):
    batch = Batch()
    for action in actions:
        batch.add(*action)
    expected, got = run_both(engines, batch.txs)
    assert_same(expected, got)  # includes: no fallback


def test_create2_recreation_and_delegation_in_one_block(engines):
    """A fixed block that certainly exercises what the random ones may miss: the child is
    created and destroyed, re-created at the same address, collided with while alive; an
    EOA is delegated, called through its delegation, and cleared."""
    batch = Batch()
    for action in (
        ("create2_destroy", 0, 0, 2, [], 0, False), ("create2_destroy", 1, 0, 1, [2], 0, False),  # re-created
        ("create2", 2, 0, 2, [], 0, False), ("create2", 3, 0, 0, [], 0, False),  # alive, then a collision
        ("set_code", 4, 0, 2, [0, 3], 1, False), ("call_delegated", 5, 0, 2, [], 0, False),
        ("set_code", 6, 0, 2, [], 2, False), ("call_delegated", 7, 0, 1, [5], 0, False),
        ("set_code", 0, 1, 2, [], 0, True),  # stale authorization: skipped, the tx still runs
        ("blob", 1, 3, 2, [1, 4], 0, False), ("blob", 2, 4, 2, [], 0, False),
        ("store", 3, 5, 1, [0, 3, 4], 0, False), ("counter", 4, 0, 0, [], 0, False),
    ):
        batch.add(*action)
    expected, got = run_both(engines, batch.txs)
    assert_same(expected, got)
    statuses = [r.status.name for r in expected.tx_results[:4]]
    # a CREATE2 onto a live account fails and burns the gas it was given (the factory halts)
    assert statuses == ["SUCCESS", "SUCCESS", "SUCCESS", "HALTED"]
    # the child re-created by tx 2 is alive, with its constructor's slot, and recorded by salt
    child = keccak(b"\xff" + FACTORY + (0).to_bytes(32, "big") + keccak(CHILD_INIT))[12:]
    assert expected.diff.accounts[child] is not None and expected.diff.storage[child] == {0: 42}
    assert expected.diff.storage[FACTORY] == {0: int.from_bytes(child, "big")}
    # authority 0 was delegated (tx 4) and cleared (tx 6); the stale authorization changed nothing
    assert expected.diff.accounts[AUTHORITIES[0].address].nonce == 2
    assert AUTHORITIES[1].address not in expected.diff.accounts
