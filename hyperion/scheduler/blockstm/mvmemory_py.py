"""Block-STM's multi-version memory (a per-process replica fed by the shared record log)
and the reader one incarnation executes against.

One source, two modules: this file is the pure-Python implementation, and setup.py also
compiles it with Cython as ``_mvmemory``, typed by ``_mvmemory.pxd`` beside it (Cython's
pure-Python mode; docs/design.md §14).  Keep it to what both run the same way: the .pxd
makes the classes ``cdef class``es, so no new attributes outside those it declares.

Locations and what the memory holds for each writer ``tx`` (pevm's vocabulary:
``MemoryEntry::Data`` or ``MemoryEntry::Estimate``)::

    address(20 bytes)         account (nonce, balance, code_hash) or None (deleted)
    (address, slot)           storage value
    WIPE + address            "all storage of address written before tx is gone"
    coinbase address          also an int: the coinbase fee credit of tx (a *delta*)

A read by ``tx`` sees the entry of the highest writer below ``tx``; an ESTIMATE there
means "that writer was aborted and will probably write here again": the read raises
:class:`ReadDependency` and the scheduler suspends ``tx`` until the writer re-executes.

Validation compares *values*: the read-set holds what each read returned, and a re-read
that returns the same value keeps the incarnation valid (a re-executed writer that wrote
the same value invalidates nobody).

The coinbase: every transaction credits it a fee.  Writers record that credit as a delta
entry, so transactions do not depend on each other through the coinbase.  A transaction
that really reads the coinbase account gets the exact sequential value: it waits until
every lower transaction has executed, then sums their deltas on top of the last absolute
value (docs/design.md §9).
"""
from __future__ import annotations

WIPE = b"W"
EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


class _Estimate:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ESTIMATE"


ESTIMATE = _Estimate()


class ReadDependency(BaseException):
    """A read hit an ESTIMATE (or an unexecuted lower transaction, for the coinbase).

    A ``BaseException`` on purpose: py-evm swallows ``Exception`` in places (EIP-7702
    authorizations), and this must unwind the whole incarnation.
    """

    def __init__(self, blocking: int) -> None:
        super().__init__(blocking)
        self.blocking = blocking


def _position(versions, tx):
    """Index of the first version whose writer is >= tx (versions sorted by writer)."""
    lo = 0
    hi = len(versions)
    while lo < hi:
        mid = (lo + hi) >> 1
        writer = versions[mid][0]
        if writer < tx:
            lo = mid + 1
        else:
            hi = mid
    return lo


