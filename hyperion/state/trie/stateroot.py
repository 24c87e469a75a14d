"""Ethereum's state root, updated once per block from the net diff, and account proofs.

The trie code is ``hyperion.state.trie.mpt`` (compiled, with a pure-Python twin): it applies a
sorted batch of key changes to a persisted trie, loading and hashing only the nodes on the
touched paths.  This module turns a block's :class:`~hyperion.types.StateDiff` into those
batches: one per storage trie that changed (each account's storage trie is updated on its
own, from its own root, and yields the new storage root), then one for the account trie.

Node layout: path-keyed
-----------------------
The store's ``trie`` table holds::

    b"A" + path                      -> rlp(node)     the account trie
    b"S" + keccak(address) + path    -> rlp(node)     that account's storage trie

``path`` is the node's nibble path from its trie's root, one byte per nibble (the root is
at the empty path).  A node is stored when its parent refers to it by hash (rlp of 32
bytes or more) and every root is stored; smaller nodes live inside their parent, as
Ethereum's encoding requires.  This is the layout reth and erigon use, chosen over nodes
keyed by hash with reference counts because:

- **one node per live path.**  The table holds exactly the nodes reachable from the head
  root (the tests walk the trie and compare), whatever happened before: no reference
  counts to read, bump and write back for every node a block touches, no collection pass,
  no double counting when two storage tries share an identical subtree (hash-keyed
  storage shares them and so must count them).
- **history is the change set.**  What a block overwrites or deletes at a path is the
  superseded node; the store saves it in the block's change set next to the flat state's
  before-values.  ``revert_to`` writes the old nodes back (the exact earlier root) and
  pruning a change set past the revert depth drops them (docs/design.md §8) -- the same
  mechanism as the flat state, in the same write transaction.
- **a storage trie is one key range.**  Deleting an account or wiping its storage deletes
  the range ``b"S" + keccak(address)`` (the flat ``storage`` table already scans the same
  slots), and storage tries of different accounts never share a node, so each is updated
  independently of the others.
- **locality.**  A trie's nodes are adjacent in LMDB's B-tree, and a node's key is known
  from the key being looked up, before its parent is decoded.

Its costs, and how they are met.  A node read by path could be a stale one left behind
by a bug: each stored value is the node's keccak followed by its rlp, and every load
compares that hash with the one the parent holds, so such a bug is an error
(``TrieError``), never a wrong root -- at the price of 32 bytes per node and a compare,
where re-hashing every loaded node would cost about as much again as the update's own
hashing (``verify=True`` does that; the tests use it).  Only the head's trie is on disk:
proofs are served at the head and at pending blocks, not at older committed blocks.
Pending blocks keep their node writes in memory (``RootUpdate.nodes``) and a child block
reads them through :class:`LayeredNodes`, the same way it reads its parents' flat diffs.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from hyperion.state.trie import mpt
from hyperion.types import BLANK_ROOT, EMPTY_CODE_HASH, Account, StateDiff

#: address -> (nonce, balance, code_hash, storage_root) before the block, or None
AccountLookup = Callable[[bytes], Optional[Tuple[int, int, bytes, bytes]]]
#: trie-table key -> node rlp, or None
NodeLookup = Callable[[bytes], Optional[bytes]]

ACCOUNT_TRIE = b"A"
STORAGE_TRIE = b"S"
_STORAGE_PREFIX_LEN = 33


def storage_trie_prefix(address: bytes) -> bytes:
    """The ``trie`` table prefix of ``address``'s storage trie."""
    return STORAGE_TRIE + mpt.keccak256(address)


@dataclass
class RootUpdate:
    root: bytes
    #: trie-table key -> new node rlp, or None where a node no longer exists
    nodes: Dict[bytes, Optional[bytes]] = field(default_factory=dict)
    #: final (nonce, balance, code_hash, storage_root) of every touched account, None = deleted
    records: Dict[bytes, Optional[Tuple[int, int, bytes, bytes]]] = field(default_factory=dict)
    #: storage-trie prefixes deleted whole (wiped or deleted accounts) before ``nodes`` apply
    wiped: Set[bytes] = field(default_factory=set)


