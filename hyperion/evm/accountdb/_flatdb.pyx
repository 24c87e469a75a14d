# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``flatdb_py.py`` (same API, same semantics; see that module's docstring).

py-evm calls the account DB several times per opcode that touches state, so the method
dispatch and the dict work here are the hottest Python-level path of execution.
"""
from eth.db.journal import get_next_checkpoint
from eth_hash.auto import keccak

EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
BLANK_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
EMPTY_ACCOUNT = (0, 0, EMPTY_CODE_HASH)
UINT256_CEILING = 2**256
UINT64_MAX = 2**64 - 1

cdef object _EMPTY_CODE_HASH = EMPTY_CODE_HASH
cdef tuple _EMPTY_ACCOUNT = EMPTY_ACCOUNT
cdef object _UINT256_CEILING = UINT256_CEILING
cdef object _UINT64_MAX = UINT64_MAX

cdef enum:
    _ACCOUNT = 0
    _SLOT = 1
    _WIPE = 2
    _WARM = 3

cdef object _MISSING = object()


cdef class WriteSet:
    """The net writes of one transaction (see ``flatdb_py.WriteSet``)."""

    cdef public dict accounts
    cdef public dict storage
    cdef public set wiped
    cdef public dict codes
    cdef public object coinbase_delta

    def __init__(self, dict accounts, dict storage, set wiped, dict codes, coinbase_delta=0):
        self.accounts = accounts
        self.storage = storage
        self.wiped = wiped
        self.codes = codes
        self.coinbase_delta = coinbase_delta

    def is_empty(self):
        return not (self.accounts or self.storage or self.wiped or self.codes or self.coinbase_delta)

    def __reduce__(self):
        return (WriteSet, (self.accounts, self.storage, self.wiped, self.codes, self.coinbase_delta))


cdef class FlatAccountDB:
    """py-evm ``AccountDatabaseAPI`` over a reader (compiled)."""

    cdef object _reader
    cdef dict _base_accounts
    cdef dict _base_storage
    cdef dict _accounts
    cdef dict _storage
    cdef dict _wiped
    cdef set _warm
    cdef dict _codes
    cdef list _undo
    cdef dict _checkpoints
    cdef object _state_root
    cdef object _lazy_coinbase
    cdef object _cb_delta
    cdef bint _cb_touched
    cdef bint _cb_live
    cdef object __weakref__
    cdef dict __dict__

    def __init__(self, reader, state_root=BLANK_ROOT):
        self._reader = reader
        self._state_root = state_root
        self._lazy_coinbase = None
        self._clear()

    cdef void _clear(self):
        self._base_accounts = {}
        self._base_storage = {}
        self._accounts = {}
        self._storage = {}
        self._wiped = {}
        self._warm = set()
        self._codes = {}
        self._undo = []
        self._checkpoints = {}
        self._cb_delta = 0
        self._cb_touched = False
        self._cb_live = False

    # -- plumbing -------------------------------------------------------------------
    @property
    def reader(self):
        return self._reader

    @property
    def state_root(self):
        return self._state_root

    @state_root.setter
    def state_root(self, value):
        self._state_root = value

    def has_root(self, state_root):
        return state_root == self._state_root

    def make_state_root(self):
        raise NotImplementedError("Hyperion computes the state root once per block, not per transaction")

    def persist(self):
        raise NotImplementedError("Hyperion persists whole blocks through the engine")

    def enable_lazy_coinbase(self, coinbase):
        """Keep fee credits to ``coinbase`` as a delta (see ``flatdb_py``)."""
        self._lazy_coinbase = coinbase

    cdef void _materialize_coinbase(self):
        coinbase = self._lazy_coinbase
        self._cb_live = True
        value = self._reader.read_account(coinbase)
        self._base_accounts[coinbase] = value
        if self._cb_touched:
            if value is None:
                value = _EMPTY_ACCOUNT
            self._accounts[coinbase] = ((<tuple> value)[0], (<tuple> value)[1] + self._cb_delta, (<tuple> value)[2])
        self._cb_delta = 0

    cdef object _account(self, object address):
        if self._lazy_coinbase is not None and not self._cb_live and address == self._lazy_coinbase:
            self._materialize_coinbase()
        cdef object value = self._accounts.get(address, _MISSING)
        if value is not _MISSING:
            return value
        value = self._base_accounts.get(address, _MISSING)
        if value is _MISSING:
            value = self._reader.read_account(address)
            self._base_accounts[address] = value
        return value

    cdef void _set_account(self, object address, object value):
        self._undo.append((_ACCOUNT, address, self._accounts.get(address, _MISSING)))
        self._accounts[address] = value

    cdef object _original_storage(self, object address, object slot):
        cdef tuple key = (address, slot)
        cdef object value = self._base_storage.get(key)
        if value is None:
            value = self._reader.read_storage(address, slot)
            self._base_storage[key] = value
        return value

    # -- accounts -------------------------------------------------------------------
    def get_balance(self, address):
        cdef object account = self._account(address)
        return 0 if account is None else (<tuple>account)[1]

    def set_balance(self, address, balance):
        if balance < 0 or balance >= _UINT256_CEILING:
            raise ValueError(f"balance out of range: {balance}")
        cdef object account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, ((<tuple>account)[0], balance, (<tuple>account)[2]))

    def delta_balance(self, address, delta):
        if (self._lazy_coinbase is not None and not self._cb_live and address == self._lazy_coinbase
                and delta >= 0 and not self._checkpoints):
            self._cb_delta += delta
            self._cb_touched = True
            return
        self.set_balance(address, self.get_balance(address) + delta)

    def get_nonce(self, address):
        cdef object account = self._account(address)
        return 0 if account is None else (<tuple>account)[0]

    def set_nonce(self, address, nonce):
        if nonce < 0 or nonce > _UINT64_MAX:
            raise ValueError(f"nonce out of range: {nonce}")
        cdef object account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, (nonce, (<tuple>account)[1], (<tuple>account)[2]))

    def increment_nonce(self, address):
        self.set_nonce(address, self.get_nonce(address) + 1)

    def get_code_hash(self, address):
        cdef object account = self._account(address)
        return _EMPTY_CODE_HASH if account is None else (<tuple>account)[2]

    def get_code(self, address):
        code_hash = self.get_code_hash(address)
        if code_hash == _EMPTY_CODE_HASH:
            return b""
        code = self._codes.get(code_hash)
        if code is None:
            code = self._reader.read_code(code_hash)
        return code

    def set_code(self, address, code):
        code_hash = keccak(code)
        self._codes[code_hash] = code
        cdef object account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, ((<tuple>account)[0], (<tuple>account)[1], code_hash))

    def delete_code(self, address):
        cdef object account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, ((<tuple>account)[0], (<tuple>account)[1], _EMPTY_CODE_HASH))

    def account_has_code_or_nonce(self, address):
        """The contract-creation collision test, with EIP-7610's storage rule."""
        cdef object account = self._account(address)
        if account is not None and ((<tuple>account)[0] != 0 or (<tuple>account)[2] != _EMPTY_CODE_HASH):
            return True
        return self._has_storage(address)

    cdef bint _has_storage(self, object address):
        cdef object slots = self._storage.get(address)
        if slots:
            for value in (<dict>slots).values():
                if value:
                    return True
        if address in self._wiped:
            return False
        return self._reader.has_storage(address, slots or ())

    def delete_account(self, address):
        self._wipe(address)
        self._set_account(address, None)

    def account_exists(self, address):
        if (self._lazy_coinbase is not None and not self._cb_live and self._cb_touched
                and address == self._lazy_coinbase):
            return True
        return self._account(address) is not None

    def touch_account(self, address):
        cdef object account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, account)

    def account_is_empty(self, address):
        if (self._lazy_coinbase is not None and not self._cb_live and self._cb_delta > 0
                and address == self._lazy_coinbase):
            return False
        cdef object account = self._account(address)
        if account is None:
            return True
        cdef tuple acc = <tuple>account
        return acc[0] == 0 and acc[1] == 0 and acc[2] == _EMPTY_CODE_HASH

    # -- storage --------------------------------------------------------------------
    def get_storage(self, address, slot, from_journal=True):
        cdef object slots
        cdef object value
        if from_journal:
            slots = self._storage.get(address)
            if slots is not None:
                value = (<dict>slots).get(slot)
                if value is not None:
                    return value
            if address in self._wiped:
                return 0
        return self._original_storage(address, slot)

    def set_storage(self, address, slot, value):
        if value < 0 or value >= _UINT256_CEILING:
            raise ValueError(f"storage value out of range: {value}")
        cdef object slots = self._storage.get(address)
        if slots is None:
            slots = {}
            self._storage[address] = slots
        self._undo.append((_SLOT, address, slot, (<dict>slots).get(slot)))
        (<dict>slots)[slot] = value

    def delete_storage(self, address):
        self._wipe(address)

    cdef void _wipe(self, object address):
        self._undo.append((_WIPE, address, self._storage.get(address), address in self._wiped))
        self._storage[address] = {}
        self._wiped[address] = True

    # -- EIP-2929 warm sets -------------------------------------------------------------
    def is_address_warm(self, address):
        return address in self._warm

    def mark_address_warm(self, address):
        if address not in self._warm:
            self._warm.add(address)
            self._undo.append((_WARM, address))

    def is_storage_warm(self, address, slot):
        return (address, slot) in self._warm

    def mark_storage_warm(self, address, slot):
        cdef tuple key = (address, slot)
        if key not in self._warm:
            self._warm.add(key)
            self._undo.append((_WARM, key))

    # -- journal ----------------------------------------------------------------------
    def record(self):
        checkpoint = get_next_checkpoint()
        self._checkpoints[checkpoint] = len(self._undo)
        return checkpoint

    def commit(self, checkpoint):
        self._checkpoints.pop(checkpoint, None)
        if not self._checkpoints:
            self._undo = []

    def discard(self, checkpoint):
        cdef Py_ssize_t position = self._checkpoints.pop(checkpoint)
        for later in [cp for cp in self._checkpoints if cp > checkpoint]:
            del self._checkpoints[later]
        cdef list undo = self._undo
        cdef dict accounts = self._accounts
        cdef dict storage = self._storage
        cdef tuple entry
        cdef int kind
        while len(undo) > position:
            entry = <tuple>undo.pop()
            kind = entry[0]
            if kind == _ACCOUNT:
                if entry[2] is _MISSING:
                    accounts.pop(entry[1], None)
                else:
                    accounts[entry[1]] = entry[2]
            elif kind == _SLOT:
                slots = storage[entry[1]]
                if entry[3] is None:
                    slots.pop(entry[2], None)
                else:
                    slots[entry[2]] = entry[3]
            elif kind == _WIPE:
                if entry[2] is None:
                    storage.pop(entry[1], None)
                else:
                    storage[entry[1]] = entry[2]
                if not entry[3]:
                    self._wiped.pop(entry[1], None)
            else:
                self._warm.discard(entry[1])

    def lock_changes(self):
        """Start a new transaction: hand the finished one's writes to the reader."""
        write_set = self.take_write_set()
        if not write_set.is_empty():
            self._reader.apply(write_set)

    def take_write_set(self):
        """Return the net writes since the last call and reset for the next transaction."""
        if self._cb_touched and not self._cb_live and not self._cb_delta:
            self._materialize_coinbase()
        coinbase_delta = self._cb_delta if not self._cb_live else 0
        cdef dict base_accounts = self._base_accounts
        cdef dict accounts = {}
        for address, value in self._accounts.items():
            if address not in base_accounts:
                base_accounts[address] = self._reader.read_account(address)
            if value != base_accounts[address]:
                accounts[address] = value
        cdef set wiped = set()
        for address in self._wiped:
            # wiping an address that had no storage changes nothing: not a write
            if self._reader.has_storage(address):
                wiped.add(address)
        cdef dict storage = {}
        cdef dict base_storage = self._base_storage
        cdef dict changed
        for address, slots in self._storage.items():
            if address in wiped:
                changed = {slot: value for slot, value in (<dict>slots).items() if value}
            else:
                changed = {}
                for slot, value in (<dict>slots).items():
                    original = base_storage.get((address, slot))
                    if original is None:
                        original = self._reader.read_storage(address, slot)
                    if value != original:
                        changed[slot] = value
            if changed or address in wiped:
                storage[address] = changed
        cdef dict codes = {}
        if self._codes:
            referenced = {value[2] for value in accounts.values() if value is not None}
            codes = {h: c for h, c in self._codes.items() if h in referenced}
        write_set = WriteSet(accounts, storage, wiped, codes, coinbase_delta)
        self._clear()
        return write_set

    def reset(self):
        """Forget the current transaction entirely (also the start-of-tx cache)."""
        self._clear()

    def touched_addresses(self):
        return set(self._accounts) | set(self._storage)
