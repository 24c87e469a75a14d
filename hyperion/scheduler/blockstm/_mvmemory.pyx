# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``mvmemory_py.py`` (same API and semantics; see that module)."""

WIPE = b"W"
EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
cdef bytes _WIPE = WIPE
cdef bytes _EMPTY_CODE_HASH = EMPTY_CODE_HASH


class _Estimate:
    __slots__ = ()

    def __repr__(self):
        return "ESTIMATE"


ESTIMATE = _Estimate()
cdef object _ESTIMATE = ESTIMATE


class ReadDependency(BaseException):
    """A read hit an ESTIMATE (or an unexecuted lower transaction, for the coinbase)."""

    def __init__(self, blocking):
        super().__init__(blocking)
        self.blocking = blocking


cdef Py_ssize_t _position(list versions, Py_ssize_t tx):
    """Index of the first version whose writer is >= tx (versions sorted by writer)."""
    cdef Py_ssize_t lo = 0, hi = len(versions), mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if <Py_ssize_t> (<list> versions[mid])[0] < tx:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef class MVMemory:
    """One process's replica of the multi-version memory for one block."""

    cdef public dict entries
    cdef public list written
    cdef public list reads
    cdef public list applied
    cdef public dict codes
    cdef public dict slots_by_address
    cdef public object coinbase

    def __init__(self, Py_ssize_t n, coinbase=None):
        self.entries = {}
        self.written = [()] * n
        self.reads = [None] * n
        self.applied = [-1] * n
        self.codes = {}
        self.slots_by_address = {}
        self.coinbase = coinbase

    cdef void _put(self, object key, Py_ssize_t tx, object value):
        cdef object versions = self.entries.get(key)
        cdef Py_ssize_t position
        if versions is None:
            self.entries[key] = [[tx, value]]
            if type(key) is tuple:
                slots = self.slots_by_address.get((<tuple> key)[0])
                if slots is None:
                    slots = set()
                    self.slots_by_address[(<tuple> key)[0]] = slots
                slots.add((<tuple> key)[1])
            return
        position = _position(<list> versions, tx)
        if position < len(<list> versions) and (<list> (<list> versions)[position])[0] == tx:
            (<list> (<list> versions)[position])[1] = value
        else:
            (<list> versions).insert(position, [tx, value])

    cdef void _remove(self, object key, Py_ssize_t tx):
        cdef object versions = self.entries.get(key)
        cdef Py_ssize_t position
        if versions:
            position = _position(<list> versions, tx)
            if position < len(<list> versions) and (<list> (<list> versions)[position])[0] == tx:
                del (<list> versions)[position]

    def apply_record(self, Py_ssize_t tx, Py_ssize_t incarnation, dict accounts, dict storage, wiped, codes,
                     coinbase_delta, reads):
        if incarnation <= <Py_ssize_t> self.applied[tx]:
            return False
        cdef list keys = []
        cdef object key
        for address, value in accounts.items():
            self._put(address, tx, value)
            keys.append(address)
        for address in wiped:
            key = _WIPE + address
            self._put(key, tx, True)
            keys.append(key)
        for address, slots in storage.items():
            for slot, value in (<dict> slots).items():
                key = (address, slot)
                self._put(key, tx, value)
                keys.append(key)
        if coinbase_delta:
            self._put(self.coinbase, tx, coinbase_delta)
            keys.append(self.coinbase)
        cdef object previous = self.written[tx]
        cdef bint wrote_new = False
        cdef set current, previous_set
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

    def apply_estimate(self, Py_ssize_t tx, Py_ssize_t incarnation):
        if <Py_ssize_t> self.applied[tx] != incarnation:
            return
        for key in self.written[tx]:
            self._put(key, tx, _ESTIMATE)

    cdef object _latest_below(self, object key, Py_ssize_t tx):
        cdef object versions = self.entries.get(key)
        if not versions:
            return None
        cdef Py_ssize_t position = _position(<list> versions, tx)
        if position == 0:
            return None
        return (<list> versions)[position - 1]

    def latest_below(self, key, Py_ssize_t tx):
        entry = self._latest_below(key, tx)
        return None if entry is None else (entry[0], entry[1])

    cpdef object resolve_account(self, object address, Py_ssize_t tx, object base):
        cdef object found = self._latest_below(address, tx)
        if found is None:
            return base.read_account(address)
        if (<list> found)[1] is _ESTIMATE:
            raise ReadDependency((<list> found)[0])
        return (<list> found)[1]

    cpdef object resolve_storage(self, object address, object slot, Py_ssize_t tx, object base):
        cdef object found = self._latest_below((address, slot), tx)
        if found is not None and (<list> found)[1] is _ESTIMATE:
            raise ReadDependency((<list> found)[0])
        cdef object wipe = self._latest_below(_WIPE + address, tx)
        if wipe is not None:
            if (<list> wipe)[1] is _ESTIMATE:
                raise ReadDependency((<list> wipe)[0])
            if found is not None and <Py_ssize_t> (<list> found)[0] >= <Py_ssize_t> (<list> wipe)[0]:
                return (<list> found)[1]
            return 0
        if found is not None:
            return (<list> found)[1]
        return base.read_storage(address, slot)

    cpdef object resolve_has_storage(self, object address, object excluded, Py_ssize_t tx, object base):
        written = self.slots_by_address.get(address, ())
        for slot in written:
            if slot not in excluded and self.resolve_storage(address, slot, tx, base):
                return True
        cdef object wipe = self._latest_below(_WIPE + address, tx)
        if wipe is not None:
            if (<list> wipe)[1] is _ESTIMATE:
                raise ReadDependency((<list> wipe)[0])
            return False
        return base.has_storage(address, set(excluded) | set(written))

    cpdef object resolve_coinbase(self, Py_ssize_t tx, object base, object scheduler, object sync):
        cdef Py_ssize_t blocking = scheduler.first_not_executed(tx)
        if blocking >= 0:
            raise ReadDependency(blocking)
        sync()
        address = self.coinbase
        cdef object versions = self.entries.get(address)
        if versions is None:
            versions = []
        cdef Py_ssize_t position = _position(<list> versions, tx)
        delta = 0
        absolute = None
        cdef bint found_absolute = False
        cdef Py_ssize_t index
        for index in range(position - 1, -1, -1):
            writer, value = (<list> versions)[index]
            if value is _ESTIMATE:
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
                absolute = (0, 0, _EMPTY_CODE_HASH)
            absolute = (absolute[0], absolute[1] + delta, absolute[2])
        return absolute

    cpdef object resolve(self, object key, Py_ssize_t tx, object base, object scheduler, object sync):
        if type(key) is bytes:
            if key == self.coinbase:
                return self.resolve_coinbase(tx, base, scheduler, sync)
            return self.resolve_account(key, tx, base)
        if len(key) == 2:
            return self.resolve_storage(key[0], key[1], tx, base)
        return self.resolve_has_storage(key[1], key[2], tx, base)

    def validate(self, Py_ssize_t tx, base, scheduler, sync):
        cdef object reads = self.reads[tx]
        if reads is None:
            return False
        try:
            for key, value in (<dict> reads).items():
                if self.resolve(key, tx, base, scheduler, sync) != value:
                    return False
        except ReadDependency:
            return False
        return True


cdef class MVView:
    """The reader one incarnation of ``tx`` executes against; records its read-set."""

    cdef public MVMemory memory
    cdef public Py_ssize_t tx
    cdef public object base
    cdef public object scheduler
    cdef public object sync
    cdef public dict reads

    def __init__(self, MVMemory memory, Py_ssize_t tx, base, scheduler, sync):
        self.memory = memory
        self.tx = tx
        self.base = base
        self.scheduler = scheduler
        self.sync = sync
        self.reads = {}

    def read_account(self, address):
        cdef dict reads = self.reads
        if address in reads:
            return reads[address]
        if address == self.memory.coinbase:
            value = self.memory.resolve_coinbase(self.tx, self.base, self.scheduler, self.sync)
        else:
            value = self.memory.resolve_account(address, self.tx, self.base)
        reads[address] = value
        return value

    def read_storage(self, address, slot):
        cdef tuple key = (address, slot)
        cdef dict reads = self.reads
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
