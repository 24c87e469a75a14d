"""Key-value backends behind the store: LMDB (the default) and in-memory (tests).

Both expose the same small surface: named tables, read transactions that see a
consistent snapshot, and one write transaction at a time that lands completely or not
at all.  The store (``hyperion.state.store``) is written once against this surface.
"""
from __future__ import annotations

import fcntl
import functools
import os
import threading
import time
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

import lmdb

from hyperion.errors import StoreError

TABLES = ("accounts", "storage", "code", "trie", "changesets", "blocks", "meta")

#: 1 TiB of address space: costs nothing on 64-bit Linux and a full map is an error.
DEFAULT_MAP_SIZE = 1 << 40

#: in the data directory: locked (flock) by the one process that writes, holding its pid
WRITER_LOCK_FILE = "writer.lock"


class KVError(RuntimeError):
    pass


class StoreLockedError(StoreError):
    """Another process writes to this data directory; ``holder`` is its pid (if known)."""

    def __init__(self, message: str, holder: Optional[int]) -> None:
        super().__init__(message)
        self.holder = holder


def _holder_pid(fd: int) -> Optional[int]:
    # the holder writes its pid right after taking the lock: give it a moment
    for _ in range(10):
        try:
            return int(os.pread(fd, 32, 0).decode().strip())
        except (OSError, ValueError, UnicodeDecodeError):
            time.sleep(0.01)
    return None


