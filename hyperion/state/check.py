"""Integrity check of a data directory (``hyperion check``), read-only.

What a store must satisfy (docs/design.md §8, §10; ``hyperion.state.store``), checked on one
LMDB read snapshot, so it can run beside a writer and modifies nothing:

- **meta**: the schema is this code's, the chain configuration parses, the head decodes and
  its ``blocks`` entry holds the same root and hash; no block or change set lies above the
  head, and every change set of the revert window is there (none below it);
- **flat state**: every account record decodes, its code is stored and hashes to its code
  hash, every stored code hashes to its key, every storage row belongs to an account and is
  a canonical non-zero value;
- **tries**: every stored node reachable from the head root is at its path, carries its hash
  and hashes to it; the leaves are exactly the flat state (each account's record, with the
  storage root of its storage trie, whose leaves are exactly its slots), so the head root is
  the root of the flat state; no stored node is unreachable.  ``deep`` also rebuilds every
  trie from the flat state alone, stored nodes unused, and compares the roots;
- **change sets**: newest first, each one applied in memory to the state above it gives the
  root its block's parent recorded, the account records it restores are that state's, and
  the trie nodes it restores are exactly that trie's along the paths it touches.

Memory: the account records (and one account's storage at a time) are held in memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple

import msgpack
import rlp
from eth_hash.auto import keccak

from hyperion.state import codec
from hyperion.state.kv import LmdbBackend
from hyperion.state.store import SCHEMA_VERSION
from hyperion.state.trie import mpt
from hyperion.state.trie.stateroot import ACCOUNT_TRIE, STORAGE_TRIE, compute_state_root
from hyperion.types import BLANK_ROOT, EMPTY_CODE_HASH, Account, StateDiff

#: problems reported in full; past this the report says how many more there were
MAX_PROBLEMS = 200


@dataclass
class CheckReport:
    path: str
    deep: bool
    problems: List[str] = field(default_factory=list)
    suppressed: int = 0
    counts: Dict[str, int] = field(default_factory=dict)
    head: Optional[int] = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        counted = ", ".join(f"{count:,} {name}" for name, count in self.counts.items())
        verdict = "ok" if self.ok else f"{len(self.problems) + self.suppressed} problem(s)"
        return f"{self.path}: head {self.head}; checked {counted}{' (deep)' if self.deep else ''}: {verdict}"


class _Corrupt(Exception):
    """A node that cannot be read; the walk of that trie stops there."""


def _nibbles(data: bytes) -> bytes:
    return bytes(n for byte in data for n in (byte >> 4, byte & 15))


def _pack(nibbles: bytes) -> bytes:
    return bytes((nibbles[i] << 4) | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _path_text(key: bytes) -> str:
    if key[:1] == STORAGE_TRIE:
        return f"storage trie {key[1:33].hex()[:16]}.. path {key[33:].hex()}"
    return f"account trie path {key[1:].hex()}"


def walk_trie(root: bytes, prefix: bytes, load: Callable[[bytes], Optional[bytes]],
              visited: Set[bytes]) -> Iterator[Tuple[bytes, bytes]]:
    """(key, value) of every leaf of the trie ``root`` stored under ``prefix``, checking every
    stored node on the way (at its path, with its hash, hashing to it); adds the stored keys
    it read to ``visited``.  Raises :class:`_Corrupt` at a node it cannot use."""
    if root == BLANK_ROOT:
        return
    stack: List[Tuple[bytes, object]] = [(b"", root)]
    while stack:
        path, ref = stack.pop()
        if isinstance(ref, bytes):  # a hash: the node is stored at its path
            key = prefix + path
            raw = load(key)
            if raw is None:
                raise _Corrupt(f"{_path_text(key)}: node {ref.hex()} missing")
            raw = bytes(raw)
            if raw[:32] != ref:
                raise _Corrupt(f"{_path_text(key)}: holds node {raw[:32].hex()}, its parent wants {ref.hex()}")
            if keccak(raw[32:]) != ref:
                raise _Corrupt(f"{_path_text(key)}: node {ref.hex()} does not hash to its key (corrupt bytes)")
            visited.add(key)
            try:
                node = rlp.decode(raw[32:])
            except rlp.DecodingError as exc:
                raise _Corrupt(f"{_path_text(key)}: undecodable node: {exc}") from None
        else:
            node = ref  # embedded in its parent
        if not isinstance(node, list) or len(node) not in (2, 17):
            raise _Corrupt(f"{_path_text(prefix + path)}: not a trie node")
        if len(node) == 17:
            for nibble in range(16):
                child = node[nibble]
                if child != b"":
                    stack.append((path + bytes((nibble,)), child))
            if node[16]:
                yield _pack(path), node[16]
            continue
        encoded = _nibbles(node[0]) if isinstance(node[0], bytes) and node[0] else b"\x00"
        flag = encoded[0]
        rest = encoded[1:] if flag & 1 else encoded[2:]
        if flag >= 2:  # leaf
            full = path + rest
            if len(full) % 2:
                raise _Corrupt(f"{_path_text(prefix + path)}: a leaf with an odd key")
            yield _pack(full), node[1]
        else:
            stack.append((path + rest, node[1]))


class _Checker:
    def __init__(self, txn, report: CheckReport) -> None:
        self.txn = txn
        self.report = report
        self.counts = report.counts
        #: keccak(address) -> (address, (nonce, balance, code_hash, storage_root))
        self.accounts: Dict[bytes, Tuple[bytes, Tuple[int, int, bytes, bytes]]] = {}
        self.visited: Set[bytes] = set()

    def problem(self, text: str) -> None:
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(text)
        else:
            self.report.suppressed += 1

    # -- meta ---------------------------------------------------------------------------------
    def meta(self):
        """-> the head (number, root, hash), or None when the rest cannot be checked."""
        from hyperion.chain import ChainConfig

        get = self.txn.get
        schema = get("meta", b"schema")
        if schema != str(SCHEMA_VERSION).encode():
            self.problem(f"schema {schema!r}, this Hyperion reads schema {SCHEMA_VERSION}")
        raw_head = get("meta", b"head")
        if raw_head is None:
            self.report.head = -1
            for table in ("accounts", "storage", "trie", "changesets", "blocks"):
                if self.txn.count(table):
                    self.problem(f"no head (no genesis), yet the {table} table has entries")
            return None
        try:
            number, root, block_hash = msgpack.unpackb(raw_head)
            if not (isinstance(number, int) and isinstance(root, bytes) and len(root) == 32):
                raise ValueError(f"{number!r}, {root!r}")
        except Exception as exc:
            self.problem(f"the head record does not decode ({type(exc).__name__}: {exc})")
            return None
        self.report.head = number
        config = get("meta", b"chain_config")
        if config is None:
            self.problem("no chain configuration, though the store has a genesis")
        else:
            try:
                ChainConfig.from_json(config.decode())
            except Exception as exc:
                self.problem(f"the chain configuration does not parse ({type(exc).__name__}: {exc})")
        entry = get("blocks", codec.block_key(number))
        if entry is None or entry[32:] != root or (block_hash is not None and entry[:32] != block_hash):
            self.problem(f"the blocks entry of head {number} does not hold the head's root and hash")
        for table in ("blocks", "changesets"):
            for key, _ in self.txn.iter_from(table, codec.block_key(number + 1)):
                self.problem(f"{table} holds block {int.from_bytes(key, 'big')}, above the head {number}")
        return number, root, block_hash

    # -- flat state ---------------------------------------------------------------------------
    def flat(self) -> None:
        codes = 0
        for code_hash, code in self.txn.iter_from("code"):
            codes += 1
            if keccak(code) != code_hash:
                self.problem(f"code {code_hash.hex()} does not hash to its key")
        for address, raw in self.txn.iter_from("accounts"):
            try:
                if len(address) != 20:
                    raise ValueError(f"a key of {len(address)} bytes")
                record = codec.decode_account(raw)
            except ValueError as exc:
                self.problem(f"account {address.hex()}: {exc}")
                continue
            if record[2] != EMPTY_CODE_HASH and self.txn.get("code", record[2]) is None:
                self.problem(f"account {address.hex()}: its code {record[2].hex()} is not stored")
            self.accounts[keccak(address)] = (address, record)
        slots = 0
        owner, owner_ok = None, False
        for key, value in self.txn.iter_from("storage"):
            slots += 1
            if len(key) != 52 or not value or value[0] == 0 or len(value) > 32:
                self.problem(f"storage row {key.hex()}: not an address, a slot and a canonical non-zero value")
            if key[:20] != owner:
                owner = key[:20]
                owner_ok = keccak(owner) in self.accounts
                if not owner_ok:
                    self.problem(f"storage of {owner.hex()}, an account that does not exist")
        self.counts.update(accounts=len(self.accounts), slots=slots, codes=codes)

    # -- tries --------------------------------------------------------------------------------
    def tries(self, root: bytes, deep: bool) -> None:
        load = self.txn.getter("trie")
        leaves: Dict[bytes, bytes] = {}
        try:
            for hashed, value in walk_trie(root, ACCOUNT_TRIE, load, self.visited):
                leaves[hashed] = value
        except _Corrupt as exc:
            self.problem(f"account trie of head root {root.hex()}: {exc}")
        for hashed in leaves:
            if hashed not in self.accounts:
                self.problem(f"the account trie has a leaf {hashed.hex()} with no account in the flat state")
        rebuilt = []
        for hashed, (address, (nonce, balance, code_hash, storage_root)) in self.accounts.items():
            slots = {keccak(k[20:]): mpt.encode_storage_value(int.from_bytes(v, "big"))
                     for k, v in self.txn.iter_prefix("storage", address)}
            self.storage_trie(address, storage_root, slots, load)
            leaf = mpt.encode_account(nonce, balance, storage_root, code_hash)
            if leaves.get(hashed) != leaf:
                self.problem(f"account {address.hex()}: the account trie holds "
                             f"{'no leaf' if hashed not in leaves else 'another record'} for it")
            if deep:
                deep_root = mpt.trie_root(slots.items()) if slots else BLANK_ROOT
                if deep_root != storage_root:
                    self.problem(f"account {address.hex()}: its slots rebuild to storage root {deep_root.hex()}, "
                                 f"its record says {storage_root.hex()}")
                rebuilt.append((hashed, mpt.encode_account(nonce, balance, deep_root, code_hash)))
        if deep:
            deep_root = mpt.trie_root(rebuilt) if rebuilt else BLANK_ROOT
            if deep_root != root:
                self.problem(f"the flat state rebuilds to root {deep_root.hex()}, the head root is {root.hex()}")
        nodes = self.txn.count("trie")
        if nodes != len(self.visited):
            for key, _ in self.txn.iter_from("trie"):
                if key not in self.visited:
                    self.problem(f"{_path_text(key)}: a stored node unreachable from the head root")
        self.counts["trie nodes"] = nodes

    def storage_trie(self, address: bytes, storage_root: bytes, slots: Dict[bytes, bytes], load) -> None:
        try:
            leaves = dict(walk_trie(storage_root, STORAGE_TRIE + keccak(address), load, self.visited))
        except _Corrupt as exc:
            self.problem(f"storage trie of {address.hex()}: {exc}")
            return
        if leaves != slots:
            extra = len(set(leaves) - set(slots))
            missing = len(set(slots) - set(leaves))
            changed = sum(1 for k in set(leaves) & set(slots) if leaves[k] != slots[k])
            self.problem(f"account {address.hex()}: its storage trie and its slots differ ({missing} slot(s) "
                         f"missing from the trie, {extra} leaf(s) with no slot, {changed} value(s) differ)")

    # -- change sets ----------------------------------------------------------------------------
    def changesets(self, head: int, root: bytes) -> None:
        raw_oldest = self.txn.get("meta", b"oldest_changeset")
        oldest = int(raw_oldest) if raw_oldest else head + 1
        for key, _ in self.txn.iter_from("changesets"):
            number = int.from_bytes(key, "big")
            if number >= max(oldest, 1):
                break
            self.problem(f"the change set of block {number} is below the revert window (from {oldest})")
        accounts: Dict[bytes, Optional[bytes]] = {}  # the flat records above, as undone so far
        nodes: Dict[bytes, Optional[bytes]] = {}  # the trie nodes above, as undone so far
        get_account, get_node = self.txn.getter("accounts"), self.txn.getter("trie")

        def account_before(address: bytes):
            raw = accounts[address] if address in accounts else get_account(address)
            return codec.decode_account(raw) if raw else None

        def node(key: bytes) -> Optional[bytes]:
            return nodes[key] if key in nodes else get_node(key)

        checked = 0
        for number in range(head, max(oldest, 1) - 1, -1):
            raw = self.txn.get("changesets", codec.block_key(number))
            where = f"the change set of block {number}"
            if raw is None:
                self.problem(f"{where} is missing (the revert window starts at {oldest})")
                break
            try:
                changeset = msgpack.unpackb(raw, strict_map_key=False)
                parent_number, parent_root, _ = msgpack.unpackb(changeset["head"])
                diff, befores = _reverse_diff(changeset)
                restored = {k: (v or None) for k, v in changeset["trie"]}
            except Exception as exc:
                self.problem(f"{where} does not decode ({type(exc).__name__}: {exc})")
                break
            if parent_number != number - 1:
                self.problem(f"{where} records parent block {parent_number}")
            entry = self.txn.get("blocks", codec.block_key(number - 1))
            if entry is not None and entry[32:] != parent_root:
                self.problem(f"{where} records parent root {parent_root.hex()}, the blocks table "
                             f"{entry[32:].hex()}")
            try:
                update = compute_state_root(root, diff, account_before, node)
            except mpt.TrieError as exc:
                self.problem(f"{where} does not apply to the trie above it: {exc}")
                break
            if update.root != parent_root:
                self.problem(f"reverting block {number} gives root {update.root.hex()}, its change set records "
                             f"{parent_root.hex()}")
            for address, raw_before in befores.items():
                expected = codec.decode_account(raw_before) if raw_before else None
                if update.records.get(address) != expected:
                    self.problem(f"{where}: account {address.hex()} reverts to a record other than the one saved")
            self.restored_nodes(where, update, restored, node)
            accounts.update(befores)
            nodes.update(restored)
            root = parent_root
            checked += 1
        self.counts["change sets"] = checked

    def restored_nodes(self, where: str, update, restored: Dict[bytes, Optional[bytes]], node) -> None:
        """The nodes the change set puts back must be the parent's trie along the paths the
        revert touches (the parent's trie is canonical: one node per path)."""
        keys = set(update.nodes) | set(restored)
        for prefix in update.wiped:
            keys.update(k for k, _ in self.txn.iter_prefix("trie", prefix))
        for key in sorted(keys):
            after = restored[key] if key in restored else node(key)
            if key in update.nodes:
                expected = update.nodes[key]
            elif any(key.startswith(p) for p in update.wiped):
                expected = None
            else:
                expected = node(key)
            if (after or None) != (expected or None):
                self.problem(f"{where} restores {_path_text(key)} to a node other than the parent trie's")


def _reverse_diff(changeset: dict) -> Tuple[StateDiff, Dict[bytes, bytes]]:
    """The diff that takes the state after a block back to before it, and the account
    records (raw, ``b""`` = absent) it restores."""
    diff = StateDiff()
    befores = {bytes(a): bytes(raw) for a, raw in changeset["accounts"].items()}
    for address, raw in befores.items():
        if raw:
            nonce, balance, code_hash, _ = codec.decode_account(raw)
            diff.accounts[address] = Account(nonce, balance, code_hash)
        else:
            diff.accounts[address] = None
    for address, slots in changeset["storage"].items():
        diff.storage.setdefault(bytes(address), {}).update(
            (int.from_bytes(k, "big"), codec.decode_value(v)) for k, v in slots)
    for address, slots in changeset["wiped"].items():
        diff.wiped.add(bytes(address))
        diff.storage.setdefault(bytes(address), {}).update(
            (int.from_bytes(k, "big"), codec.decode_value(v)) for k, v in slots)
    return diff, befores


def check_store(path: str, deep: bool = False) -> CheckReport:
    """Check the store in ``path`` (opened read-only); see the module docstring."""
    report = CheckReport(path=path, deep=deep)
    backend = LmdbBackend(path, readonly=True)  # not a Store: that refuses a wrong schema
    try:
        txn = backend.begin_read()
        try:
            checker = _Checker(txn, report)
            head = checker.meta()
            checker.flat()
            if head is not None:
                checker.tries(head[1], deep)
                checker.changesets(head[0], head[1])
        finally:
            txn.close()
    finally:
        backend.close()
    return report