class LayeredNodes:
    """Node lookup through pending blocks' updates (newest first), then a base lookup."""

    __slots__ = ("layers", "base")

    def __init__(self, base: NodeLookup, updates: Sequence[RootUpdate]) -> None:
        self.base = base
        self.layers = [(u.nodes, u.wiped) for u in reversed(updates)]

    def __call__(self, key: bytes) -> Optional[bytes]:
        for nodes, wiped in self.layers:
            if key in nodes:
                return nodes[key]
            if wiped and key[:_STORAGE_PREFIX_LEN] in wiped and key[:1] == STORAGE_TRIE:
                return None
        return self.base(key)


def layered_nodes(base: NodeLookup, updates: Sequence[RootUpdate]) -> NodeLookup:
    return LayeredNodes(base, updates) if updates else base


_MISSING = object()


def compute_state_root(
    prev_root: bytes, diff: StateDiff, accounts_before: AccountLookup, nodes: NodeLookup
) -> RootUpdate:
    """Apply ``diff`` to the trie rooted at ``prev_root`` and return the new root.

    ``accounts_before`` gives each touched account's record before the block and
    ``nodes`` the trie nodes (store plus pending parents).  Nothing is written: the
    returned :class:`RootUpdate` is what the store writes when the block commits.
    """
    # The update allocates many small container objects and no cycles: the cyclic GC
    # would only rescan them (≈10% of the time), so it is paused for the update.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _compute_state_root(prev_root, diff, accounts_before, nodes)
    finally:
        if gc_was_enabled:
            gc.enable()


def _compute_state_root(
    prev_root: bytes, diff: StateDiff, accounts_before: AccountLookup, nodes: NodeLookup
) -> RootUpdate:
    keccak256 = mpt.keccak256
    encode_account = mpt.encode_account
    encode_storage_value = mpt.encode_storage_value
    update_trie = mpt.update_trie

    writes: Dict[bytes, Optional[bytes]] = {}
    update = RootUpdate(root=prev_root, nodes=writes)
    records = update.records
    accounts, storage, wiped = diff.accounts, diff.storage, diff.wiped
    account_items: List[Tuple[bytes, Optional[bytes]]] = []

    touched = set(accounts)
    touched.update(storage)
    touched.update(wiped)
    for address in sorted(touched):
        before = accounts_before(address)
        hashed = keccak256(address)
        had_storage = before is not None and before[3] != BLANK_ROOT
        after = accounts.get(address, _MISSING)
        if after is None:
            account_items.append((hashed, None))
            records[address] = None
            if had_storage:
                update.wiped.add(STORAGE_TRIE + hashed)
            continue
        if after is _MISSING:
            # py-evm semantics: storage written to a missing account creates it empty
            nonce, balance, code_hash = before[:3] if before is not None else (0, 0, EMPTY_CODE_HASH)
        else:
            nonce, balance, code_hash = after.nonce, after.balance, after.code_hash

        storage_root = before[3] if before is not None else BLANK_ROOT
        if address in wiped:
            if had_storage:
                update.wiped.add(STORAGE_TRIE + hashed)
            storage_root = BLANK_ROOT
        slots = storage.get(address)
        if slots:
            storage_root = update_trie(
                storage_root,
                STORAGE_TRIE + hashed,
                [(keccak256(slot.to_bytes(32, "big")), encode_storage_value(value) if value else None)
                 for slot, value in slots.items()],
                nodes,
                writes,
            )
        account_items.append((hashed, encode_account(nonce, balance, storage_root, code_hash)))
        records[address] = (nonce, balance, code_hash, storage_root)
    update.root = update_trie(prev_root, ACCOUNT_TRIE, account_items, nodes, writes)
    return update


