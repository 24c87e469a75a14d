"""FlatAccountDB, tested directly on both twins: the compiled ``_flatdb`` and ``flatdb_py``.

The expected values come from the tests (or from a plain copy-on-checkpoint model of the
journal), never from the class under test.
"""
from __future__ import annotations

import copy
import importlib
import os

import pytest
from eth.db.journal import get_next_checkpoint
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperion.state.view import Overlay
from hyperion.types import EMPTY_CODE_HASH

TWINS = ["hyperion.evm.accountdb.flatdb_py", "hyperion.evm.accountdb._flatdb"]


def _load(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _twin(name):
    module = _load(name)
    if module is None:
        if os.environ.get("HYPERION_REQUIRE_COMPILED") == "1":
            pytest.fail("the compiled _flatdb is required but cannot be imported")
        pytest.skip("compiled _flatdb not built here")
    return module


@pytest.fixture(params=TWINS, ids=["python", "compiled"])
def twin(request):
    return _twin(request.param)


A = b"\xaa" * 20
B = b"\xbb" * 20
C = b"\xcc" * 20
CODE = b"\x60\x00\x00"
CODE_HASH = keccak(CODE)
EMPTY = (0, 0, EMPTY_CODE_HASH)


class DictReader:
    """The state before the transaction: plain dicts."""

    def __init__(self, accounts=None, storage=None, codes=None):
        self.accounts = dict(accounts or {})
        self.storage = {a: dict(s) for a, s in (storage or {}).items()}
        self.codes = dict(codes or {})
        self.reads = 0

    def read_account(self, address):
        self.reads += 1
        return self.accounts.get(address)

    def read_storage(self, address, slot):
        return self.storage.get(address, {}).get(slot, 0)

    def read_code(self, code_hash):
        return self.codes[code_hash]

    def has_storage(self, address, excluded=()):
        excluded = set(excluded)
        return any(v and s not in excluded for s, v in self.storage.get(address, {}).items())


def make(twin, accounts=None, storage=None, codes=None):
    base = DictReader(accounts, storage, codes)
    overlay = Overlay(base)
    return twin.FlatAccountDB(overlay), overlay, base


# -- reads and journaling ----------------------------------------------------------------------
def test_reads_come_from_the_reader(twin):
    db, _, _ = make(twin, {A: (3, 100, CODE_HASH)}, {A: {1: 7}}, {CODE_HASH: CODE})
    assert (db.get_nonce(A), db.get_balance(A), db.get_code_hash(A), db.get_code(A)) == (3, 100, CODE_HASH, CODE)
    assert db.get_storage(A, 1) == 7 and db.get_storage(A, 2) == 0
    assert db.account_exists(A) and not db.account_exists(B)
    assert (db.get_nonce(B), db.get_balance(B), db.get_code(B)) == (0, 0, b"")
    assert db.account_is_empty(B) and not db.account_is_empty(A)


def test_rebind_reads_the_next_transaction_through_the_new_reader(twin):
    """Block-STM keeps one account DB per block and rebinds it per incarnation: nothing of
    the unfinished transaction (values, warm sets, open checkpoints) survives."""
    db, _, _ = make(twin, {A: (1, 10, EMPTY_CODE_HASH)}, {A: {1: 7}})
    db.record()
    db.set_balance(A, 99)
    db.set_storage(A, 1, 8)
    db.mark_address_warm(B)
    db.rebind(DictReader({A: (2, 20, EMPTY_CODE_HASH)}, {A: {1: 5}}))
    assert db.get_balance(A) == 20 and db.get_storage(A, 1) == 5 and db.get_storage(A, 1, from_journal=False) == 5
    assert not db.is_address_warm(B)
    write_set = db.take_write_set()
    assert write_set.accounts == {} and write_set.storage == {}


def test_nested_checkpoints_discard_inner_commit_outer(twin):
    db, _, _ = make(twin, {A: (0, 100, EMPTY_CODE_HASH)}, {A: {1: 1}})
    outer = db.record()
    db.set_balance(A, 90)
    db.set_storage(A, 1, 2)
    inner = db.record()
    db.set_balance(A, 80)
    db.set_storage(A, 1, 3)
    db.set_storage(A, 2, 4)
    db.increment_nonce(A)
    db.discard(inner)
    assert (db.get_balance(A), db.get_nonce(A), db.get_storage(A, 1), db.get_storage(A, 2)) == (90, 0, 2, 0)
    db.commit(outer)
    assert (db.get_balance(A), db.get_storage(A, 1)) == (90, 2)
    ws = db.take_write_set()
    assert ws.accounts == {A: (0, 90, EMPTY_CODE_HASH)} and ws.storage == {A: {1: 2}} and ws.wiped == set()


def test_discarding_the_outer_checkpoint_undoes_a_committed_inner_one(twin):
    db, _, _ = make(twin, {A: (0, 100, EMPTY_CODE_HASH)})
    outer = db.record()
    inner = db.record()
    db.set_balance(A, 1)
    db.set_storage(A, 5, 5)
    db.commit(inner)
    db.discard(outer)
    assert db.get_balance(A) == 100 and db.get_storage(A, 5) == 0
    assert db.take_write_set().is_empty()


def test_discarding_an_outer_checkpoint_drops_those_nested_in_it(twin):
    db, _, _ = make(twin, {A: (0, 100, EMPTY_CODE_HASH)})
    outer = db.record()
    db.set_balance(A, 50)
    db.record()  # never closed
    db.set_balance(A, 40)
    db.discard(outer)
    assert db.get_balance(A) == 100
    after = db.record()  # the journal still works
    db.set_balance(A, 30)
    db.discard(after)
    assert db.get_balance(A) == 100


def test_checkpoint_ids_come_from_pyevms_shared_counter(twin):
    """Cancun's transient storage journals with the same ids (docs/design.md §9)."""
    db, _, _ = make(twin)
    first = db.record()
    shared = get_next_checkpoint()
    second = db.record()
    assert first < shared < second


def test_warm_sets_are_journaled(twin):
    db, _, _ = make(twin)
    db.mark_address_warm(A)
    db.mark_storage_warm(A, 1)
    checkpoint = db.record()
    db.mark_address_warm(B)
    db.mark_storage_warm(A, 2)
    db.mark_address_warm(A)  # already warm: discarding must not make it cold
    assert db.is_address_warm(B) and db.is_storage_warm(A, 2)
    db.discard(checkpoint)
    assert db.is_address_warm(A) and db.is_storage_warm(A, 1)
    assert not db.is_address_warm(B) and not db.is_storage_warm(A, 2)
    checkpoint = db.record()
    db.mark_address_warm(C)
    db.commit(checkpoint)
    assert db.is_address_warm(C)
    assert not db.is_storage_warm(B, 1)


def test_a_new_transaction_starts_cold_and_sees_the_last_one(twin):
    db, overlay, _ = make(twin, {A: (0, 100, EMPTY_CODE_HASH)})
    db.mark_address_warm(A)
    db.set_balance(A, 60)
    db.set_storage(A, 1, 9)
    db.lock_changes()
    assert overlay.read_account(A) == (0, 60, EMPTY_CODE_HASH) and overlay.read_storage(A, 1) == 9
    assert not db.is_address_warm(A)
    assert db.get_balance(A) == 60
    assert db.get_storage(A, 1, from_journal=False) == 9  # the new transaction's original value


def test_original_storage_is_the_value_at_the_start_of_the_transaction(twin):
    db, _, _ = make(twin, {A: (1, 0, CODE_HASH)}, {A: {1: 10}})
    db.set_storage(A, 1, 11)
    db.set_storage(A, 2, 12)
    assert db.get_storage(A, 1, from_journal=False) == 10 and db.get_storage(A, 1) == 11
    assert db.get_storage(A, 2, from_journal=False) == 0 and db.get_storage(A, 2) == 12
    db.delete_storage(A)
    assert db.get_storage(A, 1) == 0 and db.get_storage(A, 1, from_journal=False) == 10


# -- the write set -----------------------------------------------------------------------------
def test_touch_and_same_value_writes_are_not_writes(twin):
    db, _, _ = make(twin, {A: (1, 100, EMPTY_CODE_HASH), B: (0, 5, EMPTY_CODE_HASH)}, {A: {1: 7}})
    db.touch_account(A)
    db.set_balance(A, 100)
    db.delta_balance(B, 0)
    db.set_storage(A, 1, 7)
    db.set_storage(A, 2, 0)
    db.set_nonce(A, 2)
    db.set_nonce(A, 1)
    db.set_storage(A, 3, 4)
    db.set_storage(A, 3, 0)
    ws = db.take_write_set()
    assert ws.is_empty(), (ws.accounts, ws.storage, ws.wiped)


def test_write_set_holds_exactly_the_real_changes(twin):
    db, _, _ = make(twin, {A: (1, 100, EMPTY_CODE_HASH), B: (0, 5, EMPTY_CODE_HASH)}, {A: {1: 7, 2: 8}})
    db.delta_balance(A, -10)
    db.increment_nonce(A)
    db.touch_account(B)
    db.set_storage(A, 1, 70)
    db.set_storage(A, 2, 8)
    db.set_storage(A, 3, 1)
    db.set_code(C, CODE)
    ws = db.take_write_set()
    assert ws.accounts == {A: (2, 90, EMPTY_CODE_HASH), C: (0, 0, CODE_HASH)}
    assert ws.storage == {A: {1: 70, 3: 1}}
    assert ws.wiped == set()
    assert ws.codes == {CODE_HASH: CODE}


def test_touching_a_missing_account_creates_it_and_deleting_a_missing_one_does_nothing(twin):
    db, _, _ = make(twin)
    db.touch_account(A)
    db.delete_account(B)
    ws = db.take_write_set()
    assert ws.accounts == {A: EMPTY}
    assert B not in ws.accounts and B not in ws.storage


def test_code_that_ends_unreferenced_is_not_in_the_write_set(twin):
    db, _, _ = make(twin)
    db.set_code(A, CODE)
    db.delete_code(A)
    ws = db.take_write_set()
    assert ws.codes == {} and ws.accounts == {A: EMPTY}


def test_wipe_then_rewrite(twin):
    db, overlay, _ = make(twin, {A: (1, 5, CODE_HASH)}, {A: {1: 5, 2: 6}}, {CODE_HASH: CODE})
    db.delete_account(A)
    db.set_storage(A, 2, 6)  # the value it had before the wipe: still a write
    db.set_storage(A, 3, 7)
    db.set_balance(A, 9)
    assert (db.get_storage(A, 1), db.get_storage(A, 2), db.get_storage(A, 3)) == (0, 6, 7)
    assert db.get_storage(A, 1, from_journal=False) == 5
    ws = db.take_write_set()
    assert ws.wiped == {A}
    assert ws.storage == {A: {2: 6, 3: 7}}
    assert ws.accounts == {A: (0, 9, EMPTY_CODE_HASH)}
    overlay.apply(ws)
    assert [overlay.read_storage(A, s) for s in (1, 2, 3)] == [0, 6, 7]
    diff = overlay.to_diff()
    assert diff.wiped == {A} and diff.storage == {A: {2: 6, 3: 7}}


def test_a_wipe_in_a_discarded_frame_is_undone(twin):
    db, _, _ = make(twin, {A: (1, 5, CODE_HASH)}, {A: {1: 5}})
    db.set_storage(A, 2, 2)
    checkpoint = db.record()
    db.delete_account(A)
    db.set_storage(A, 3, 3)
    db.discard(checkpoint)
    assert (db.get_storage(A, 1), db.get_storage(A, 2), db.get_storage(A, 3)) == (5, 2, 0)
    assert db.account_exists(A)
    ws = db.take_write_set()
    assert ws.wiped == set() and ws.storage == {A: {2: 2}} and ws.accounts == {}


def test_wiped_storage_without_survivors_is_reported(twin):
    db, _, _ = make(twin, {A: (1, 0, CODE_HASH)}, {A: {1: 5}})
    db.delete_storage(A)
    ws = db.take_write_set()
    assert ws.wiped == {A} and ws.storage == {A: {}}


# -- EIP-7610 ----------------------------------------------------------------------------------
def test_eip7610_storage_counts_as_a_collision(twin):
    db, _, _ = make(twin, {A: EMPTY, B: (1, 0, EMPTY_CODE_HASH), C: (0, 0, CODE_HASH)}, {A: {1: 1, 2: 2}})
    assert db.account_has_code_or_nonce(A)  # storage only
    assert db.account_has_code_or_nonce(B) and db.account_has_code_or_nonce(C)
    empty = b"\xdd" * 20
    assert not db.account_has_code_or_nonce(empty)
    db.set_storage(A, 1, 0)
    assert db.account_has_code_or_nonce(A)  # slot 2 is still set
    db.set_storage(A, 2, 0)
    assert not db.account_has_code_or_nonce(A)  # every slot zeroed in this transaction
    db.set_storage(empty, 9, 1)
    assert db.account_has_code_or_nonce(empty)  # written in this transaction


def test_eip7610_a_wiped_account_does_not_collide(twin):
    db, _, _ = make(twin, {A: EMPTY}, {A: {1: 1}})
    db.delete_account(A)
    assert not db.account_has_code_or_nonce(A)


def test_values_out_of_range_are_refused(twin):
    db, _, _ = make(twin)
    for call in (lambda: db.set_balance(A, -1), lambda: db.set_balance(A, 2**256),
                 lambda: db.set_nonce(A, 2**64), lambda: db.set_storage(A, 1, 2**256)):
        with pytest.raises(ValueError):
            call()
    assert db.take_write_set().is_empty()


# -- a model of the journal --------------------------------------------------------------------
ADDRESSES = [A, B, C]
BASE_ACCOUNTS = {A: (1, 100, CODE_HASH), B: EMPTY}
BASE_STORAGE = {A: {0: 1, 1: 2}, B: {3: 4}}


class Model:
    """Copy-on-checkpoint reference: a checkpoint is a deep copy, discard restores it."""

    def __init__(self):
        self.accounts = dict(BASE_ACCOUNTS)
        self.storage = {a: {} for a in ADDRESSES}
        self.wiped = set()
        self.warm = set()

    def account(self, a):
        return self.accounts.get(a)

    def slot(self, a, s):
        if s in self.storage[a]:
            return self.storage[a][s]
        return 0 if a in self.wiped else BASE_STORAGE.get(a, {}).get(s, 0)


ops = st.one_of(
    st.tuples(st.just("balance"), st.sampled_from(ADDRESSES), st.integers(0, 3)),
    st.tuples(st.just("nonce"), st.sampled_from(ADDRESSES), st.integers(0, 3)),
    st.tuples(st.just("store"), st.sampled_from(ADDRESSES), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("code"), st.sampled_from(ADDRESSES), st.sampled_from([b"", CODE])),
    st.tuples(st.just("delete"), st.sampled_from(ADDRESSES)),
    st.tuples(st.just("wipe"), st.sampled_from(ADDRESSES)),
    st.tuples(st.just("touch"), st.sampled_from(ADDRESSES)),
    st.tuples(st.just("warm"), st.sampled_from(ADDRESSES), st.sampled_from([None, 0, 1])),
    st.tuples(st.just("record")),
    st.tuples(st.just("commit")),
    st.tuples(st.just("discard"), st.integers(0, 3)),
)


def _apply(db, model, op, stack):
    kind = op[0]
    if kind == "record":
        stack.append((db.record(), copy.deepcopy(model.__dict__)))
    elif kind == "commit":
        if stack:
            db.commit(stack.pop()[0])
    elif kind == "discard":
        if stack:
            depth = op[1] % len(stack)
            checkpoint, saved = stack[depth]
            del stack[depth:]
            db.discard(checkpoint)
            model.__dict__.update(copy.deepcopy(saved))
    elif kind == "warm":
        _, a, slot = op
        if slot is None:
            db.mark_address_warm(a)
            model.warm.add(a)
        else:
            db.mark_storage_warm(a, slot)
            model.warm.add((a, slot))
    else:
        a = op[1]
        current = model.account(a) or EMPTY
        if kind == "balance":
            db.set_balance(a, op[2])
            model.accounts[a] = (current[0], op[2], current[2])
        elif kind == "nonce":
            db.set_nonce(a, op[2])
            model.accounts[a] = (op[2], current[1], current[2])
        elif kind == "store":
            db.set_storage(a, op[2], op[3])
            model.storage[a][op[2]] = op[3]
        elif kind == "code":
            if op[2]:
                db.set_code(a, op[2])
                model.accounts[a] = (current[0], current[1], keccak(op[2]))
            else:
                db.delete_code(a)
                model.accounts[a] = (current[0], current[1], EMPTY_CODE_HASH)
        elif kind in ("delete", "wipe"):
            db.delete_account(a) if kind == "delete" else db.delete_storage(a)
            model.storage[a] = {}
            model.wiped.add(a)
            if kind == "delete":
                model.accounts[a] = None
        elif kind == "touch":
            db.touch_account(a)
            model.accounts[a] = current


def _check(db, model):
    for a in ADDRESSES:
        account = model.account(a)
        assert db.account_exists(a) == (account is not None)
        assert (db.get_nonce(a), db.get_balance(a), db.get_code_hash(a)) == (account or EMPTY)
        for s in range(4):
            assert db.get_storage(a, s) == model.slot(a, s)
            assert db.get_storage(a, s, from_journal=False) == BASE_STORAGE.get(a, {}).get(s, 0)
            assert db.is_storage_warm(a, s) == ((a, s) in model.warm)
        assert db.is_address_warm(a) == (a in model.warm)
        has_storage = any(model.slot(a, s) for s in range(4))
        collides = (account is not None and (account[0] != 0 or account[2] != EMPTY_CODE_HASH)) or has_storage
        assert db.account_has_code_or_nonce(a) == collides


@pytest.mark.parametrize("twin_name", TWINS, ids=["python", "compiled"])
@settings(max_examples=60)
@given(program=st.lists(ops, max_size=40))
def test_journal_matches_a_copy_on_checkpoint_model(twin_name, program):
    twin = _twin(twin_name)
    db, overlay, _ = make(twin, BASE_ACCOUNTS, BASE_STORAGE, {CODE_HASH: CODE})
    model = Model()
    stack = []
    for op in program:
        _apply(db, model, op, stack)
        _check(db, model)
    while stack:
        db.commit(stack.pop()[0])
    ws = db.take_write_set()
    # the write set is exactly the net change (wiping an address without storage changes nothing)
    assert ws.accounts == {a: v for a, v in model.accounts.items() if v != BASE_ACCOUNTS.get(a)}
    assert ws.wiped == {a for a in model.wiped if BASE_STORAGE.get(a)}
    expected_storage = {}
    for a in ADDRESSES:
        if a in ws.wiped:
            expected_storage[a] = {s: v for s, v in model.storage[a].items() if v}
        else:
            changed = {s: v for s, v in model.storage[a].items() if v != BASE_STORAGE.get(a, {}).get(s, 0)}
            if changed:
                expected_storage[a] = changed
    assert ws.storage == expected_storage
    overlay.apply(ws)
    for a in ADDRESSES:
        assert overlay.read_account(a) == model.account(a)
        assert [overlay.read_storage(a, s) for s in range(4)] == [model.slot(a, s) for s in range(4)]


@settings(max_examples=40)
@given(st.lists(ops, max_size=40))
def test_twins_agree(program):
    """Same operations, same answers and the same write set, from both implementations."""
    modules = [m for m in (_load(name) for name in TWINS) if m is not None]
    if len(modules) < 2:
        pytest.skip("compiled _flatdb not built here")
    results = []
    for module in modules:
        db, _, _ = make(module, BASE_ACCOUNTS, BASE_STORAGE, {CODE_HASH: CODE})
        model, stack, seen = Model(), [], []
        for op in program:
            _apply(db, model, op, stack)
            seen.append([(db.get_balance(a), db.get_storage(a, 1), db.is_address_warm(a),
                          db.account_has_code_or_nonce(a)) for a in ADDRESSES])
        ws = db.take_write_set()
        results.append((seen, ws.accounts, ws.storage, ws.wiped, ws.codes))
    assert results[0] == results[1]
