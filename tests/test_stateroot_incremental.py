"""The state root started on a block's settled prefix equals the one computed at the end.

Random pre-states and random blocks, applied in chunks; after each chunk but the last the
incremental root takes what the chunk wrote (as the Block-STM fold hands it over), then
the final diff.  Root, account records and the trie table after the writes must equal
:func:`compute_state_root` on the same diff -- including values written twice, values that
go back to their pre-block value (slots and accounts), new accounts, and the deletions
that take the full path.
"""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from hyperion.evm.accountdb import WriteSet
from hyperion.state.trie.stateroot import IncrementalStateRoot, compute_state_root
from hyperion.state.view import Overlay
from hyperion.types import BLANK_ROOT, EMPTY_CODE_HASH, Account, StateDiff

ADDRESSES = [bytes([i]) * 20 for i in range(1, 25)]
CODE = b"\x11" * 32


class GenesisReader:
    def __init__(self, accounts, storage):
        self.accounts, self.storage = accounts, storage

    def read_account(self, address):
        return self.accounts.get(address)

    def read_storage(self, address, slot):
        return self.storage.get(address, {}).get(slot, 0)

    def read_code(self, code_hash):
        return b""

    def has_storage(self, address, excluded=()):
        return any(v and s not in set(excluded) for s, v in self.storage.get(address, {}).items())


account_value = st.tuples(st.integers(0, 3), st.integers(0, 10**20), st.sampled_from([EMPTY_CODE_HASH, CODE]))
genesis_strategy = st.dictionaries(
    st.sampled_from(ADDRESSES[:16]),
    st.tuples(account_value, st.dictionaries(st.integers(0, 7), st.integers(1, 50), max_size=6)),
    min_size=1,
)
op = st.one_of(
    st.tuples(st.just("account"), st.sampled_from(ADDRESSES), account_value),
    st.tuples(st.just("slot"), st.sampled_from(ADDRESSES), st.tuples(st.integers(0, 9), st.integers(0, 3))),
    st.tuples(st.just("delete"), st.sampled_from(ADDRESSES), st.none()),
    st.tuples(st.just("restore"), st.sampled_from(ADDRESSES[:16]), st.none()),
)
chunks_strategy = st.lists(st.lists(op, min_size=1, max_size=12), min_size=1, max_size=6)


def apply_chunk(overlay, chunk):
    """Apply one chunk of writes; -> (addresses, {address: slots}) it wrote."""
    accounts, storage, wiped = {}, {}, set()
    for kind, address, value in chunk:
        if kind == "account":
            accounts[address] = value
        elif kind == "slot":
            current = overlay.read_account(address) if address not in accounts else accounts[address]
            if current is None:  # storage is only written to an existing account here
                accounts[address] = current = (1, 0, CODE)
            slot, small = value
            # small values 1..3 also hit the genesis values 1..50 now and then: writes that
            # go back to the pre-block value
            storage.setdefault(address, {})[slot] = small
        elif kind == "restore":  # back to the pre-block account (None: it did not exist)
            accounts[address] = overlay.base.read_account(address)
        else:
            accounts[address] = None
            storage.pop(address, None)
            wiped.add(address)
    overlay.apply(WriteSet(accounts, storage, wiped, {}))
    return set(accounts) | wiped, {a: set(s) for a, s in storage.items()}


