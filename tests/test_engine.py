"""The Engine and its store, on both backends (in memory and LMDB).

Commit / discard / revert / reopen, pipelined pending blocks, stale parents, the revert
window and change-set pruning, a crash inside the LMDB write transaction, invalid
transactions (no effect, no receipt gaps, clear reasons, strict mode), genesis validation,
unsigned transactions of types 0/1/2/4, and BLOCKHASH over committed and pending ancestors.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
import rlp
from eth_hash.auto import keccak

from hyperion import (
    Authorization,
    BlockEnv,
    ChainConfig,
    ChainConfigError,
    Engine,
    GenesisError,
    InvalidTransactionError,
    RevertError,
    StaleParentError,
    TxStatus,
    UnknownBlockError,
    UnsignedTx,
)
from hyperion.tools import workloads
from hyperion.state import kv

from tests import evm_asm as A
from tests import txgen

CONFIG = ChainConfig()  # Prague, system contracts, chain 31337
CHAIN_ID = CONFIG.chain_id
GENESIS_TIME = 1_700_000_000
COINBASE = bytes.fromhex("c0" + "00" * 18 + "01")
WALLETS = workloads.wallets(8)
ALLOC = workloads.genesis_alloc(8)
BLOCKHASH_READER = bytes(19 * [0xB1]) + b"\x01"
# stores BLOCKHASH(NUMBER - k) in slot k for k = 1..4
ALLOC["0x" + BLOCKHASH_READER.hex()] = {
    "code": "0x" + A.program([A.blockhash(k, k) for k in range(1, 5)] + [A.stop()]).hex()
}


def env(number: int, **changes) -> BlockEnv:
    base = BlockEnv(number=number, timestamp=GENESIS_TIME + 12 * number, coinbase=COINBASE,
                    base_fee=workloads.GWEI, parent_beacon_block_root=number.to_bytes(32, "big"))
    return replace(base, **changes)


class Backend:
    """Opens engines on one backend; ``reopen`` only exists for LMDB."""

    def __init__(self, kind: str, path: str) -> None:
        self.kind, self.path = kind, path
        self.engines = []

    def open(self, genesis: bool = True, **options) -> Engine:
        options.setdefault("chain_config", CONFIG)
        if self.kind == "memory":
            engine = Engine.in_memory(**options)
        else:
            engine = Engine.open(self.path, **options)
        self.engines.append(engine)
        if genesis and engine.head.number < 0:
            engine.init_genesis(ALLOC, chain_config=options["chain_config"], timestamp=GENESIS_TIME)
        return engine

    def close(self):
        for engine in self.engines:
            try:
                engine.close()
            except Exception:
                pass


@pytest.fixture(params=["memory", "lmdb"])
def backend(request, tmp_path):
    b = Backend(request.param, str(tmp_path / "data"))
    yield b
    b.close()


def transfers(engine, count, at=None, start=0, value=1000, to=None):
    txs = []
    nonces = {}
    for i in range(count):
        wallet = WALLETS[(start + i) % len(WALLETS)]
        nonce = nonces.get(wallet.index, engine.get_nonce(wallet.address, at=at))
        nonces[wallet.index] = nonce + 1
        txs.append(workloads.sign_tx(wallet, nonce, to or (0xEE00 + start + i).to_bytes(20, "big"), value=value))
    return txs


def token_transfer(engine, wallet, receiver, amount, at=None):
    data = workloads.erc20_transfer_data(receiver, amount)
    return workloads.sign_tx(wallet, engine.get_nonce(wallet.address, at=at), workloads.TOKEN_ADDRESS, data=data,
                             gas=100_000)


def dump(engine):
    """Every table except the ones that record history (blocks, change sets)."""
    out = {}
    with engine.store.backend.read() as txn:
        for table in ("accounts", "storage", "code", "meta"):
            out[table] = dict(txn.iter_from(table))
    return out


def full_dump(engine):
    out = {}
    with engine.store.backend.read() as txn:
        for table in kv.TABLES:
            out[table] = dict(txn.iter_from(table))
    return out


def run_blocks(engine, count, first=1):
    results = []
    for number in range(first, first + count):
        result = engine.execute(env(number), transfers(engine, 3, start=number))
        engine.commit(result)
        results.append(result)
    return results


# -- commit / discard / reads -------------------------------------------------------------------
def test_commit_makes_a_pending_block_the_head(backend):
    engine = backend.open()
    genesis = engine.head
    receiver = b"\xee" * 20
    before = engine.get_balance(WALLETS[0].address)
    result = engine.execute(env(1), transfers(engine, 2, to=receiver, value=7))
    assert engine.head == genesis
    assert engine.get_balance(receiver) == 0
    assert engine.get_balance(receiver, at=result) == 14
    head = engine.commit(result)
    assert head == engine.head
    assert (head.number, head.state_root, head.block_hash) == (1, result.state_root, result.block_hash)
    assert engine.get_balance(receiver) == 14
    assert engine.get_nonce(WALLETS[0].address) == 1
    assert engine.get_balance(WALLETS[0].address) < before - 7
    assert engine.block_hash(1) == result.block_hash
    assert result.stats.commit_seconds > 0


def test_discard_leaves_the_store_untouched(backend):
    engine = backend.open()
    before = full_dump(engine)
    result = engine.execute(env(1), transfers(engine, 3))
    assert engine.discard(result) == [result.id]
    assert full_dump(engine) == before
    with pytest.raises(UnknownBlockError, match="discarded"):
        engine.commit(result)
    with pytest.raises(UnknownBlockError):
        engine.get_balance(WALLETS[0].address, at=result)


def test_execution_is_deterministic_and_commit_does_not_change_the_result(backend):
    engine = backend.open()
    txs = transfers(engine, 4) + [token_transfer(engine, WALLETS[5], b"\x01" * 20, 5)]
    first = engine.execute(env(1), txs)
    engine.discard(first)
    second = engine.execute(env(1), txs)
    assert (first.state_root, first.receipts_root, first.block_hash) == \
        (second.state_root, second.receipts_root, second.block_hash)
    assert engine.commit(second).state_root == first.state_root


# -- revert / reopen ----------------------------------------------------------------------------
def test_revert_to_restores_the_exact_earlier_state(backend):
    engine = backend.open()
    holder = b"\x42" * 20
    first = engine.execute(env(1), transfers(engine, 3) + [token_transfer(engine, WALLETS[6], holder, 10)])
    engine.commit(first)
    at_one = dump(engine)
    second = engine.execute(env(2), transfers(engine, 3, start=3) + [token_transfer(engine, WALLETS[7], holder, 5)])
    engine.commit(second)
    third = engine.execute(env(3), [token_transfer(engine, WALLETS[6], holder, 1)])
    engine.commit(third)
    assert engine.get_storage(workloads.TOKEN_ADDRESS, workloads.token_balance_slot(holder)) == 16
    head = engine.revert_to(1)
    assert (head.number, head.state_root, head.block_hash) == (1, first.state_root, first.block_hash)
    assert dump(engine) == at_one
    assert engine.get_storage(workloads.TOKEN_ADDRESS, workloads.token_balance_slot(holder)) == 10
    assert engine.block_hash(2) is None
    again = engine.execute(env(2), transfers(engine, 3, start=3) + [token_transfer(engine, WALLETS[7], holder, 5)])
    assert again.state_root == second.state_root
    engine.commit(again)
    assert engine.head.number == 2


def test_revert_drops_pending_blocks_and_checks_its_target(backend):
    engine = backend.open()
    run_blocks(engine, 2)
    pending = engine.execute(env(3), transfers(engine, 1))
    with pytest.raises(RevertError, match="head is block 2"):
        engine.revert_to(3)
    with pytest.raises(RevertError, match="before genesis"):
        engine.revert_to(-1)
    engine.revert_to(2)  # a no-op on the store, but pending blocks are gone
    with pytest.raises(UnknownBlockError, match="reverted"):
        engine.commit(pending)


def test_reopen_keeps_state_head_and_chain_config(tmp_path):
    path = str(tmp_path / "data")
    engine = Engine.open(path, chain_config=CONFIG)
    engine.init_genesis(ALLOC, chain_config=CONFIG, timestamp=GENESIS_TIME)
    results = run_blocks(engine, 2)
    head, state = engine.head, dump(engine)
    balance = engine.get_balance(WALLETS[1].address)
    engine.close()

    with Engine.open(path) as reopened:  # no config given: the stored one applies
        assert reopened.head == head and reopened.chain_config == CONFIG
        assert dump(reopened) == state
        assert reopened.get_balance(WALLETS[1].address) == balance
        assert reopened.block_hash(2) == results[1].block_hash
        more = reopened.execute(env(3), transfers(reopened, 2))
        reopened.commit(more)
    with Engine.open(path, chain_config=CONFIG) as again:
        assert again.head.number == 3
        assert again.revert_to(1).state_root == results[0].state_root


@pytest.mark.parametrize("other", [
    ChainConfig(chain_id=1),
    ChainConfig.single_fork("cancun", chain_id=31337),
    ChainConfig(system_contracts=False),
])
def test_reopen_with_another_chain_config_is_refused(tmp_path, other):
    path = str(tmp_path / "data")
    with Engine.open(path, chain_config=CONFIG) as engine:
        engine.init_genesis(ALLOC, chain_config=CONFIG)
    with pytest.raises(ChainConfigError, match="holds chain 31337"):
        Engine.open(path, chain_config=other)
    with Engine.open(path) as engine:  # the refusal left the directory usable
        assert engine.head.number == 0


# -- pipelining ---------------------------------------------------------------------------------
def test_pipelined_blocks_commit_in_order_and_match_sequential_execution(backend):
    engine = backend.open()
    one = engine.execute(env(1), transfers(engine, 3))
    two = engine.execute(env(2), transfers(engine, 3, at=one), parent=one)
    three = engine.execute(env(3), transfers(engine, 3, at=two), parent=two)
    assert engine.get_nonce(WALLETS[0].address, at=three) == 3
    assert engine.get_nonce(WALLETS[0].address, at=one) == 1
    assert engine.get_nonce(WALLETS[0].address) == 0
    assert two.parent_id == one.id and three.parent_id == two.id
    with pytest.raises(StaleParentError, match="commit that one first"):
        engine.commit(two)
    for block in (one, two, three):
        engine.commit(block)
    assert engine.head.state_root == three.state_root

    # the same blocks executed and committed one at a time on a fresh engine
    other = Engine.in_memory(chain_config=CONFIG)
    other.init_genesis(ALLOC, chain_config=CONFIG, timestamp=GENESIS_TIME)
    for block, n in ((one, 1), (two, 2), (three, 3)):
        fresh = other.execute(env(n), transfers(other, 3))
        assert (fresh.state_root, fresh.block_hash) == (block.state_root, block.block_hash)
        other.commit(fresh)
    other.close()


def test_discarding_a_pending_block_discards_its_descendants(backend):
    engine = backend.open()
    one = engine.execute(env(1), transfers(engine, 1))
    two = engine.execute(env(2), transfers(engine, 1, at=one), parent=one)
    three = engine.execute(env(3), transfers(engine, 1, at=two), parent=two)
    other_two = engine.execute(env(2), [], parent=one)
    assert sorted(engine.discard(two)) == sorted([two.id, three.id])
    with pytest.raises(UnknownBlockError, match="ancestor was dropped"):
        engine.commit(three)
    engine.commit(one)
    engine.commit(other_two)
    assert engine.head.number == 2 and engine.head.state_root == other_two.state_root


def test_a_commit_invalidates_siblings_and_their_children(backend):
    engine = backend.open()
    a = engine.execute(env(1), transfers(engine, 2))
    b = engine.execute(env(1), transfers(engine, 2, start=4))
    b_child = engine.execute(env(2), [], parent=b)
    engine.commit(a)
    for dead in (b, b_child):
        with pytest.raises(UnknownBlockError, match="same parent"):
            engine.commit(dead)
    with pytest.raises(UnknownBlockError):
        engine.execute(env(2), [], parent=b)
    assert engine.pending_blocks() == []


def test_a_sibling_with_the_same_state_root_is_invalidated_too(backend):
    """Blocks that change no state keep the root: the head must be identified by more than it."""
    config = ChainConfig.single_fork("paris", chain_id=CHAIN_ID)
    engine = backend.open(chain_config=config)
    a = engine.execute(env(1), [])
    b = engine.execute(env(1, extra_data=b"b"), [])
    assert a.state_root == b.state_root and a.block_hash != b.block_hash
    engine.commit(a)
    with pytest.raises(UnknownBlockError):
        engine.commit(b)
    with pytest.raises(UnknownBlockError):
        engine.execute(env(2), [], parent=b)
    child = engine.execute(env(2), [])
    assert engine.commit(child).number == 2


def test_a_block_must_follow_its_parent(backend):
    engine = backend.open()
    with pytest.raises(StaleParentError, match="does not follow"):
        engine.execute(env(2), [])
    one = engine.execute(env(1), [])
    with pytest.raises(StaleParentError, match="does not follow"):
        engine.execute(env(3), [], parent=one)


def test_the_store_refuses_a_block_executed_on_another_head(backend):
    engine = backend.open()
    a = engine.execute(env(1), transfers(engine, 1))
    engine.commit(a)
    b = engine.execute(env(2), transfers(engine, 1))
    engine.discard(b)
    engine.revert_to(0)
    stale = engine.store
    with pytest.raises(StaleParentError, match="executed on state root"):
        # b was executed on block 1, which is gone: the store itself checks the parent
        stale.commit_block(b.number, b.parent_state_root, b.diff, engine_update(engine, b), b.block_hash)
    assert engine.head.number == 0


def engine_update(engine, result):
    from hyperion.state.trie.stateroot import RootUpdate

    return RootUpdate(root=result.state_root)


# -- history window -----------------------------------------------------------------------------
def test_revert_beyond_the_window_is_refused(backend):
    engine = backend.open(revert_depth=2)
    results = run_blocks(engine, 5)
    assert engine.store.oldest_revertible() == 3
    with pytest.raises(RevertError, match="pruned"):
        engine.revert_to(2)
    assert engine.head.number == 5  # the refusal changed nothing
    assert engine.revert_to(3).state_root == results[2].state_root


def test_change_set_pruning_keeps_the_history_bounded(backend):
    engine = backend.open(revert_depth=3)
    for number in range(1, 11):
        engine.commit(engine.execute(env(number), transfers(engine, 2, start=number)))
        assert engine.store.stats()["changesets"] == min(number, 3)
    with engine.store.backend.read() as txn:
        kept = sorted(int.from_bytes(k, "big") for k, _ in txn.iter_from("changesets"))
    assert kept == [8, 9, 10]


# -- crash inside the commit ----------------------------------------------------------------------
@pytest.mark.parametrize("fail_on", ["trie", "changesets", "meta"])
def test_a_crash_inside_the_commit_leaves_the_previous_head(backend, monkeypatch, fail_on):
    engine = backend.open()
    run_blocks(engine, 1)
    head, before = engine.head, full_dump(engine)
    pending = engine.execute(env(2), transfers(engine, 3) + [token_transfer(engine, WALLETS[4], b"\x09" * 20, 3)])
    txn_class = kv.MemoryTxn if backend.kind == "memory" else kv.LmdbTxn
    original = txn_class.put
    calls = {"n": 0}

    def failing_put(self, table, key, value):
        calls["n"] += 1
        if table == fail_on:
            raise OSError(f"simulated crash while writing {table}")
        return original(self, table, key, value)

    monkeypatch.setattr(txn_class, "put", failing_put)
    with pytest.raises(OSError, match="simulated crash"):
        engine.commit(pending)
    monkeypatch.setattr(txn_class, "put", original)
    assert calls["n"] > 1  # the failure came after other writes of the same transaction
    assert engine.head == head
    assert full_dump(engine) == before
    # the block is still pending and commits once the fault is gone
    assert engine.commit(pending).state_root == pending.state_root
    assert engine.head.number == 2


# -- invalid transactions -------------------------------------------------------------------------
def test_invalid_transactions_change_nothing_and_leave_no_gaps(backend):
    engine = backend.open()
    holder = b"\x77" * 20
    valid = [
        workloads.sign_tx(WALLETS[0], 0, b"\x01" * 20, value=5),
        token_transfer(engine, WALLETS[1], holder, 9),
        token_transfer(engine, WALLETS[2], holder, 4),
    ]
    invalid = [
        workloads.sign_tx(WALLETS[3], 7, b"\x01" * 20, value=5),  # nonce too high
        b"\x02\xf8\x01",  # malformed
        workloads.sign_tx(WALLETS[4], 0, b"\x01" * 20, value=10**30),  # insufficient funds
    ]
    batch = [invalid[0], valid[0], invalid[1], valid[1], invalid[2], valid[2]]
    result = engine.execute(env(1), batch)
    clean = engine.execute(env(1), valid)
    assert (result.state_root, result.receipts_root, result.transactions_root, result.logs_bloom, result.gas_used) == \
        (clean.state_root, clean.receipts_root, clean.transactions_root, clean.logs_bloom, clean.gas_used)
    assert result.block_hash == clean.block_hash
    assert [r.index for r in result.receipts] == [1, 3, 5]
    assert [r.receipt_index for r in result.receipts] == [0, 1, 2]
    assert [r.first_log_index for r in result.receipts] == [0, 0, 1]
    gas = [r.gas_used for r in result.receipts]
    assert [r.cumulative_gas_used for r in result.receipts] == [gas[0], gas[0] + gas[1], sum(gas)]
    for r in result.invalid:
        assert (r.receipt_index, r.gas_used, r.cumulative_gas_used, r.logs) == (None, 0, 0, ())
        assert r.error
    assert [r.index for r in result.invalid] == [0, 2, 4]
    assert engine.get_nonce(WALLETS[3].address, at=result) == 0
    assert engine.get_account(WALLETS[4].address, at=result) == engine.get_account(WALLETS[4].address)


def test_strict_mode_raises_at_the_first_invalid_transaction(backend):
    engine = backend.open()
    before = engine.head
    batch = transfers(engine, 2) + [workloads.sign_tx(WALLETS[5], 3, b"\x01" * 20)]
    with pytest.raises(InvalidTransactionError, match="nonce too high") as failure:
        engine.execute(env(1), batch, strict=True)
    assert failure.value.index == 2 and "nonce too high" in failure.value.reason
    assert engine.pending_blocks() == [] and engine.head == before
    assert engine.execute(env(1), batch[:2], strict=True).gas_used == 42_000


def _invalid_cases():
    w = WALLETS[0]
    to = b"\x01" * 20
    fork = "prague"
    good = workloads.sign_tx(w, 0, to, value=1)
    return {
        "nonce too high": workloads.sign_tx(w, 1, to),
        "insufficient funds": workloads.sign_tx(w, 0, to, value=10**30),
        "intrinsic gas too low": workloads.sign_tx(w, 0, to, gas=20_000),
        "EIP-7623 calldata floor": workloads.sign_tx(w, 0, to, data=b"\x01" * 100, gas=22_700),
        "wrong chain id": workloads.sign_tx(w, 0, to, chain_id=1),
        "invalid signature": txgen.with_signature(fork, good, r=0),
        "upper half of the curve order": txgen.with_signature(fork, good, s=txgen.SECP256K1_N - 1),
        "block gas limit exceeded": workloads.sign_tx(w, 0, to, gas=30_000_001),
        "malformed transaction": good[:-2],
        "empty input": b"",
        "priority fee greater than max fee": workloads.sign_tx(w, 0, to, max_fee=2 * 10**9, tip=3 * 10**9),
        "below the block's base fee": workloads.sign_tx(w, 0, to, max_fee=10**8, tip=0),
        "not valid in prague": b"\x07" + good[1:],
        "unsupported transaction input": 12345,
    }


@pytest.mark.parametrize("reason", list(_invalid_cases()))
def test_every_invalid_class_reports_a_clear_reason(backend, reason):
    engine = backend.open()
    result = engine.execute(env(1), [_invalid_cases()[reason]])
    (only,) = result.tx_results
    assert only.status is TxStatus.INVALID
    assert reason in only.error
    assert result.receipts == [] and result.gas_used == 0


def test_a_sender_with_code_is_invalid_but_a_delegated_one_is_not():
    alloc = dict(ALLOC)
    coded, delegated = WALLETS[0].address, WALLETS[1].address
    alloc["0x" + coded.hex()] = {"balance": hex(10**20), "code": "0x6000"}
    alloc["0x" + delegated.hex()] = {"balance": hex(10**20), "code": "0xef0100" + "11" * 20}
    with Engine.in_memory(chain_config=CONFIG) as engine:
        engine.init_genesis(alloc)
        result = engine.execute(env(1), [workloads.sign_tx(WALLETS[0], 0, b"\x01" * 20),
                                         workloads.sign_tx(WALLETS[1], 0, b"\x01" * 20)])
    assert "sender is not an EOA" in result.tx_results[0].error
    assert result.tx_results[1].status is TxStatus.SUCCESS


# -- genesis ------------------------------------------------------------------------------------
GOOD = "0x" + "11" * 20


@pytest.mark.parametrize("alloc, message", [
    ([], "must be a mapping"),
    ({"0x1234": {"balance": "0x1"}}, "expected 20 bytes"),
    ({"zz" * 20: {}}, "is not hex"),
    ({GOOD: {"balance": "-5"}}, "negative value"),
    ({GOOD: {"balance": hex(2**256)}}, "does not fit in 256 bits"),
    ({GOOD: {"nonce": 2**64}}, "does not fit in 64 bits"),
    ({GOOD: {"balance": "0xzz"}}, "is not a number"),
    ({GOOD: {"balance": True}}, "expected a number"),
    ({GOOD: {"code": "0x6g"}}, "is not hex"),
    ({GOOD: {"storage": {"0x1": hex(2**256)}}}, "storage entry does not fit"),
    ({GOOD: {"balanse": "0x1"}}, "unknown fields ['balanse']"),
    ({GOOD: "0x1"}, "expected an object"),
])
def test_genesis_alloc_errors_are_clear(backend, alloc, message):
    engine = backend.open(genesis=False)
    with pytest.raises(GenesisError) as failure:
        engine.init_genesis(alloc)
    assert message in str(failure.value)
    assert engine.head.number == -1
    engine.init_genesis(ALLOC)  # nothing was written: a good alloc still works
    with pytest.raises(GenesisError, match="already holds a chain"):
        engine.init_genesis(ALLOC)


def test_execute_before_genesis_is_a_clear_error(backend):
    engine = backend.open(genesis=False)
    with pytest.raises(GenesisError, match="call init_genesis first"):
        engine.execute(env(1), [])
    with Engine.in_memory() as unconfigured:
        with pytest.raises(ChainConfigError, match="call init_genesis first"):
            unconfigured.execute(env(1), [])


# -- unsigned transactions ------------------------------------------------------------------------
def _authorization(wallet, delegate: bytes, nonce: int, chain_id: int = CHAIN_ID) -> Authorization:
    message = keccak(b"\x05" + rlp.encode([chain_id, delegate, nonce]))
    signature = wallet.key.sign_msg_hash(message)
    return Authorization(chain_id=chain_id, address=delegate, nonce=nonce, y_parity=signature.v,
                         r=signature.r, s=signature.s)


def test_unsigned_transactions_of_types_0_1_2_4(backend):
    engine = backend.open()
    sender, authority = WALLETS[0].address, WALLETS[7]
    to = b"\x0d" * 20
    gwei = workloads.GWEI
    from hyperion import AccessListEntry

    txs = [
        UnsignedTx(sender=sender, nonce=0, gas=21_000, to=to, value=1, type=0, gas_price=2 * gwei),
        UnsignedTx(sender=sender, nonce=1, gas=30_000, to=to, value=2, type=1, gas_price=2 * gwei,
                   access_list=(AccessListEntry(to, (1,)),)),
        UnsignedTx(sender=sender, nonce=2, gas=21_000, to=to, value=3, type=2, max_fee_per_gas=2 * gwei,
                   max_priority_fee_per_gas=gwei),
        UnsignedTx(sender=sender, nonce=3, gas=100_000, to=to, value=4, type=4, max_fee_per_gas=2 * gwei,
                   max_priority_fee_per_gas=gwei,
                   authorization_list=(_authorization(authority, workloads.TOKEN_ADDRESS, 0),)),
        UnsignedTx(sender=sender, nonce=4, gas=21_000, to=to, type=3),
    ]
    result = engine.execute(env(1), txs)
    statuses = [r.status for r in result.tx_results]
    assert statuses[:4] == [TxStatus.SUCCESS] * 4, [r.error for r in result.tx_results]
    assert [r.tx_type for r in result.tx_results[:4]] == [0, 1, 2, 4]
    assert statuses[4] is TxStatus.INVALID and "not supported" in result.tx_results[4].error
    assert [r.sender for r in result.receipts] == [sender] * 4
    assert engine.get_balance(to, at=result) == 10
    assert engine.get_nonce(sender, at=result) == 4
    # the authorization took effect: delegation designator, authority nonce bumped
    assert engine.get_code(authority.address, at=result) == b"\xef\x01\x00" + workloads.TOKEN_ADDRESS
    assert engine.get_nonce(authority.address, at=result) == 1
    gas = [r.gas_used for r in result.receipts]
    assert gas[0] == gas[2] == 21_000 and gas[1] == 21_000 + 2_400 + 1_900
    engine.commit(result)


# -- BLOCKHASH ----------------------------------------------------------------------------------
def _header_hash(result) -> bytes:
    """The block hash recomputed with py-evm's own header class (independent of Hyperion's)."""
    from eth.vm.forks.prague.blocks import PragueBlockHeader

    e = result.env
    header = PragueBlockHeader(
        difficulty=0, block_number=result.number, gas_limit=e.gas_limit, timestamp=e.timestamp, coinbase=e.coinbase,
        parent_hash=e.parent_hash, state_root=result.state_root, transaction_root=result.transactions_root,
        receipt_root=result.receipts_root, bloom=int.from_bytes(result.logs_bloom, "big"), gas_used=result.gas_used,
        extra_data=e.extra_data, mix_hash=e.prev_randao, nonce=b"\x00" * 8, base_fee_per_gas=e.base_fee,
        withdrawals_root=result.withdrawals_root, blob_gas_used=result.blob_gas_used,
        excess_blob_gas=e.excess_blob_gas or 0, parent_beacon_block_root=e.parent_beacon_block_root,
        requests_hash=result.requests_hash,
    )
    return header.hash


def test_blockhash_sees_committed_and_pending_ancestors(backend):
    engine = backend.open()
    committed = run_blocks(engine, 2)  # blocks 1, 2
    three = engine.execute(env(3), transfers(engine, 1))
    call = lambda at: workloads.sign_tx(WALLETS[6], engine.get_nonce(WALLETS[6].address, at=at), BLOCKHASH_READER,
                                        gas=200_000)
    four = engine.execute(env(4), [call(three)], parent=three)
    assert four.tx_results[0].status is TxStatus.SUCCESS
    hashes = {1: committed[0].block_hash, 2: committed[1].block_hash, 3: three.block_hash}
    for block in (committed[0], committed[1], three, four):
        assert _header_hash(block) == block.block_hash
    read = lambda k: engine.get_storage(BLOCKHASH_READER, k, at=four).to_bytes(32, "big")
    assert [read(k) for k in (1, 2, 3)] == [hashes[3], hashes[2], hashes[1]]
    assert read(4) == engine.block_hash(0)
    assert three.env.parent_hash == hashes[2] and four.env.parent_hash == hashes[3]
    # explicit block_hashes in the environment win (t8n style)
    override = b"\x5a" * 32
    five = engine.execute(env(4, block_hashes={2: override}), [call(three)], parent=three)
    assert engine.get_storage(BLOCKHASH_READER, 2, at=five).to_bytes(32, "big") == override


# -- withdrawals, and reverting a block that wiped storage ---------------------------------------
def test_withdrawals_credit_gwei_and_their_root_matches_pyevm(backend):
    from eth.db.trie import make_trie_root_and_nodes
    from eth.vm.forks.shanghai.withdrawals import Withdrawal as PyEvmWithdrawal

    from hyperion import Withdrawal

    engine = backend.open()
    fresh, empty = b"\x3a" * 20, b"\x3b" * 20
    withdrawals = (Withdrawal(0, 7, fresh, 5), Withdrawal(1, 8, WALLETS[0].address, 1), Withdrawal(2, 9, fresh, 2),
                   Withdrawal(3, 10, empty, 0))
    before = engine.get_balance(WALLETS[0].address)
    result = engine.execute(env(1, withdrawals=withdrawals), [])
    assert engine.get_balance(fresh, at=result) == 7 * 10**9
    assert engine.get_balance(WALLETS[0].address, at=result) == before + 10**9
    assert engine.get_account(empty, at=result) is None  # a zero withdrawal to nobody creates nothing
    expected = make_trie_root_and_nodes([PyEvmWithdrawal(w.index, w.validator_index, w.address, w.amount)
                                         for w in withdrawals])[0]
    assert result.withdrawals_root == expected
    assert _header_hash(result) == result.block_hash


def test_revert_restores_storage_a_block_wiped_and_recreated():
    """Pre-Cancun: a block self-destructs a contract with storage and re-creates it; reverting
    that block must bring back the old storage exactly (the change set's wiped path)."""
    from tests.test_differential import FACTORY, FACTORY_CODE, _child_address

    config = ChainConfig.single_fork("london", chain_id=CHAIN_ID)
    alloc = dict(ALLOC)
    alloc["0x" + FACTORY.hex()] = {"code": "0x" + FACTORY_CODE.hex()}
    child = _child_address(FACTORY)
    sender = WALLETS[0]

    def call(nonce, to, word):
        return workloads.sign_tx(sender, nonce, to, data=word.to_bytes(32, "big"), gas=500_000, chain_id=CHAIN_ID)

    with Engine.in_memory(chain_config=config) as engine:
        engine.init_genesis(alloc)
        engine.commit(engine.execute(env(1), [call(0, FACTORY, 0), call(1, child, 1)]))
        assert engine.get_storage(child, 5) == 7 and engine.get_storage(child, 1) == 1
        at_one = dump(engine)
        second = engine.execute(env(2), [call(2, child, 0), call(3, FACTORY, 0)])
        assert [r.status for r in second.tx_results] == [TxStatus.SUCCESS] * 2
        assert child in second.diff.wiped
        engine.commit(second)
        assert engine.get_storage(child, 5) == 0 and engine.get_storage(child, 1) == 1
        engine.revert_to(1)
        assert dump(engine) == at_one
        assert engine.get_storage(child, 5) == 7


def test_a_prague_block_without_its_request_contracts_is_refused_whole(backend):
    """docs/design.md §3: a block-level failure raises a clear error, keeps the tx results, commits nothing."""
    from hyperion import InvalidBlockError

    config = ChainConfig.single_fork("prague", chain_id=CHAIN_ID)  # no system contracts in genesis
    engine = backend.open(chain_config=config)
    before = full_dump(engine)
    with pytest.raises(InvalidBlockError, match="00000961ef480eb55e80d19ad83579a64c007002 has no code") as failure:
        engine.execute(env(1), transfers(engine, 2))
    assert [r.status for r in failure.value.result.tx_results] == [TxStatus.SUCCESS] * 2
    assert engine.pending_blocks() == [] and full_dump(engine) == before
