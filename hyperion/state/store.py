"""The state store: flat accounts / storage / code, trie nodes, change sets, head.

One committed block is one write transaction on the backend: the flat state, the new
trie nodes, the block's change set (the *before* values it overwrote, so it can be
reverted) and the new head land together or not at all.  Change sets older than the
revert depth are pruned as new blocks commit (docs/design.md §8).

Trie nodes are keyed by path (``hyperion.state.trie.stateroot`` explains the layout): the
``trie`` table holds the head's trie only, and the nodes a block overwrites or deletes
(the superseded ones) go into its change set with the flat before-values, so reverting
the block restores them and pruning the change set drops them.
"""
from __future__ import annotations

import itertools
from typing import Dict, Iterable, Iterator, Optional, Tuple

import msgpack

from hyperion.errors import RevertError, StaleParentError, StoreError
from hyperion.state import codec
from hyperion.state.kv import DEFAULT_MAP_SIZE, LmdbBackend, MemoryBackend
from hyperion.state.trie.stateroot import RootUpdate
from hyperion.types import BLANK_ROOT, EMPTY_CODE_HASH, Head, StateDiff

DEFAULT_REVERT_DEPTH = 1024
SCHEMA_VERSION = 2  # 2: path-keyed trie nodes, superseded nodes in the change sets

_META_HEAD = b"head"
_META_SCHEMA = b"schema"
_META_CONFIG = b"chain_config"
_META_OLDEST_CHANGESET = b"oldest_changeset"


class StoreReader:
    """A consistent read snapshot of the store; also a state reader for execution."""

    __slots__ = ("txn", "_close")

    def __init__(self, txn, close: bool = True) -> None:
        self.txn = txn
        self._close = close

    def account_record(self, address: bytes) -> Optional[Tuple[int, int, bytes, bytes]]:
        raw = self.txn.get("accounts", address)
        return None if raw is None else codec.decode_account(raw)

    def read_account(self, address: bytes) -> Optional[Tuple[int, int, bytes]]:
        raw = self.txn.get("accounts", address)
        if raw is None:
            return None
        return (int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:40], "big"), raw[40:72])

    def read_storage(self, address: bytes, slot: int) -> int:
        raw = self.txn.get("storage", address + slot.to_bytes(32, "big"))
        return int.from_bytes(raw, "big") if raw else 0

    def read_code(self, code_hash: bytes) -> bytes:
        if code_hash == EMPTY_CODE_HASH:
            return b""
        code = self.txn.get("code", code_hash)
        if code is None:
            raise StoreError(f"code {code_hash.hex()} missing from the store")
        return code

    def has_storage(self, address: bytes, excluded: Iterable[int] = ()) -> bool:
        excluded = set(excluded)
        for key, _ in self.txn.iter_prefix("storage", address):
            if int.from_bytes(key[20:], "big") not in excluded:
                return True
        return False

    def iter_storage(self, address: bytes) -> Iterator[Tuple[int, int]]:
        for key, value in self.txn.iter_prefix("storage", address):
            yield int.from_bytes(key[20:], "big"), int.from_bytes(value, "big")

    def trie_node(self, key: bytes) -> Optional[bytes]:
        return self.txn.get("trie", key)

    def trie_lookup(self):
        """A fast ``key -> node | None`` callable over this snapshot's ``trie`` table."""
        return self.txn.getter("trie")

    def head(self) -> Head:
        return _decode_head(self.txn.get("meta", _META_HEAD))

    def block_hash(self, number: int) -> Optional[bytes]:
        raw = self.txn.get("blocks", codec.block_key(number))
        return None if raw is None or raw[:32] == b"\x00" * 32 else raw[:32]

    def close(self) -> None:
        if self._close:
            self.txn.close()

    def __enter__(self) -> "StoreReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _encode_head(head: Head) -> bytes:
    return msgpack.packb([head.number, head.state_root, head.block_hash])


def _decode_head(raw: Optional[bytes]) -> Head:
    if raw is None:
        return Head(number=-1, state_root=BLANK_ROOT, block_hash=None)
    number, root, block_hash = msgpack.unpackb(raw)
    return Head(number=number, state_root=root, block_hash=block_hash)


#: distinguishes the stores of one process (a scheduler may serve several in turn)
_store_ids = itertools.count(1)