class IncrementalStateRoot:
    """A block's state root, started on the part of its diff that is settled before the block ends.

    The parallel scheduler folds transactions in order while its workers still run; every
    so often it hands the accounts and slots the folded prefix wrote to :meth:`advance`,
    which applies their current values to the trie (node writes kept in memory, exactly
    as a pending block keeps them).  :meth:`finish` then takes the block's final diff and
    applies only what differs from what the trie already holds: values written again
    later, values that went back to their pre-block value, and everything else the block
    did (system calls, later transactions).  A trie's root depends only on its keys and
    values, so the root is the one :func:`compute_state_root` gives for the same diff; the
    node writes are the merged writes of the steps (later ones win, as for a child block
    over a pending parent).  A block that wipes storage or deletes an account, or reverts
    an account the trie created, is computed from scratch by :func:`compute_state_root`
    (storage-trie prefixes then go whole, which only that path does).

    It is also a reader of the pre-block state (``base``) that remembers what it read: the
    early steps read the pre-block accounts, records and slots while the workers run, and the serial tail's net diff
    (``Overlay.to_diff(base=...)``) and :meth:`finish` find them here instead of reading
    them again.
    """

    def __init__(self, prev_root: bytes, accounts_before: AccountLookup, nodes: NodeLookup, base) -> None:
        self.prev_root = prev_root
        self.base = base
        self._base_accounts: Dict[bytes, Optional[Tuple[int, int, bytes]]] = {}
        self._base_slots: Dict[Tuple[bytes, int], int] = {}
        self.root = prev_root
        self._lookup_before = accounts_before
        self._before: Dict[bytes, Optional[Tuple[int, int, bytes, bytes]]] = {}
        self._nodes = nodes
        self._writes: Dict[bytes, Optional[bytes]] = {}
        #: address -> (nonce, balance, code_hash, storage_root) its leaf holds in the trie so far
        self._leaves: Dict[bytes, Tuple[int, int, bytes, bytes]] = {}
        #: address -> {slot: value} set in its storage trie so far
        self._slots: Dict[bytes, Dict[int, int]] = {}
        #: steps taken by :meth:`advance` (reporting)
        self.steps = 0

    def before(self, address: bytes) -> Optional[Tuple[int, int, bytes, bytes]]:
        """The account's record before the block (cached)."""
        try:
            return self._before[address]
        except KeyError:
            record = self._before[address] = self._lookup_before(address)
            return record

    # -- the pre-block state, as a reader (hyperion.state.view) ------------------------------
    def read_account(self, address: bytes) -> Optional[Tuple[int, int, bytes]]:
        try:
            return self._base_accounts[address]
        except KeyError:
            account = self._base_accounts[address] = self.base.read_account(address)
            return account

    def read_storage(self, address: bytes, slot: int) -> int:
        key = (address, slot)
        try:
            return self._base_slots[key]
        except KeyError:
            value = self._base_slots[key] = self.base.read_storage(address, slot)
            return value

    def has_storage(self, address: bytes, excluded: Iterable[int] = ()) -> bool:
        return self.base.has_storage(address, excluded)

    def read_code(self, code_hash: bytes) -> bytes:
        return self.base.read_code(code_hash)

    def _load(self, key: bytes) -> Optional[bytes]:
        writes = self._writes
        if key in writes:
            return writes[key]
        return self._nodes(key)

    def advance(self, state, addresses: Iterable[bytes], slots: Dict[bytes, Set[int]]) -> None:
        """Apply ``state``'s current values of ``addresses`` and of the storage ``slots``.

        ``state`` is the block's :class:`~hyperion.state.view.Overlay`.  Deleted accounts and
        wiped storage are left to :meth:`finish`.
        """
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._advance(state, addresses, slots)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _advance(self, state, addresses: Iterable[bytes], slots: Dict[bytes, Set[int]]) -> None:
        keccak256 = mpt.keccak256
        update_trie = mpt.update_trie
        account_items: List[Tuple[bytes, Optional[bytes]]] = []
        touched = set(addresses)
        touched.update(slots)
        for address in sorted(touched):
            account = state.read_account(address)
            if account is None or address in state.wiped:
                continue
            self.read_account(address)  # for the net diff, read now rather than in the tail
            hashed = keccak256(address)
            leaf = self._leaves.get(address)
            if leaf is not None:
                storage_root = leaf[3]
            else:
                before = self.before(address)
                storage_root = before[3] if before is not None else BLANK_ROOT
            written = slots.get(address)
            if written:
                held = self._slots.setdefault(address, {})
                items = []
                for slot in written:
                    value = state.read_storage(address, slot)
                    # the trie holds ``held[slot]``, else the pre-block value
                    current = held[slot] if slot in held else self.read_storage(address, slot)
                    if value != current:
                        items.append((keccak256(slot.to_bytes(32, "big")),
                                      mpt.encode_storage_value(value) if value else None))
                        held[slot] = value
                if items:
                    storage_root = update_trie(storage_root, STORAGE_TRIE + hashed, items, self._load, self._writes)
            nonce, balance, code_hash = account
            record = (nonce, balance, code_hash, storage_root)
            if record != leaf:
                account_items.append((hashed, mpt.encode_account(nonce, balance, storage_root, code_hash)))
                self._leaves[address] = record
        self.root = update_trie(self.root, ACCOUNT_TRIE, account_items, self._load, self._writes)
        self.steps += 1

    def finish(self, diff: StateDiff) -> RootUpdate:
        """The block's :class:`RootUpdate` for its final ``diff``."""
        if not self._leaves:
            return compute_state_root(self.prev_root, diff, self.before, self._nodes)
        if diff.wiped or any(value is None for value in diff.accounts.values()):
            return compute_state_root(self.prev_root, diff, self.before, self._nodes)
        leaves, held_slots = self._leaves, self._slots
        # what to apply on top of the trie built so far
        delta = StateDiff()
        for address, slots in diff.storage.items():
            held = held_slots.get(address, {})
            changed = {slot: value for slot, value in slots.items() if slot not in held or held[slot] != value}
            delta.storage[address] = changed
        for address, held in held_slots.items():  # slots that went back to their pre-block value
            final = diff.storage.get(address, {})
            changed = delta.storage.setdefault(address, {})
            for slot, value in held.items():
                if slot not in final:
                    original = self.read_storage(address, slot)
                    if original != value:
                        changed[slot] = original
        delta.storage = {address: slots for address, slots in delta.storage.items() if slots}
        for address, account in diff.accounts.items():
            leaf = leaves.get(address)
            if leaf is None or leaf[:3] != (account.nonce, account.balance, account.code_hash) \
                    or address in delta.storage:
                delta.accounts[address] = account
        for address, leaf in leaves.items():  # accounts that went back to their pre-block value
            if address not in diff.accounts:
                before = self.before(address)
                if before is None:
                    return compute_state_root(self.prev_root, diff, self.before, self._nodes)
                if leaf[:3] != before[:3]:
                    delta.accounts[address] = Account(*before[:3])

        def before_here(address: bytes) -> Optional[Tuple[int, int, bytes, bytes]]:
            """The record as the trie built so far holds it (its storage root)."""
            leaf = leaves.get(address)
            return leaf if leaf is not None else self.before(address)

        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            update = _compute_state_root(self.root, delta, before_here, self._load)
        finally:
            if gc_was_enabled:
                gc.enable()
        nodes = self._writes
        nodes.update(update.nodes)
        records: Dict[bytes, Optional[Tuple[int, int, bytes, bytes]]] = {}
        for address in set(diff.accounts).union(diff.storage):
            records[address] = update.records[address] if address in update.records else leaves[address]
        return RootUpdate(root=update.root, nodes=nodes, records=records)


