"""``hyperion check`` (hyperion.state.check): clean stores pass, corrupted copies fail.

Random chains (tests/test_stateroot.py's diffs: deletions with storage, wipes and rewrites,
emptied tries) through pruning and reverts must check clean, default and ``--deep``; a copy
of an engine's store with one thing broken must fail, naming it, and the check must leave
the store's bytes as they were.
"""
from __future__ import annotations

import hashlib
import os
import shutil

import lmdb
import msgpack
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from eth_hash.auto import keccak

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads
from hyperion.cli import main
from hyperion.state import codec
from hyperion.state.check import check_store
from hyperion.state.kv import TABLES
from hyperion.state.store import Store
from hyperion.state.trie.stateroot import compute_state_root
from hyperion.types import BLANK_ROOT

from tests.test_stateroot import block_diffs

def _with_codes(diff):
    for code in (b"code-1", b"code-2"):
        diff.codes[keccak(code)] = code
    return diff


def _commit_chain(store: Store, genesis, blocks) -> None:
    genesis.wiped.clear()
    update = compute_state_root(BLANK_ROOT, genesis, lambda a: None, lambda k: None)
    store.write_genesis(_with_codes(genesis), update, ChainConfig().to_json())
    for diff in blocks:
        reader = store.reader()
        try:
            head = reader.head()
            update = compute_state_root(head.state_root, diff, reader.account_record, reader.trie_lookup())
        finally:
            reader.close()
        store.commit_block(head.number + 1, head.state_root, _with_codes(diff), update)


def _assert_clean(path: str) -> None:
    for deep in (False, True):
        report = check_store(path, deep=deep)
        assert report.ok, report.problems


@settings(max_examples=30)
@given(genesis=block_diffs(), blocks=st.lists(block_diffs(), max_size=7), revert_to=st.integers(0, 7))
def test_random_chains_check_clean_through_pruning_and_reverts(tmp_path_factory, genesis, blocks, revert_to):
    path = str(tmp_path_factory.mktemp("chain") / "data")
    store = Store.open_lmdb(path, map_size=1 << 30, revert_depth=3)
    try:
        _commit_chain(store, genesis, blocks)
        store.close()
        _assert_clean(path)
        store = Store.open_lmdb(path, map_size=1 << 30, revert_depth=3)
        target = max(store.oldest_revertible(), min(revert_to, store.head().number))
        store.revert_to(target)
        store.close()
        _assert_clean(path)
    finally:
        store.close()


# -- an engine's store, and corrupted copies of it ----------------------------------------------
@pytest.fixture(scope="module")
def engine_store(tmp_path_factory) -> str:
    """Five blocks of ETH and ERC-20 transfers (storage tries, code) on an LMDB engine."""
    path = str(tmp_path_factory.mktemp("engine") / "data")
    with Engine.open(path, chain_config=ChainConfig(), revert_depth=4) as engine:
        engine.init_genesis(workloads.genesis_alloc(30), timestamp=1_700_000_000)
        nonces = {}
        for number in range(1, 6):
            txs = workloads.transfer_batch(6, 30, nonces) + workloads.erc20_batch(6, 30, nonces, offset=6)
            env = BlockEnv(number=number, timestamp=1_700_000_000 + 12 * number, base_fee=workloads.GWEI,
                           parent_beacon_block_root=number.to_bytes(32, "big"))
            engine.commit(engine.execute(env, txs))
    return path


def _copy(engine_store: str, tmp_path) -> str:
    path = str(tmp_path / "copy")
    shutil.copytree(engine_store, path)
    return path


def _edit(path: str, edit) -> None:
    """Change the copy with raw LMDB writes, as a bug or a bad disk would."""
    env = lmdb.open(path, max_dbs=len(TABLES) + 4, map_size=1 << 30)
    try:
        dbs = {name: env.open_db(name.encode()) for name in TABLES}
        with env.begin(write=True) as txn:
            edit(txn, dbs)
    finally:
        env.close()


def _first(txn, db, start: bytes = b""):
    cursor = txn.cursor(db=db)
    assert cursor.set_range(start) if start else cursor.first()
    return cursor.key(), cursor.value()


def _flip(value: bytes, at: int = -1) -> bytes:
    raw = bytearray(value)
    raw[at] ^= 1
    return bytes(raw)