class Store:
    """Flat state + trie nodes + change sets over a KV backend (LMDB or memory)."""

    def __init__(self, backend, revert_depth: int = DEFAULT_REVERT_DEPTH) -> None:
        if revert_depth < 1:
            raise ValueError("revert_depth must be at least 1")
        self.backend = backend
        self.revert_depth = revert_depth
        #: bumped by every write in this process (in-memory stores are shipped to workers by it)
        self.generation = 0
        self.instance = next(_store_ids)
        with backend.read() as txn:  # read first: a read-only open writes nothing
            schema = txn.get("meta", _META_SCHEMA)
        if schema is None and getattr(backend, "writable", True):
            with backend.write() as txn:
                schema = txn.get("meta", _META_SCHEMA)
                if schema is None:
                    txn.put("meta", _META_SCHEMA, str(SCHEMA_VERSION).encode())
        if schema is not None and int(schema) != SCHEMA_VERSION:
            raise StoreError(f"store schema {int(schema)} is not supported (expected {SCHEMA_VERSION})")

    @classmethod
    def open_lmdb(cls, path: str, map_size: int = DEFAULT_MAP_SIZE, revert_depth: int = DEFAULT_REVERT_DEPTH,
                  readonly: bool = False) -> "Store":
        """The store in ``path``.  A writable open takes the directory's writer lock (a
        second writer gets :class:`~hyperion.state.kv.StoreLockedError`); ``readonly=True``
        reads beside a running writer and never writes."""
        backend = LmdbBackend(path, map_size=map_size, readonly=readonly)
        try:
            return cls(backend, revert_depth=revert_depth)
        except BaseException:
            backend.close()
            raise

    @classmethod
    def in_memory(cls, revert_depth: int = DEFAULT_REVERT_DEPTH) -> "Store":
        return cls(MemoryBackend(), revert_depth=revert_depth)

    @property
    def path(self) -> str:
        return self.backend.path

    def close(self) -> None:
        self.backend.close()

    # -- reads ----------------------------------------------------------------------
    def reader(self) -> StoreReader:
        """A read snapshot; close it (or use it as a context manager) when done."""
        return StoreReader(self.backend.begin_read())

    def head(self) -> Head:
        with self.backend.read() as txn:
            return _decode_head(txn.get("meta", _META_HEAD))

    def chain_config_json(self) -> Optional[str]:
        with self.backend.read() as txn:
            raw = txn.get("meta", _META_CONFIG)
        return None if raw is None else raw.decode()

    def oldest_revertible(self) -> int:
        """The lowest block number ``revert_to`` can reach."""
        with self.backend.read() as txn:
            raw = txn.get("meta", _META_OLDEST_CHANGESET)
            head = _decode_head(txn.get("meta", _META_HEAD))
        oldest = int(raw) if raw else max(head.number, 0) + 1
        return max(oldest - 1, 0)

    # -- writes ---------------------------------------------------------------------
    def write_genesis(
        self,
        diff: StateDiff,
        update: RootUpdate,
        chain_config_json: str,
        block_hash: Optional[bytes] = None,
        number: int = 0,
    ) -> Head:
        """Write the genesis state as block ``number`` (0 unless the chain starts from a
        snapshot); it has no change set: there is nothing before it to revert to."""
        with self.backend.write() as txn:
            if _decode_head(txn.get("meta", _META_HEAD)).number >= 0:
                raise StoreError(f"{self.path} already holds a chain; genesis can only be written once")
            self._apply_diff(txn, diff, update, changeset=None)
            head = Head(number=number, state_root=update.root, block_hash=block_hash)
            txn.put("blocks", codec.block_key(number), (block_hash or b"\x00" * 32) + update.root)
            txn.put("meta", _META_HEAD, _encode_head(head))
            txn.put("meta", _META_CONFIG, chain_config_json.encode())
        self.generation += 1
        return head

    @property
    def is_memory(self) -> bool:
        return isinstance(self.backend, MemoryBackend)

    def commit_block(
        self,
        number: int,
        parent_root: bytes,
        diff: StateDiff,
        update: RootUpdate,
        block_hash: Optional[bytes] = None,
    ) -> Head:
        """Atomically apply one block on top of the head it was executed against."""
        with self.backend.write() as txn:
            head = _decode_head(txn.get("meta", _META_HEAD))
            if head.state_root != parent_root or head.number + 1 != number:
                raise StaleParentError(
                    f"block {number} was executed on state root {parent_root.hex()} but the head is "
                    f"block {head.number} with root {head.state_root.hex()}"
                )
            changeset: dict = {"head": _encode_head(head), "accounts": {}, "storage": {}, "wiped": {}}
            self._apply_diff(txn, diff, update, changeset)
            key = codec.block_key(number)
            txn.put("changesets", key, msgpack.packb(changeset))
            txn.put("blocks", key, (block_hash or b"\x00" * 32) + update.root)
            new_head = Head(number=number, state_root=update.root, block_hash=block_hash)
            txn.put("meta", _META_HEAD, _encode_head(new_head))
            self._prune(txn, number)
        self.generation += 1
        return new_head

    def _apply_diff(self, txn, diff: StateDiff, update: RootUpdate, changeset: Optional[dict]) -> None:
        touched = set(diff.accounts) | set(diff.storage) | set(diff.wiped)
        for address in sorted(touched):
            raw_before = txn.get("accounts", address)
            deleted = address in diff.accounts and diff.accounts[address] is None
            wiped = address in diff.wiped or deleted
            if changeset is not None:
                changeset["accounts"][address] = raw_before or b""
            if wiped:
                old_slots = list(txn.iter_prefix("storage", address))
                if changeset is not None:
                    changeset["wiped"][address] = [(k[20:], v) for k, v in old_slots]
                for key, _ in old_slots:
                    txn.delete("storage", key)
            slots = diff.storage.get(address, {})
            for slot, value in slots.items():
                key = codec.storage_key(address, slot)
                if changeset is not None and not wiped:
                    changeset["storage"].setdefault(address, []).append((key[20:], txn.get("storage", key) or b""))
                if value:
                    txn.put("storage", key, codec.encode_value(value))
                elif not wiped:
                    txn.delete("storage", key)
            record = update.records[address]
            if record is None:
                if raw_before is not None:
                    txn.delete("accounts", address)
            else:
                txn.put("accounts", address, codec.encode_account(*record))
        for code_hash, code in diff.codes.items():
            if txn.get("code", code_hash) is None:
                txn.put("code", code_hash, code)
        self._apply_nodes(txn, update, changeset)

    @staticmethod
    def _apply_nodes(txn, update: RootUpdate, changeset: Optional[dict]) -> None:
        """Write the block's trie nodes; keep what they supersede in the change set."""
        before: Optional[Dict[bytes, bytes]] = {} if changeset is not None else None
        for prefix in sorted(update.wiped):
            for key, value in list(txn.iter_prefix("trie", prefix)):
                if before is not None:
                    before.setdefault(key, value)
                txn.delete("trie", key)
        nodes = update.nodes
        for key in sorted(nodes):
            node = nodes[key]
            if before is not None and key not in before:
                before[key] = txn.get("trie", key) or b""
            if node is None:
                txn.delete("trie", key)
            else:
                txn.put("trie", key, node)
        if changeset is not None:
            changeset["trie"] = [[key, value] for key, value in before.items()]

    def _prune(self, txn, number: int) -> None:
        """Drop change sets that fell out of the revert window."""
        oldest_raw = txn.get("meta", _META_OLDEST_CHANGESET)
        oldest = int(oldest_raw) if oldest_raw else number
        keep_from = max(number - self.revert_depth + 1, 1)
        for old in range(oldest, keep_from):
            txn.delete("changesets", codec.block_key(old))
        txn.put("meta", _META_OLDEST_CHANGESET, str(max(oldest, keep_from)).encode())

    def revert_to(self, number: int) -> Head:
        """Undo committed blocks above ``number``, restoring its exact state and root."""
        with self.backend.write() as txn:
            head = _decode_head(txn.get("meta", _META_HEAD))
            if number > head.number:
                raise RevertError(f"cannot revert to block {number}: the head is block {head.number}")
            if number < 0:
                raise RevertError("cannot revert before genesis")
            for block in range(head.number, number, -1):
                raw = txn.get("changesets", codec.block_key(block))
                if raw is None:
                    raise RevertError(
                        f"cannot revert to block {number}: the change set of block {block} was pruned "
                        f"(revert depth {self.revert_depth})"
                    )
                changeset = msgpack.unpackb(raw, strict_map_key=False)
                self._undo(txn, changeset)
                txn.delete("changesets", codec.block_key(block))
                txn.delete("blocks", codec.block_key(block))
                head = _decode_head(changeset["head"])
            txn.put("meta", _META_HEAD, _encode_head(head))
        self.generation += 1
        return head

    @staticmethod
    def _undo(txn, changeset: dict) -> None:
        for address, raw in changeset["accounts"].items():
            if raw:
                txn.put("accounts", address, raw)
            else:
                txn.delete("accounts", address)
        for address, slots in changeset["storage"].items():
            for slot_key, raw in slots:
                if raw:
                    txn.put("storage", address + slot_key, raw)
                else:
                    txn.delete("storage", address + slot_key)
        # a wiped account's storage is restored whole: drop what the block wrote after
        # the wipe, then put back every slot it had before
        for address, slots in changeset["wiped"].items():
            for key, _ in list(txn.iter_prefix("storage", address)):
                txn.delete("storage", key)
            for slot_key, raw in slots:
                txn.put("storage", address + slot_key, raw)
        # superseded trie nodes: each path the block wrote or deleted gets its old node back
        for key, raw in changeset["trie"]:
            if raw:
                txn.put("trie", key, raw)
            else:
                txn.delete("trie", key)

    def set_chain_config(self, chain_config_json: str) -> None:
        with self.backend.write() as txn:
            txn.put("meta", _META_CONFIG, chain_config_json.encode())

    def stats(self) -> Dict[str, int]:
        with self.backend.read() as txn:
            return {table: txn.count(table) for table in ("accounts", "storage", "code", "trie", "changesets")}
