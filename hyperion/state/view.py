"""Layered, trie-free views of the state.

A *reader* answers four questions about the state before some point of execution:

- ``read_account(address) -> (nonce, balance, code_hash) | None``
- ``read_storage(address, slot) -> int``
- ``read_code(code_hash) -> bytes``
- ``has_storage(address, excluded_slots) -> bool`` (any non-zero slot outside ``excluded``;
  only the EIP-7610 collision rule asks)

A store snapshot is the bottom reader.  An :class:`Overlay` stacks a block's writes on
top of another reader: the block being executed (mutable, fed write-sets by the
executor), or a pending block that a child block is pipelined on.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Protocol, Tuple

from hyperion.types import EMPTY_CODE_HASH, Account, StateDiff

AccountTuple = Tuple[int, int, bytes]


class StateReader(Protocol):
    def read_account(self, address: bytes) -> Optional[AccountTuple]: ...

    def read_storage(self, address: bytes, slot: int) -> int: ...

    def read_code(self, code_hash: bytes) -> bytes: ...

    def has_storage(self, address: bytes, excluded: Iterable[int] = ()) -> bool: ...


class Overlay:
    """Writes of one block on top of a base reader.

    ``storage[address]`` holds the slots written in this block; when ``address`` is in
    ``wiped`` the base's storage for it is gone and the dict is complete.
    """

    __slots__ = ("base", "accounts", "storage", "wiped", "codes")

    def __init__(self, base: StateReader) -> None:
        self.base = base
        self.accounts: Dict[bytes, Optional[AccountTuple]] = {}
        self.storage: Dict[bytes, Dict[int, int]] = {}
        self.wiped: set = set()
        self.codes: Dict[bytes, bytes] = {}

    # -- reader ---------------------------------------------------------------------
    def read_account(self, address: bytes) -> Optional[AccountTuple]:
        accounts = self.accounts
        if address in accounts:
            return accounts[address]
        return self.base.read_account(address)

    def read_storage(self, address: bytes, slot: int) -> int:
        slots = self.storage.get(address)
        if slots is not None:
            value = slots.get(slot)
            if value is not None:
                return value
        if address in self.wiped:
            return 0
        return self.base.read_storage(address, slot)

    def read_code(self, code_hash: bytes) -> bytes:
        code = self.codes.get(code_hash)
        if code is None:
            code = self.base.read_code(code_hash)
        return code

    def has_storage(self, address: bytes, excluded: Iterable[int] = ()) -> bool:
        excluded = set(excluded)
        slots = self.storage.get(address) or {}
        for slot, value in slots.items():
            if value and slot not in excluded:
                return True
        if address in self.wiped:
            return False
        return self.base.has_storage(address, excluded | set(slots))

    # -- writer ---------------------------------------------------------------------
    def apply(self, write_set) -> None:
        """Fold one transaction's write-set (``hyperion.evm.accountdb.WriteSet``) in."""
        storage = self.storage
        for address in write_set.wiped:
            storage[address] = {}
            self.wiped.add(address)
        for address, slots in write_set.storage.items():
            mine = storage.get(address)
            if mine is None:
                storage[address] = dict(slots)
            else:
                mine.update(slots)
        self.accounts.update(write_set.accounts)
        if write_set.codes:
            self.codes.update(write_set.codes)

    def credit(self, address: bytes, amount: int) -> None:
        """Add ``amount`` wei to ``address`` (a deferred coinbase fee credit)."""
        account = self.read_account(address)
        nonce, balance, code_hash = account if account is not None else (0, 0, EMPTY_CODE_HASH)
        self.accounts[address] = (nonce, balance + amount, code_hash)

    def to_diff(self, base: Optional[StateReader] = None) -> StateDiff:
        """The net change, without entries that ended where they started.

        ``base``: a reader of the same state as ``self.base`` to compare with (one that has
        already read most of it, e.g. the block's incremental state root)."""
        if base is None:
            base = self.base
        accounts = {}
        for address, value in self.accounts.items():
            if value != base.read_account(address):
                accounts[address] = None if value is None else Account(*value)
        storage = {}
        for address, slots in self.storage.items():
            if address in self.wiped:
                changed = {slot: value for slot, value in slots.items() if value}
            else:
                changed = {
                    slot: value for slot, value in slots.items() if value != base.read_storage(address, slot)
                }
            if changed:
                storage[address] = changed
        wiped = {address for address in self.wiped if base.has_storage(address)}
        referenced = {value.code_hash for value in accounts.values() if value is not None}
        codes = {h: c for h, c in self.codes.items() if h in referenced}
        return StateDiff(accounts=accounts, storage=storage, wiped=wiped, codes=codes)


class DiffReader:
    """A committed-looking view of a :class:`StateDiff` on top of a base reader."""

    __slots__ = ("base", "diff")

    def __init__(self, base: StateReader, diff: StateDiff) -> None:
        self.base = base
        self.diff = diff

    def read_account(self, address: bytes) -> Optional[AccountTuple]:
        accounts = self.diff.accounts
        if address in accounts:
            value = accounts[address]
            return None if value is None else (value.nonce, value.balance, value.code_hash)
        return self.base.read_account(address)

    def read_storage(self, address: bytes, slot: int) -> int:
        slots = self.diff.storage.get(address)
        if slots is not None and slot in slots:
            return slots[slot]
        if address in self.diff.wiped or (address in self.diff.accounts and self.diff.accounts[address] is None):
            return 0
        return self.base.read_storage(address, slot)

    def read_code(self, code_hash: bytes) -> bytes:
        code = self.diff.codes.get(code_hash)
        if code is None:
            code = self.base.read_code(code_hash)
        return code

    def has_storage(self, address: bytes, excluded: Iterable[int] = ()) -> bool:
        excluded = set(excluded)
        slots = self.diff.storage.get(address) or {}
        for slot, value in slots.items():
            if value and slot not in excluded:
                return True
        if address in self.diff.wiped or (address in self.diff.accounts and self.diff.accounts[address] is None):
            return False
        return self.base.has_storage(address, excluded | set(slots))
