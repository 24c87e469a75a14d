"""State roots through the store: random blocks against py-trie built from scratch.

Each example commits a random sequence of block diffs (account changes, deletions of
accounts with storage, storage writes and deletions, wipes with and without rewrites in
the same block, storage tries emptied) and checks after every block:

- the root equals py-trie's root of the whole model state, built from scratch;
- the root recomputed by py-trie from the store's flat tables agrees (flat state and trie
  are one state);
- the ``trie`` table holds exactly the nodes reachable from the head (path-keyed layout:
  nothing stale is left, nothing is missing);
- a block computed on its *pending* parent (and grandparent) gives the same root, nodes
  and records as the same block computed once the parents are committed.

Then ``revert_to`` walks back through the revert window: each earlier root comes back
exactly, with the trie table again equal to the nodes reachable from it, and the change
sets (and the superseded nodes they hold) stay within the revert depth.
"""
from __future__ import annotations

import random
import shutil
import tempfile

import pytest
import rlp
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from hyperion.state.trie import mpt
from hyperion.errors import RevertError
from hyperion.state.trie.stateroot import (
    ACCOUNT_TRIE,
    LayeredNodes,
    RootUpdate,
    compute_state_root,
    layered_nodes,
    storage_trie_prefix,
)
from hyperion.state.store import Store
from hyperion.types import BLANK_ROOT, EMPTY_CODE_HASH, Account, StateDiff

ADDRESSES = [bytes([i]) * 20 for i in range(1, 8)]
SLOTS = [0, 1, 2, 3, 7, 2**160, 2**256 - 1]
CODE_HASHES = [EMPTY_CODE_HASH, keccak(b"code-1"), keccak(b"code-2")]
REVERT_DEPTH = 3


# -- the oracle: py-trie from scratch over a plain model of the state -----------------------------
def pytrie_root(accounts, storage) -> bytes:
    state = HexaryTrie({})
    for address, (nonce, balance, code_hash) in accounts.items():
        slots = storage.get(address, {})
        storage_trie = HexaryTrie({})
        for slot, value in slots.items():
            if value:
                storage_trie[keccak(slot.to_bytes(32, "big"))] = rlp.encode(value)
        state[keccak(address)] = rlp.encode([nonce, balance, storage_trie.root_hash, code_hash])
    return state.root_hash


class Model:
    """The state as plain dicts, changed by diffs with the engine's semantics."""

    def __init__(self) -> None:
        self.accounts = {}
        self.storage = {}

    def copy(self) -> "Model":
        other = Model()
        other.accounts = dict(self.accounts)
        other.storage = {a: dict(s) for a, s in self.storage.items()}
        return other

    def apply(self, diff: StateDiff) -> None:
        for address in set(diff.accounts) | set(diff.storage) | set(diff.wiped):
            after = diff.accounts.get(address, "missing")
            if after is None:
                self.accounts.pop(address, None)
                self.storage.pop(address, None)
                continue
            if after == "missing":
                after_tuple = self.accounts.get(address, (0, 0, EMPTY_CODE_HASH))
            else:
                after_tuple = (after.nonce, after.balance, after.code_hash)
            self.accounts[address] = after_tuple
            slots = self.storage.setdefault(address, {})
            if address in diff.wiped:
                slots.clear()
            for slot, value in diff.storage.get(address, {}).items():
                if value:
                    slots[slot] = value
                else:
                    slots.pop(slot, None)

    def root(self) -> bytes:
        return pytrie_root(self.accounts, self.storage)


# -- random diffs ---------------------------------------------------------------------------------
values = st.one_of(st.just(0), st.integers(1, 3), st.integers(2**200, 2**256 - 1))
slot_writes = st.dictionaries(st.sampled_from(SLOTS), values, max_size=5)
accounts = st.builds(Account, st.integers(0, 3), st.one_of(st.integers(0, 5), st.just(2**256 - 1)),
                     st.sampled_from(CODE_HASHES))