class MVMemory:
    """One process's replica of the multi-version memory for one block."""

    def __init__(self, n: int, coinbase=None) -> None:
        self.entries = {}
        self.written = [()] * n
        self.reads = [None] * n
        self.applied = [-1] * n
        self.codes = {}
        self.slots_by_address = {}
        self.coinbase = coinbase

    # -- writers ----------------------------------------------------------------------
    def _put(self, key, tx, value):
        versions = self.entries.get(key)
        if versions is None:
            self.entries[key] = [[tx, value]]
            if type(key) is tuple:
                slots = self.slots_by_address.get(key[0])
                if slots is None:
                    slots = set()
                    self.slots_by_address[key[0]] = slots
                slots.add(key[1])
            return
        position = _position(versions, tx)
        if position < len(versions):
            entry = versions[position]
            if entry[0] == tx:
                entry[1] = value
                return
        versions.insert(position, [tx, value])

    def _remove(self, key, tx):
        versions = self.entries.get(key)
        if versions:
            position = _position(versions, tx)
            if position < len(versions) and versions[position][0] == tx:
                del versions[position]

    def apply_record(self, tx, incarnation, accounts, storage, wiped, codes, coinbase_delta, reads):
        """Install incarnation ``incarnation`` of ``tx``; True if it wrote a location its
        previous incarnation did not (Block-STM then re-validates higher transactions).
        Older incarnations than the one already installed are ignored."""
        if incarnation <= self.applied[tx]:
            return False
        keys = []
        for address, value in accounts.items():
            self._put(address, tx, value)
            keys.append(address)
        for address in wiped:
            key = WIPE + address
            self._put(key, tx, True)
            keys.append(key)
        for address, slots in storage.items():
            for slot, value in slots.items():
                key = (address, slot)
                self._put(key, tx, value)
                keys.append(key)
        if coinbase_delta:
            self._put(self.coinbase, tx, coinbase_delta)
            keys.append(self.coinbase)
        previous = self.written[tx]
        wrote_new = False
        if previous:
            current = set(keys)
            for key in previous:
                if key not in current:
                    self._remove(key, tx)
            previous_set = set(previous)
            for key in keys:
                if key not in previous_set:
                    wrote_new = True
                    break
        else:
            wrote_new = len(keys) > 0
        self.written[tx] = keys
        self.reads[tx] = reads
        self.applied[tx] = incarnation
        if codes:
            self.codes.update(codes)
        return wrote_new

    def apply_estimate(self, tx, incarnation):
        """Incarnation ``incarnation`` of ``tx`` was aborted: its writes become ESTIMATEs."""
        if self.applied[tx] != incarnation:
            return
        for key in self.written[tx]:
            self._put(key, tx, ESTIMATE)

    # -- readers ----------------------------------------------------------------------
    def _latest_below(self, key, tx):
        """The ``[writer, value]`` entry of the highest writer below ``tx``, or None."""
        versions = self.entries.get(key)
        if not versions:
            return None
        position = _position(versions, tx)
        if position == 0:
            return None
        return versions[position - 1]

    def latest_below(self, key, tx):
        """-> (writer, value) of the highest writer below ``tx``, or None."""
        entry = self._latest_below(key, tx)
        return None if entry is None else (entry[0], entry[1])

    def resolve_account(self, address, tx, base):
        found = self._latest_below(address, tx)
        if found is None:
            return base.read_account(address)
        if found[1] is ESTIMATE:
            raise ReadDependency(found[0])
        return found[1]

    def resolve_storage(self, address, slot, tx, base):
        found = self._latest_below((address, slot), tx)
        if found is not None and found[1] is ESTIMATE:
            raise ReadDependency(found[0])
        wipe = self._latest_below(WIPE + address, tx)
        if wipe is not None:
            if wipe[1] is ESTIMATE:
                raise ReadDependency(wipe[0])
            if found is not None and found[0] >= wipe[0]:
                return found[1]
            return 0
        if found is not None:
            return found[1]
        return base.read_storage(address, slot)

    def resolve_has_storage(self, address, excluded, tx, base):
        written = self.slots_by_address.get(address, ())
        for slot in written:
            if slot not in excluded and self.resolve_storage(address, slot, tx, base):
                return True
        wipe = self._latest_below(WIPE + address, tx)
        if wipe is not None:
            if wipe[1] is ESTIMATE:
                raise ReadDependency(wipe[0])
            return False
        return base.has_storage(address, set(excluded) | set(written))

    def resolve_coinbase(self, tx, base, scheduler, sync):
        """Exact coinbase account as sequential execution would see it before ``tx``."""
        blocking = scheduler.first_not_executed(tx)
        if blocking >= 0:
            raise ReadDependency(blocking)
        sync()
        address = self.coinbase
        versions = self.entries.get(address)
        if versions is None:
            versions = []
        position = _position(versions, tx)
        delta = 0
        absolute = None
        found_absolute = False
        for index in range(position - 1, -1, -1):
            writer, value = versions[index]
            if value is ESTIMATE:
                raise ReadDependency(writer)
            if type(value) is int:
                delta += value
            else:
                absolute = value
                found_absolute = True
                break
        if not found_absolute:
            absolute = base.read_account(address)
        if delta:
            if absolute is None:
                absolute = (0, 0, EMPTY_CODE_HASH)
            absolute = (absolute[0], absolute[1] + delta, absolute[2])
        return absolute

    def resolve(self, key, tx, base, scheduler, sync):
        if type(key) is bytes:
            if key == self.coinbase:
                return self.resolve_coinbase(tx, base, scheduler, sync)
            return self.resolve_account(key, tx, base)
        if len(key) == 2:
            return self.resolve_storage(key[0], key[1], tx, base)
        return self.resolve_has_storage(key[1], key[2], tx, base)

    def validate(self, tx, base, scheduler, sync):
        """Re-read ``tx``'s last read-set; False if any value changed or is an ESTIMATE."""
        reads = self.reads[tx]
        if reads is None:
            return False
        try:
            for key, value in reads.items():
                if self.resolve(key, tx, base, scheduler, sync) != value:
                    return False
        except ReadDependency:
            return False
        return True


class MVView:
    """The reader one incarnation of ``tx`` executes against; records its read-set."""

    def __init__(self, memory: MVMemory, tx: int, base, scheduler, sync) -> None:
        self.memory = memory
        self.tx = tx
        self.base = base
        self.scheduler = scheduler
        self.sync = sync
        self.reads = {}

    def read_account(self, address):
        reads = self.reads
        if address in reads:
            return reads[address]
        if address == self.memory.coinbase:
            value = self.memory.resolve_coinbase(self.tx, self.base, self.scheduler, self.sync)
        else:
            value = self.memory.resolve_account(address, self.tx, self.base)
        reads[address] = value
        return value

    def read_storage(self, address, slot):
        key = (address, slot)
        reads = self.reads
        if key in reads:
            return reads[key]
        value = self.memory.resolve_storage(address, slot, self.tx, self.base)
        reads[key] = value
        return value

    def read_code(self, code_hash):
        code = self.memory.codes.get(code_hash)
        if code is None:
            code = self.base.read_code(code_hash)
        return code

    def has_storage(self, address, excluded=()):
        excluded = tuple(sorted(excluded))
        key = (b"h", address, excluded)
        if key in self.reads:
            return self.reads[key]
        value = self.memory.resolve_has_storage(address, excluded, self.tx, self.base)
        self.reads[key] = value
        return value