def take_writer_lock(path: str) -> int:
    """Lock ``path`` for writing; -> the lock's file descriptor (closing it unlocks).

    ``flock`` belongs to the open file, so the kernel drops it when the holder exits or
    is killed: a lock file left behind by a dead process never blocks.
    """
    fd = os.open(os.path.join(path, WRITER_LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder_pid(fd)
        os.close(fd)
        who = "pid unknown" if holder is None else f"pid {holder}"
        if holder == os.getpid():
            who += ", this very process: open a data directory once per process"
        raise StoreLockedError(
            f"{path} is in use by another writer ({who}); a data directory has one writer at a time. Stop "
            f"that process first; reading beside it works (`hyperion info`, `hyperion check`).", holder) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class LmdbBackend:
    """LMDB environment with one named database per table.

    Open it in the process that uses it (after any ``fork()``), never across one:
    docs/design.md §10.

    One process writes to a data directory at a time: a writable open takes the
    directory's writer lock, and a second writer gets :class:`StoreLockedError` naming the
    holder's pid; ``readonly=True`` opens take no lock and see committed blocks as they
    land.  The writer's Block-STM workers (docs/design.md §11) open
    read-only.
    """

    def __init__(self, path: str, map_size: int = DEFAULT_MAP_SIZE, readonly: bool = False) -> None:
        self.path = path
        self.pid = os.getpid()
        self.readonly = readonly
        self._lock_fd: Optional[int] = None
        if readonly:
            if not os.path.isfile(os.path.join(path, "data.mdb")):
                raise StoreError(f"{path} holds no store (no data.mdb)")
        else:
            os.makedirs(path, exist_ok=True)
            self._lock_fd = take_writer_lock(path)
        try:
            self.env = lmdb.open(
                path,
                map_size=map_size,
                max_dbs=len(TABLES) + 4,
                max_readers=512,
                readahead=False,
                readonly=readonly,
                # sync on commit keeps "a committed block survives a crash" true
                sync=True,
                metasync=True,
            )
            try:
                self.dbs = {name: self.env.open_db(name.encode(), create=not readonly) for name in TABLES}
            except lmdb.Error as exc:
                self.env.close()
                raise StoreError(f"{path}: cannot open the store's tables read-only: {exc}") from None
        except BaseException:
            self._unlock()
            raise

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _check_process(self) -> None:
        if os.getpid() != self.pid:
            raise KVError("an LMDB environment must not be used across fork(); open it in the worker")

    @contextmanager
    def read(self) -> Iterator["LmdbTxn"]:
        self._check_process()
        txn = self.env.begin(write=False, buffers=False)
        try:
            yield LmdbTxn(txn, self.dbs)
        finally:
            txn.abort()

    def begin_read(self) -> "LmdbTxn":
        """A long-lived read snapshot; call ``close()`` on it when done."""
        self._check_process()
        return LmdbTxn(self.env.begin(write=False, buffers=False), self.dbs)

    @contextmanager
    def write(self) -> Iterator["LmdbTxn"]:
        self._check_process()
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only in this process")
        txn = self.env.begin(write=True)
        try:
            yield LmdbTxn(txn, self.dbs)
        except BaseException:
            txn.abort()
            raise
        else:
            txn.commit()

    def close(self) -> None:
        self.env.close()
        self._unlock()  # after the environment: the next writer finds it closed


class LmdbTxn:
    __slots__ = ("txn", "dbs")

    def __init__(self, txn, dbs) -> None:
        self.txn = txn
        self.dbs = dbs

    def get(self, table: str, key: bytes) -> Optional[bytes]:
        return self.txn.get(key, db=self.dbs[table])

    def put(self, table: str, key: bytes, value: bytes) -> None:
        self.txn.put(key, value, db=self.dbs[table])

    def delete(self, table: str, key: bytes) -> None:
        self.txn.delete(key, db=self.dbs[table])

    def getter(self, table: str):
        """``key -> value | None`` for one table, without the per-call table lookup."""
        return functools.partial(self.txn.get, db=self.dbs[table])

    def iter_prefix(self, table: str, prefix: bytes) -> Iterator[Tuple[bytes, bytes]]:
        cursor = self.txn.cursor(db=self.dbs[table])
        if not cursor.set_range(prefix):
            return
        for key, value in cursor:
            if not key.startswith(prefix):
                return
            yield key, value

    def iter_from(self, table: str, start: bytes = b"") -> Iterator[Tuple[bytes, bytes]]:
        cursor = self.txn.cursor(db=self.dbs[table])
        if start:
            if not cursor.set_range(start):
                return
        elif not cursor.first():
            return
        yield from cursor

    def count(self, table: str) -> int:
        return self.txn.stat(self.dbs[table])["entries"]

    def close(self) -> None:
        self.txn.abort()


class MemoryBackend:
    """Dict tables with the LMDB backend's semantics, for tests and throw-away chains.

    A write transaction buffers its changes and applies them at the end under a lock, so
    a failed block leaves nothing behind.  Read transactions are live views (they see a
    later commit), which is enough for single-threaded embedding and tests.
    """

    #: table -> prefix width indexed (keys at least that long): an account's storage slots,
    #: a storage trie's nodes (b"S" + keccak(address))
    PREFIX_TABLES = {"storage": 20, "trie": 33}

    def __init__(self) -> None:
        self.path = ":memory:"
        self.tables: Dict[str, Dict[bytes, bytes]] = {name: {} for name in TABLES}
        # prefix -> set of keys, so per-account storage scans are not linear in the state
        self.index: Dict[str, Dict[bytes, set]] = {name: {} for name in self.PREFIX_TABLES}
        self.lock = threading.RLock()

    @contextmanager
    def read(self) -> Iterator["MemoryTxn"]:
        yield MemoryTxn(self, None)

    def begin_read(self) -> "MemoryTxn":
        return MemoryTxn(self, None)

    @contextmanager
    def write(self) -> Iterator["MemoryTxn"]:
        with self.lock:
            txn = MemoryTxn(self, {})
            yield txn
            for (table, key), value in txn.pending.items():
                self._raw_set(table, key, value)

    #: tables a worker process needs to execute against a copy of this store
    EXPORTED_TABLES = ("accounts", "storage", "code", "meta", "blocks")

    def export(self) -> Dict[str, Dict[bytes, bytes]]:
        """A copy of the state tables (to ship to worker processes)."""
        with self.lock:
            return {name: dict(self.tables[name]) for name in self.EXPORTED_TABLES}

    def load(self, tables: Dict[str, Dict[bytes, bytes]]) -> None:
        with self.lock:
            for name, data in tables.items():
                for key, value in data.items():
                    self._raw_set(name, key, value)

    def _raw_set(self, table: str, key: bytes, value: Optional[bytes]) -> None:
        data = self.tables[table]
        width = self.PREFIX_TABLES.get(table)
        if width and len(key) < width:
            width = None
        if value is None:
            if data.pop(key, None) is not None and width:
                keys = self.index[table].get(key[:width])
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self.index[table][key[:width]]
        else:
            data[key] = value
            if width:
                self.index[table].setdefault(key[:width], set()).add(key)

    def close(self) -> None:
        pass


class MemoryTxn:
    __slots__ = ("backend", "pending")

    def __init__(self, backend: MemoryBackend, pending) -> None:
        self.backend = backend
        self.pending = pending

    def get(self, table: str, key: bytes) -> Optional[bytes]:
        if self.pending is not None and (table, key) in self.pending:
            return self.pending[(table, key)]
        return self.backend.tables[table].get(key)

    def put(self, table: str, key: bytes, value: bytes) -> None:
        self.pending[(table, key)] = bytes(value)

    def delete(self, table: str, key: bytes) -> None:
        self.pending[(table, key)] = None

    def getter(self, table: str):
        if self.pending is None:
            return self.backend.tables[table].get
        return functools.partial(self.get, table)

    def _keys_with_prefix(self, table: str, prefix: bytes):
        width = MemoryBackend.PREFIX_TABLES.get(table)
        if width and len(prefix) >= width:
            keys = set(self.backend.index[table].get(prefix[:width], ()))
        else:
            keys = set(self.backend.tables[table])
        if self.pending:
            keys.update(k for (t, k) in self.pending if t == table)
        return sorted(k for k in keys if k.startswith(prefix))

    def iter_prefix(self, table: str, prefix: bytes) -> Iterator[Tuple[bytes, bytes]]:
        for key in self._keys_with_prefix(table, prefix):
            value = self.get(table, key)
            if value is not None:
                yield key, value

    def iter_from(self, table: str, start: bytes = b"") -> Iterator[Tuple[bytes, bytes]]:
        for key in self._keys_with_prefix(table, b""):
            if key >= start:
                value = self.get(table, key)
                if value is not None:
                    yield key, value

    def count(self, table: str) -> int:
        return len(self.backend.tables[table])

    def close(self) -> None:
        pass