@st.composite
def block_diffs(draw):
    diff = StateDiff()
    for address in draw(st.lists(st.sampled_from(ADDRESSES), unique=True, max_size=5)):
        kind = draw(st.sampled_from(["account", "storage", "both", "delete", "wipe", "wipe+rewrite"]))
        if kind == "delete":
            diff.accounts[address] = None
            continue
        if kind in ("account", "both", "wipe+rewrite"):
            diff.accounts[address] = draw(accounts)
        if kind in ("storage", "both", "wipe+rewrite"):
            diff.storage[address] = draw(slot_writes)
        if kind in ("wipe", "wipe+rewrite"):
            diff.wiped.add(address)
    return diff


# -- store helpers ----------------------------------------------------------------------------------
def table(store: Store, name: str) -> dict:
    with store.backend.read() as txn:
        return dict(txn.iter_from(name))


def reachable_nodes(store: Store, root: bytes) -> dict:
    lookup = table(store, "trie").get
    nodes = dict(mpt.iter_nodes(root, ACCOUNT_TRIE, lookup))
    for address, raw in table(store, "accounts").items():
        storage_root = raw[72:104]
        nodes.update(mpt.iter_nodes(storage_root, storage_trie_prefix(address), lookup))
    return nodes


def flat_root(store: Store) -> bytes:
    accounts = {}
    for address, raw in table(store, "accounts").items():
        accounts[address] = (int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:40], "big"), raw[40:72])
    storage = {}
    for key, raw in table(store, "storage").items():
        storage.setdefault(key[:20], {})[int.from_bytes(key[20:], "big")] = int.from_bytes(raw, "big")
    return pytrie_root(accounts, storage)


def check_store(store: Store, root: bytes) -> None:
    assert store.head().state_root == root
    assert table(store, "trie") == reachable_nodes(store, root), "trie table != nodes reachable from the head"
    assert flat_root(store) == root, "flat tables and trie disagree"


def compute(store: Store, diff: StateDiff, pending) -> RootUpdate:
    """``diff`` on the committed head plus pending updates (oldest first), as the engine does."""
    reader = store.reader()
    try:
        def record_before(address):
            for update in reversed(pending):
                if address in update.records:
                    return update.records[address]
            return reader.account_record(address)

        parent_root = pending[-1].root if pending else reader.head().state_root
        nodes = layered_nodes(reader.trie_lookup(), pending)
        return compute_state_root(parent_root, diff, record_before, nodes)
    finally:
        reader.close()


def same_update(a: RootUpdate, b: RootUpdate) -> None:
    assert a.root == b.root
    assert a.nodes == b.nodes
    assert a.records == b.records
    assert a.wiped == b.wiped


def open_store(kind: str, directory: str) -> Store:
    if kind == "memory":
        return Store.in_memory(revert_depth=REVERT_DEPTH)
    return Store.open_lmdb(directory, map_size=1 << 30, revert_depth=REVERT_DEPTH)


def run_chain(kind: str, genesis: StateDiff, blocks, revert_seed: int) -> None:
    directory = tempfile.mkdtemp(prefix="hyperion-test-stateroot-")
    store = open_store(kind, directory)
    try:
        model = Model()
        model.apply(genesis)
        update = compute_state_root(BLANK_ROOT, genesis, lambda a: None, lambda k: None)
        store.write_genesis(genesis, update, "{}")
        assert update.root == model.root()
        check_store(store, update.root)
        roots = [update.root]
        snapshots = [model.copy()]

        # block i is computed while block i-1 (and i-2) are still pending, like a sequencer
        pending = [compute(store, blocks[0], [])] if blocks else []
        speculative = {}
        for i in range(1, len(blocks) + 1):
            if i < len(blocks):
                ahead = compute(store, blocks[i], pending[-1:])
                if i + 1 < len(blocks):
                    # two pending parents: block i+1 on blocks i-1 and i
                    speculative[i + 1] = compute(store, blocks[i + 1], [pending[-1], ahead])
            head = store.head()
            store.commit_block(head.number + 1, head.state_root, blocks[i - 1], pending[-1])
            model.apply(blocks[i - 1])
            roots.append(pending[-1].root)
            snapshots.append(model.copy())
            assert pending[-1].root == model.root()
            check_store(store, pending[-1].root)
            if i < len(blocks):
                committed_parent = compute(store, blocks[i], [])
                same_update(ahead, committed_parent)
                if i in speculative:
                    same_update(speculative.pop(i), ahead)
                pending = [ahead]

        # pruning: change sets (with the superseded nodes) stay within the revert depth
        head = store.head().number
        assert table(store, "changesets").keys() == {
            n.to_bytes(8, "big") for n in range(max(head - REVERT_DEPTH + 1, 1), head + 1)
        }
        lowest = store.oldest_revertible()
        if lowest > 0:
            with pytest.raises(RevertError):
                store.revert_to(lowest - 1)
            check_store(store, roots[head])  # a refused revert changes nothing
        rng = random.Random(revert_seed)
        target = head
        while target > lowest:
            target = rng.randint(lowest, target - 1)
            store.revert_to(target)
            assert snapshots[target].root() == roots[target]
            check_store(store, roots[target])
    finally:
        store.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("kind", ["memory", "lmdb"])
