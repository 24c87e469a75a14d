"""Ethereum's Merkle-Patricia state root, computed once per block from the net diff.

Trie nodes are content-addressed (keccak of the node) and kept in the store's ``trie``
table, so each block hashes only the paths it touches.  This module is the reference
implementation on py-trie; ``hyperion.state.trie`` may swap in a faster engine with the
same :class:`RootUpdate` result.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import rlp
from eth_hash.auto import keccak
from trie import HexaryTrie

from hyperion.types import BLANK_ROOT, EMPTY_CODE_HASH, StateDiff

#: address -> (nonce, balance, code_hash, storage_root) before the block, or None
AccountLookup = Callable[[bytes], Optional[Tuple[int, int, bytes, bytes]]]
NodeLookup = Callable[[bytes], Optional[bytes]]


@dataclass
class RootUpdate:
    root: bytes
    #: new trie nodes (hash -> rlp), written to the store when the block commits
    nodes: Dict[bytes, bytes] = field(default_factory=dict)
    #: final (nonce, balance, code_hash, storage_root) of every touched account, None = deleted
    records: Dict[bytes, Optional[Tuple[int, int, bytes, bytes]]] = field(default_factory=dict)


class _NodeDB:
    """dict-like node store for py-trie: new nodes in a dict, old ones from a lookup."""

    __slots__ = ("lookup", "writes")

    def __init__(self, lookup: NodeLookup, writes: Dict[bytes, bytes]) -> None:
        self.lookup = lookup
        self.writes = writes

    def __getitem__(self, key: bytes) -> bytes:
        value = self.writes.get(key)
        if value is None:
            value = self.lookup(key)
            if value is None:
                raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def __contains__(self, key: bytes) -> bool:
        return key in self.writes or self.lookup(key) is not None

    def __delitem__(self, key: bytes) -> None:
        # Nodes are never deleted here: an older root must stay readable for revert.
        pass


def encode_storage_value(value: int) -> bytes:
    return rlp.encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def compute_state_root(
    prev_root: bytes, diff: StateDiff, accounts_before: AccountLookup, nodes: NodeLookup
) -> RootUpdate:
    """Apply ``diff`` to the trie rooted at ``prev_root`` and return the new root."""
    writes: Dict[bytes, bytes] = {}
    db = _NodeDB(nodes, writes)
    update = RootUpdate(root=prev_root, nodes=writes)

    touched = set(diff.accounts) | set(diff.storage) | set(diff.wiped)
    state_trie = HexaryTrie(db, prev_root)
    with state_trie.squash_changes() as batch:
        for address in sorted(touched):
            before = accounts_before(address)
            if address in diff.accounts:
                after = diff.accounts[address]
                if after is None:
                    batch.delete(keccak(address))
                    update.records[address] = None
                    continue
                nonce, balance, code_hash = after.nonce, after.balance, after.code_hash
            else:
                # py-evm semantics: storage written to a missing account creates it empty
                nonce, balance, code_hash = before[:3] if before is not None else (0, 0, EMPTY_CODE_HASH)

            if address in diff.wiped or before is None:
                storage_root = BLANK_ROOT
            else:
                storage_root = before[3]
            slots = diff.storage.get(address)
            if slots or address in diff.wiped:
                storage_trie = HexaryTrie(db, storage_root)
                with storage_trie.squash_changes() as storage_batch:
                    for slot in sorted(slots or ()):
                        key = keccak(slot.to_bytes(32, "big"))
                        value = slots[slot]
                        if value:
                            storage_batch[key] = encode_storage_value(value)
                        else:
                            storage_batch.delete(key)
                storage_root = storage_trie.root_hash
            batch[keccak(address)] = rlp.encode([nonce, balance, storage_root, code_hash])
            update.records[address] = (nonce, balance, code_hash, storage_root)
    update.root = state_trie.root_hash
    return update


def root_from_scratch(accounts: Dict[bytes, Tuple[int, int, bytes]], storage: Dict[bytes, Dict[int, int]]) -> bytes:
    """State root of a complete state, for tests and genesis checks."""
    diff = StateDiff()
    from hyperion.types import Account

    diff.accounts = {a: Account(*v) for a, v in accounts.items()}
    diff.storage = {a: dict(s) for a, s in storage.items()}
    return compute_state_root(BLANK_ROOT, diff, lambda a: None, lambda k: None).root