def root_from_scratch(accounts: Dict[bytes, Tuple[int, int, bytes]], storage: Dict[bytes, Dict[int, int]]) -> bytes:
    """State root of a complete state, for tests and genesis checks."""
    diff = StateDiff()
    diff.accounts = {a: Account(*v) for a, v in accounts.items()}
    diff.storage = {a: dict(s) for a, s in storage.items()}
    return compute_state_root(BLANK_ROOT, diff, lambda a: None, lambda k: None).root


# -- proofs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageProof:
    key: int
    value: int
    proof: Tuple[bytes, ...]


@dataclass(frozen=True)
class AccountProof:
    """An ``eth_getProof`` answer: the account, its storage root and Merkle proofs.

    ``account_proof`` holds the rlp nodes from the state root to the account's leaf (or
    to where its absence shows); each ``storage_proof`` does the same in the account's
    storage trie.  :meth:`to_rpc` gives the JSON-RPC shape.
    """

    address: bytes
    balance: int
    nonce: int
    code_hash: bytes
    storage_hash: bytes
    account_proof: Tuple[bytes, ...]
    storage_proof: Tuple[StorageProof, ...]
    state_root: bytes

    def to_rpc(self) -> dict:
        return {
            "address": "0x" + self.address.hex(),
            "balance": hex(self.balance),
            "nonce": hex(self.nonce),
            "codeHash": "0x" + self.code_hash.hex(),
            "storageHash": "0x" + self.storage_hash.hex(),
            "accountProof": ["0x" + node.hex() for node in self.account_proof],
            "storageProof": [
                {"key": hex(p.key), "value": hex(p.value), "proof": ["0x" + node.hex() for node in p.proof]}
                for p in self.storage_proof
            ],
        }