@settings(max_examples=60)
@given(genesis=block_diffs(), blocks=st.lists(block_diffs(), max_size=8), revert_seed=st.integers(0, 2**32))
def test_random_blocks_against_pytrie(kind, genesis, blocks, revert_seed):
    genesis.wiped.clear()
    run_chain(kind, genesis, blocks, revert_seed)


def test_wipe_and_rewrite_in_one_block_and_delete_with_storage():
    """The cases the issue names, spelled out (hypothesis finds them too, this pins them)."""
    a, b, c = ADDRESSES[:3]
    genesis = StateDiff(
        accounts={a: Account(1, 10, CODE_HASHES[1]), b: Account(1, 20, CODE_HASHES[2]), c: Account(0, 5)},
        storage={a: {s: s + 1 for s in range(40)}, b: {1: 1, 2: 2}},
    )
    blocks = [
        # a: wiped and rewritten in the same block; b: deleted with its storage
        StateDiff(accounts={a: Account(2, 10, CODE_HASHES[1]), b: None}, storage={a: {3: 99, 1000: 7}}, wiped={a}),
        # a: every slot zeroed (empty storage trie) while c gets storage
        StateDiff(storage={a: {3: 0, 1000: 0}, c: {5: 5}}),
        # b comes back with storage; c wiped without rewrite
        StateDiff(accounts={b: Account(0, 1, CODE_HASHES[2])}, storage={b: {2: 3}}, wiped={c}),
    ]
    for kind in ("memory", "lmdb"):
        run_chain(kind, genesis, blocks, revert_seed=1)


def test_a_stale_node_is_an_error_not_a_wrong_root():
    store = Store.in_memory()
    genesis = StateDiff(accounts={a: Account(1, i) for i, a in enumerate(ADDRESSES)})
    update = compute_state_root(BLANK_ROOT, genesis, lambda a: None, lambda k: None)
    store.write_genesis(genesis, update, "{}")
    # overwrite the root node with another trie's root node
    other = compute_state_root(BLANK_ROOT, StateDiff(accounts={ADDRESSES[0]: Account(9, 9)}), lambda a: None,
                               lambda k: None)
    with store.backend.write() as txn:
        txn.put("trie", ACCOUNT_TRIE, other.nodes[ACCOUNT_TRIE])
    with pytest.raises(mpt.TrieError):
        compute(store, StateDiff(accounts={ADDRESSES[1]: Account(5, 5)}), [])


def test_layered_nodes_hide_a_wiped_storage_trie():
    address = ADDRESSES[0]
    prefix = storage_trie_prefix(address)
    base = {prefix + b"\x01": b"old", ACCOUNT_TRIE: b"root"}.get
    parent = RootUpdate(root=b"", nodes={prefix + b"\x02": b"new"}, wiped={prefix})
    lookup = LayeredNodes(base, [parent])
    assert lookup(prefix + b"\x01") is None  # deleted with the wipe
    assert lookup(prefix + b"\x02") == b"new"
    assert lookup(ACCOUNT_TRIE) == b"root"