@settings(max_examples=60, deadline=None)
@given(genesis=genesis_strategy, chunks=chunks_strategy, no_deletes=st.booleans())
def test_incremental_root_equals_the_root_from_the_final_diff(genesis, chunks, no_deletes):
    if no_deletes:  # most blocks delete nothing: the incremental path proper
        chunks = [[o for o in chunk if o[0] != "delete"] or [("account", ADDRESSES[0], (0, 1, EMPTY_CODE_HASH))]
                  for chunk in chunks]
    start = StateDiff()
    start.accounts = {a: Account(*value) for a, (value, _) in genesis.items()}
    start.storage = {a: dict(slots) for a, (_, slots) in genesis.items() if slots}
    base_update = compute_state_root(BLANK_ROOT, start, lambda a: None, lambda k: None)
    table = {k: v for k, v in base_update.nodes.items() if v is not None}
    records = base_update.records
    reader = GenesisReader({a: value for a, (value, _) in genesis.items()},
                           {a: dict(slots) for a, (_, slots) in genesis.items()})

    overlay = Overlay(reader)
    incremental = IncrementalStateRoot(base_update.root, records.get, table.get, overlay.base)
    for chunk in chunks[:-1]:
        addresses, slots = apply_chunk(overlay, chunk)
        incremental.advance(overlay, addresses, slots)
    apply_chunk(overlay, chunks[-1])
    diff = overlay.to_diff(incremental)
    assert diff == overlay.to_diff()  # the root's remembering reader reads the pre-block state

    expected = compute_state_root(base_update.root, diff, records.get, table.get)
    got = incremental.finish(diff)
    assert got.root == expected.root
    assert got.records == expected.records
    assert got.wiped == expected.wiped

    def committed(update):
        after = dict(table)
        for prefix in update.wiped:
            for key in [k for k in after if k.startswith(prefix)]:
                del after[key]
        for key, node in update.nodes.items():
            if node is None:
                after.pop(key, None)
            else:
                after[key] = node
        return after

    assert committed(got) == committed(expected)


def test_a_block_advanced_early_takes_the_incremental_path():
    """Not every block falls back to the full computation: a pinned case that stays incremental."""
    a, b = ADDRESSES[0], ADDRESSES[1]
    start = StateDiff()
    start.accounts = {a: Account(0, 100, EMPTY_CODE_HASH), b: Account(0, 0, CODE)}
    start.storage = {b: {1: 5}}
    base = compute_state_root(BLANK_ROOT, start, lambda x: None, lambda k: None)
    table = {k: v for k, v in base.nodes.items() if v is not None}
    overlay = Overlay(GenesisReader({a: (0, 100, EMPTY_CODE_HASH), b: (0, 0, CODE)}, {b: {1: 5}}))
    incremental = IncrementalStateRoot(base.root, base.records.get, table.get, overlay.base)
    overlay.apply(WriteSet({a: (1, 90, EMPTY_CODE_HASH)}, {b: {1: 6, 2: 7}}, set(), {}))
    incremental.advance(overlay, {a}, {b: {1, 2}})
    assert incremental.steps == 1 and incremental.root != base.root
    overlay.apply(WriteSet({a: (2, 80, EMPTY_CODE_HASH)}, {b: {1: 5}}, set(), {}))  # slot 1 back to 5
    diff = overlay.to_diff(incremental)
    got = incremental.finish(diff)
    assert got.root == compute_state_root(base.root, diff, base.records.get, table.get).root


def test_an_account_written_early_and_restored_later_leaves_the_trie_as_it_was():
    a, b = ADDRESSES[0], ADDRESSES[1]
    start = StateDiff()
    start.accounts = {a: Account(0, 100, EMPTY_CODE_HASH), b: Account(0, 0, CODE)}
    base = compute_state_root(BLANK_ROOT, start, lambda x: None, lambda k: None)
    table = {k: v for k, v in base.nodes.items() if v is not None}
    overlay = Overlay(GenesisReader({a: (0, 100, EMPTY_CODE_HASH), b: (0, 0, CODE)}, {}))
    incremental = IncrementalStateRoot(base.root, base.records.get, table.get, overlay.base)
    overlay.apply(WriteSet({a: (1, 90, EMPTY_CODE_HASH), b: (0, 10, CODE)}, {}, set(), {}))
    incremental.advance(overlay, {a, b}, {})
    overlay.apply(WriteSet({a: (0, 100, EMPTY_CODE_HASH)}, {}, set(), {}))  # a as before the block
    diff = overlay.to_diff(incremental)
    assert a not in diff.accounts
    got = incremental.finish(diff)
    assert got.root == compute_state_root(base.root, diff, base.records.get, table.get).root
    assert set(got.records) == {b}