def _slot_int(slot: Union[int, bytes]) -> int:
    if isinstance(slot, int):
        value = slot
    else:
        raw = bytes(slot)
        if len(raw) > 32:
            raise ValueError("a storage key has at most 32 bytes")
        value = int.from_bytes(raw, "big")
    if not 0 <= value < 2**256:
        raise ValueError(f"storage key {slot!r} out of range")
    return value


def get_proof(root: bytes, address: bytes, slots: Iterable[Union[int, bytes]], nodes: NodeLookup) -> AccountProof:
    """Account and storage proofs for ``address`` against the state root ``root``."""
    address = bytes(address)
    if len(address) != 20:
        raise ValueError("an address has 20 bytes")
    hashed = mpt.keccak256(address)
    leaf, account_proof = mpt.prove(root, ACCOUNT_TRIE, hashed, nodes)
    if leaf is None:
        nonce, balance, storage_root, code_hash = 0, 0, BLANK_ROOT, EMPTY_CODE_HASH
    else:
        nonce, balance, storage_root, code_hash = mpt.decode_account(leaf)
    storage_proofs = []
    prefix = STORAGE_TRIE + hashed
    for slot in slots:
        key = _slot_int(slot)
        raw, proof = mpt.prove(storage_root, prefix, mpt.keccak256(key.to_bytes(32, "big")), nodes)
        storage_proofs.append(StorageProof(key=key, value=_decode_storage_value(raw), proof=tuple(proof)))
    return AccountProof(
        address=address, balance=balance, nonce=nonce, code_hash=code_hash, storage_hash=storage_root,
        account_proof=tuple(account_proof), storage_proof=tuple(storage_proofs), state_root=root,
    )


def _decode_storage_value(raw: Optional[bytes]) -> int:
    if raw is None:
        return 0
    if raw[0] < 0x80:
        return raw[0]
    if raw[0] <= 0xA0 and len(raw) == raw[0] - 0x80 + 1:
        return int.from_bytes(raw[1:], "big")
    raise mpt.TrieError(f"bad storage leaf {raw.hex()}")