def test_the_engine_store_checks_clean_and_the_command_says_so(engine_store):
    _assert_clean(engine_store)
    assert check_store(engine_store).counts["change sets"] == 4  # revert depth 4: blocks 2..5
    result = CliRunner().invoke(main, ["check", "--data-dir", engine_store])
    assert result.exit_code == 0, result.output
    assert "change sets" in result.output and ": ok" in result.output


def _balance_changed(txn, dbs):
    key, value = _first(txn, dbs["accounts"])
    txn.put(key, value[:39] + bytes([value[39] ^ 1]) + value[40:], db=dbs["accounts"])


def _slot_changed(txn, dbs):
    key, value = _first(txn, dbs["storage"])
    txn.put(key, value + b"\x01", db=dbs["storage"])


def _node_flipped(txn, dbs):
    key, value = _first(txn, dbs["trie"], b"A")
    txn.put(key, _flip(value), db=dbs["trie"])


def _node_deleted(txn, dbs):
    key, _ = _first(txn, dbs["trie"], b"S")
    txn.delete(key, db=dbs["trie"])


def _orphan_node(txn, dbs):
    txn.put(b"A" + bytes([1, 2, 3]), b"\x00" * 40, db=dbs["trie"])


def _code_changed(txn, dbs):
    key, value = _first(txn, dbs["code"])
    txn.put(key, _flip(value), db=dbs["code"])


def _schema_changed(txn, dbs):
    txn.put(b"schema", b"1", db=dbs["meta"])


def _config_garbage(txn, dbs):
    txn.put(b"chain_config", b"{not json", db=dbs["meta"])


def _head_root_changed(txn, dbs):
    number, root, block_hash = msgpack.unpackb(txn.get(b"head", db=dbs["meta"]))
    txn.put(b"head", msgpack.packb([number, _flip(root), block_hash]), db=dbs["meta"])


def _changeset(txn, dbs, edit):
    key = codec.block_key(msgpack.unpackb(txn.get(b"head", db=dbs["meta"]))[0] - 1)
    changeset = msgpack.unpackb(txn.get(key, db=dbs["changesets"]), strict_map_key=False)
    edit(changeset)
    txn.put(key, msgpack.packb(changeset), db=dbs["changesets"])


def _changeset_account(at: int):
    def corrupt(txn, dbs):
        def edit(changeset):
            address = next(a for a, raw in changeset["accounts"].items() if raw)
            changeset["accounts"][address] = _flip(changeset["accounts"][address], at)
        _changeset(txn, dbs, edit)
    return corrupt


def _changeset_node(txn, dbs):
    def edit(changeset):
        entry = next(e for e in changeset["trie"] if e[1])
        entry[1] = _flip(entry[1])
    _changeset(txn, dbs, edit)


def _changeset_missing(txn, dbs):
    head = msgpack.unpackb(txn.get(b"head", db=dbs["meta"]))[0]
    txn.delete(codec.block_key(head - 2), db=dbs["changesets"])


@pytest.mark.parametrize("corrupt, text", [
    (_balance_changed, "the account trie holds another record"),
    (_slot_changed, "storage trie and its slots differ"),
    (_node_flipped, "does not hash to its key"),
    (_node_deleted, "missing"),
    (_orphan_node, "unreachable from the head root"),
    (_code_changed, "does not hash to its key"),
    (_schema_changed, "schema"),
    (_config_garbage, "chain configuration does not parse"),
    (_head_root_changed, "blocks entry of head"),
    (_changeset_account(39), "reverting block 4 gives root"),  # a balance: another state
    (_changeset_account(100), "reverts to a record other than the one saved"),  # its storage root
    (_changeset_node, "to a node other than the parent trie's"),
    (_changeset_missing, "is missing"),
])
def test_a_corrupted_copy_fails_the_check(engine_store, tmp_path, corrupt, text):
    path = _copy(engine_store, tmp_path)
    _edit(path, corrupt)
    with open(os.path.join(path, "data.mdb"), "rb") as handle:
        before = hashlib.sha256(handle.read()).digest()
    for deep in (False, True):
        report = check_store(path, deep=deep)
        assert not report.ok and any(text in p for p in report.problems), report.problems
    result = CliRunner().invoke(main, ["check", "--data-dir", path])
    assert result.exit_code == 1 and "problem: " in result.output, result.output
    with open(os.path.join(path, "data.mdb"), "rb") as handle:
        assert hashlib.sha256(handle.read()).digest() == before  # the check wrote nothing


def test_a_missing_store_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["check", "--data-dir", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "holds no store" in result.output
