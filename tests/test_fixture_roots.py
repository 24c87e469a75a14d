"""Trie roots of the ethereum/tests BlockchainTests, without executing anything.

For every test: the root of ``pre`` is the genesis header's ``stateRoot``; the root of
``postState`` is the last block's ``stateRoot``, both from scratch and as an incremental
update of the genesis trie in a store (only the accounts and slots that differ); and each
block's ``transactionsTrie`` / ``withdrawalsRoot`` is ``ordered_trie_root`` of its body.
Execution is the fixtures runner's business; this checks the trie on real states.
"""
from __future__ import annotations

import json
import os
import pathlib

import pytest
import rlp

from tests.conftest import ROOT, fixtures_root
from hyperion.state.trie import mpt
from hyperion.genesis import alloc_to_diff
from hyperion.state.trie.stateroot import compute_state_root
from hyperion.state.store import Store
from hyperion.types import BLANK_ROOT, StateDiff


def _fixtures_dir() -> pathlib.Path:
    """conftest's location, or ``shared/`` one level further up (a worktree under ``wt/``)."""
    configured = fixtures_root()
    if configured.is_dir() or os.environ.get("HYPERION_FIXTURES"):
        return configured
    return ROOT.parent.parent / "shared" / "fixtures" / "ethereum-tests"


def _blockchain_tests():
    root = _fixtures_dir() / "BlockchainTests"
    if not root.is_dir():
        return []
    files = sorted(root.rglob("*.json"))
    if os.environ.get("HYPERION_FIXTURE_SUBSET", "") not in ("", "0"):
        files = files[::5]  # the fixed, deterministic subset of the pure-Python pass
    cases = []
    for path in files:
        with open(path) as f:
            for name, test in json.load(f).items():
                cases.append(pytest.param(test, id=f"{path.parent.name}/{name}"))
    return cases


CASES = _blockchain_tests()


def _hex(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def _diff_between(pre: StateDiff, post: StateDiff) -> StateDiff:
    """The net diff that turns state ``pre`` into ``post`` (as a block would produce it)."""
    diff = StateDiff(codes=dict(post.codes))
    for address in set(pre.accounts) | set(post.accounts):
        before, after = pre.accounts.get(address), post.accounts.get(address)
        if after is None:
            diff.accounts[address] = None
            continue
        if after != before:
            diff.accounts[address] = after
        old, new = pre.storage.get(address, {}), post.storage.get(address, {})
        changed = {slot: new.get(slot, 0) for slot in set(old) | set(new) if old.get(slot, 0) != new.get(slot, 0)}
        if changed:
            diff.storage[address] = changed
    return diff


@pytest.mark.skipif(not CASES, reason="consensus fixtures not found (set HYPERION_FIXTURES)")
@pytest.mark.parametrize("test", CASES)
def test_fixture_roots(test):
    pre = alloc_to_diff(test["pre"])
    genesis_root = _hex(test["genesisBlockHeader"]["stateRoot"])
    genesis = compute_state_root(BLANK_ROOT, pre, lambda a: None, lambda k: None)
    assert genesis.root == genesis_root

    blocks = [b for b in test["blocks"] if "blockHeader" in b]
    for block in blocks:
        header = block["blockHeader"]
        body = rlp.decode(_hex(block["rlp"]))
        txs = [rlp.encode(tx) if isinstance(tx, list) else tx for tx in body[1]]
        assert mpt.ordered_trie_root(txs) == _hex(header["transactionsTrie"])
        if "withdrawalsRoot" in header:
            assert mpt.ordered_trie_root([rlp.encode(w) for w in body[3]]) == _hex(header["withdrawalsRoot"])

    if "postState" not in test:
        return
    last = next(b["blockHeader"] for b in blocks if b["blockHeader"]["hash"] == test["lastblockhash"])
    post = alloc_to_diff(test["postState"])
    post_root = _hex(last["stateRoot"])
    assert compute_state_root(BLANK_ROOT, post, lambda a: None, lambda k: None).root == post_root

    store = Store.in_memory()
    store.write_genesis(pre, genesis, "{}")
    diff = _diff_between(pre, post)
    with store.reader() as reader:
        update = compute_state_root(genesis_root, diff, reader.account_record, reader.trie_lookup())
    assert update.root == post_root
    store.commit_block(1, genesis_root, diff, update)
    store.revert_to(0)
    assert store.head().state_root == genesis_root
