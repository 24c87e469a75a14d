"""py-evm's account database over a flat state view: one source, run as Python or compiled.

py-evm sends every account, storage and code access of the EVM through one object, the
state's ``account_db_class`` (see docs/design.md §9).  :class:`FlatAccountDB` is that
object for Hyperion: no trie, no RLP, just a per-transaction journal on top of a
*reader* that answers for everything before the transaction:

    tx journal (this module)  ->  reader.read_account / read_storage / read_code

The reader is the block's earlier writes plus the store in sequential execution, or the
multi-version memory in Block-STM.  At the end of a transaction
:meth:`FlatAccountDB.take_write_set` compares final values with what was read at the
start and returns only real changes (``touch_account`` writes even when nothing changes,
so recording setter calls would make every transaction "write" the coinbase).

Accounts are ``(nonce, balance, code_hash)`` tuples, ``None`` for a missing account.
Checkpoint ids come from ``eth.db.journal.get_next_checkpoint`` because Cancun's
transient storage journals with the same ids.

This file is also the source of the compiled ``_flatdb`` extension: setup.py compiles it
with Cython's pure-Python mode, and ``_flatdb.pxd`` (read only by Cython) makes the
classes extension types with typed attributes and C-level private methods.  So the code
stays valid Python -- no ``cython`` import, no C syntax -- and one edit changes both
implementations (``hyperion.native`` picks one, docs/design.md §14).  py-evm calls the
account DB several times per opcode that touches state, so this is the hottest
Python-level path of execution: keep it lean.
"""
from __future__ import annotations

from eth.db.journal import get_next_checkpoint
from eth_hash.auto import keccak

EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
BLANK_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
EMPTY_ACCOUNT = (0, 0, EMPTY_CODE_HASH)
UINT256_CEILING = 2**256
UINT64_MAX = 2**64 - 1
# The methods read private copies: compiled, those are typed C globals (_flatdb.pxd), which
# the public names, module attributes, cannot be.  (For the same reason the methods test
# "account is None" rather than "account or _EMPTY_ACCOUNT": both branches stay tuples.)
_EMPTY_CODE_HASH = EMPTY_CODE_HASH
_EMPTY_ACCOUNT = EMPTY_ACCOUNT
_UINT256_CEILING = UINT256_CEILING
_UINT64_MAX = UINT64_MAX

# undo-log entry kinds
_ACCOUNT = 0
_SLOT = 1
_WIPE = 2
_WARM = 3
_MISSING = object()


class WriteSet:
    """The net writes of one transaction (or system operation).

    ``storage`` maps address -> {slot: value}; an address in ``wiped`` lost all storage it
    had before this transaction, and its entry in ``storage`` is then complete.
    ``coinbase_delta`` is the deferred fee credit (Block-STM only; 0 otherwise).
    """

    __slots__ = ("accounts", "storage", "wiped", "codes", "coinbase_delta")

    def __init__(self, accounts, storage, wiped, codes, coinbase_delta=0):
        self.accounts = accounts
        self.storage = storage
        self.wiped = wiped
        self.codes = codes
        self.coinbase_delta = coinbase_delta

    def is_empty(self):
        return not (self.accounts or self.storage or self.wiped or self.codes or self.coinbase_delta)

    def __reduce__(self):
        return (WriteSet, (self.accounts, self.storage, self.wiped, self.codes, self.coinbase_delta))


class FlatAccountDB:
    """py-evm ``AccountDatabaseAPI`` over a reader; see the module docstring."""

    def __init__(self, reader, state_root=BLANK_ROOT):
        self._reader = reader
        self._state_root = state_root
        # lazy coinbase (Block-STM): fee credits kept as a delta, see enable_lazy_coinbase
        self._lazy_coinbase = None
        self._clear()

    def _clear(self):
        # values as of the start of the transaction (also the transaction's read-set)
        self._base_accounts = {}
        self._base_storage = {}
        # the transaction's current values, journaled
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
        # Only used by py-evm's snapshot()/revert() pairs; the real root is computed
        # once per block from the net diff.
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
        """Keep fee credits to ``coinbase`` as a delta instead of reading its balance.

        Every transaction credits the coinbase, so reading its balance would make every
        transaction depend on every earlier one.  A credit made outside any call frame
        (py-evm's fee payment in ``finalize_computation``) is accumulated and returned as
        ``WriteSet.coinbase_delta``; any other access *materialises* the exact account
        through the reader (Block-STM waits for all lower transactions for that).
        """
        self._lazy_coinbase = coinbase

    def _materialize_coinbase(self):
        coinbase = self._lazy_coinbase
        self._cb_live = True
        value = self._reader.read_account(coinbase)
        self._base_accounts[coinbase] = value
        if self._cb_touched:
            nonce, balance, code_hash = _EMPTY_ACCOUNT if value is None else value
            # not journaled: the credit happened outside every checkpoint
            self._accounts[coinbase] = (nonce, balance + self._cb_delta, code_hash)
        self._cb_delta = 0

    def _account(self, address):
        if self._lazy_coinbase is not None and not self._cb_live and address == self._lazy_coinbase:
            self._materialize_coinbase()
        value = self._accounts.get(address, _MISSING)
        if value is not _MISSING:
            return value
        value = self._base_accounts.get(address, _MISSING)
        if value is _MISSING:
            value = self._reader.read_account(address)
            self._base_accounts[address] = value
        return value

    def _set_account(self, address, value):
        self._undo.append((_ACCOUNT, address, self._accounts.get(address, _MISSING)))
        self._accounts[address] = value

    def _original_storage(self, address, slot):
        key = (address, slot)
        value = self._base_storage.get(key)
        if value is None:
            value = self._reader.read_storage(address, slot)
            self._base_storage[key] = value
        return value

    # -- accounts -------------------------------------------------------------------
    def get_balance(self, address):
        account = self._account(address)
        return 0 if account is None else account[1]

    def set_balance(self, address, balance):
        if balance < 0 or balance >= _UINT256_CEILING:
            raise ValueError(f"balance out of range: {balance}")
        account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, (account[0], balance, account[2]))

    def delta_balance(self, address, delta):
        if (self._lazy_coinbase is not None and not self._cb_live and address == self._lazy_coinbase
                and delta >= 0 and not self._checkpoints):
            self._cb_delta += delta
            self._cb_touched = True
            return
        self.set_balance(address, self.get_balance(address) + delta)

    def get_nonce(self, address):
        account = self._account(address)
        return 0 if account is None else account[0]

    def set_nonce(self, address, nonce):
        if nonce < 0 or nonce > _UINT64_MAX:
            raise ValueError(f"nonce out of range: {nonce}")
        account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, (nonce, account[1], account[2]))

    def increment_nonce(self, address):
        self.set_nonce(address, self.get_nonce(address) + 1)

    def get_code_hash(self, address):
        account = self._account(address)
        return _EMPTY_CODE_HASH if account is None else account[2]

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
        account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, (account[0], account[1], code_hash))

    def delete_code(self, address):
        account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, (account[0], account[1], _EMPTY_CODE_HASH))

    def account_has_code_or_nonce(self, address):
        """The contract-creation collision test.

        EIP-7610 (retroactive to Frontier): an address with non-empty storage collides
        too.  py-evm only looks at code and nonce; it uses this method for nothing else.
        """
        account = self._account(address)
        if account is not None and (account[0] != 0 or account[2] != _EMPTY_CODE_HASH):
            return True
        return self._has_storage(address)

    def _has_storage(self, address):
        slots = self._storage.get(address)
        if slots:
            for value in slots.values():
                if value:
                    return True
        if address in self._wiped:
            return False
        # Slots this transaction zeroed hide the base's values only if those were all
        # of them; ask the reader while excluding what we overwrote.
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
        account = self._account(address)
        if account is None:
            account = _EMPTY_ACCOUNT
        self._set_account(address, account)

    def account_is_empty(self, address):
        if (self._lazy_coinbase is not None and not self._cb_live and self._cb_delta > 0
                and address == self._lazy_coinbase):
            return False
        account = self._account(address)
        return account is None or (account[0] == 0 and account[1] == 0 and account[2] == _EMPTY_CODE_HASH)

    # -- storage --------------------------------------------------------------------
    def get_storage(self, address, slot, from_journal=True):
        if from_journal:
            slots = self._storage.get(address)
            if slots is not None:
                # dict.get(slots, ...) rather than slots.get(...): the same in Python, and
                # compiled, a direct dict lookup (Cython cannot know slots is a dict)
                value = dict.get(slots, slot)
                if value is not None:
                    return value
            if address in self._wiped:
                return 0
        return self._original_storage(address, slot)

    def set_storage(self, address, slot, value):
        if value < 0 or value >= _UINT256_CEILING:
            raise ValueError(f"storage value out of range: {value}")
        slots = self._storage.get(address)
        if slots is None:
            slots = self._storage[address] = {}
        self._undo.append((_SLOT, address, slot, dict.get(slots, slot)))
        slots[slot] = value

    def delete_storage(self, address):
        self._wipe(address)

    def _wipe(self, address):
        self._undo.append((_WIPE, address, self._storage.get(address), address in self._wiped))
        self._storage[address] = {}
        self._wiped[address] = True

    # -- EIP-2929 warm sets (journaled: a reverted frame forgets its accesses) ---------
    def is_address_warm(self, address):
        return address in self._warm

    def mark_address_warm(self, address):
        if address not in self._warm:
            self._warm.add(address)
            self._undo.append((_WARM, address))

    def is_storage_warm(self, address, slot):
        return (address, slot) in self._warm

    def mark_storage_warm(self, address, slot):
        key = (address, slot)
        if key not in self._warm:
            self._warm.add(key)
            self._undo.append((_WARM, key))

    # -- journal ----------------------------------------------------------------------
    def record(self):
        checkpoint = get_next_checkpoint()
        self._checkpoints[checkpoint] = len(self._undo)
        return checkpoint

    def commit(self, checkpoint):
        # The undo entries stay: an enclosing checkpoint may still be discarded.
        self._checkpoints.pop(checkpoint, None)
        if not self._checkpoints:
            self._undo = []

    def discard(self, checkpoint):
        position = self._checkpoints.pop(checkpoint)
        # ids grow monotonically, so the checkpoints nested inside are the larger ids
        for later in [cp for cp in self._checkpoints if cp > checkpoint]:
            del self._checkpoints[later]
        undo = self._undo
        accounts = self._accounts
        storage = self._storage
        while len(undo) > position:
            entry = undo.pop()
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
            self._materialize_coinbase()  # a zero credit still touches: needs the real account
        coinbase_delta = self._cb_delta if not self._cb_live else 0
        base_accounts = self._base_accounts
        accounts = {}
        for address, value in self._accounts.items():
            if address not in base_accounts:
                base_accounts[address] = self._reader.read_account(address)
            if value != base_accounts[address]:
                accounts[address] = value
        wiped = set()
        for address in self._wiped:
            # wiping an address that had no storage changes nothing: not a write
            if self._reader.has_storage(address):
                wiped.add(address)
        storage = {}
        base_storage = self._base_storage
        for address, slots in self._storage.items():
            if address in wiped:
                # Everything before the wipe is gone: keep every non-zero slot.
                changed = {slot: value for slot, value in slots.items() if value}
            else:
                changed = {}
                for slot, value in slots.items():
                    original = base_storage.get((address, slot))
                    if original is None:
                        original = self._reader.read_storage(address, slot)
                    if value != original:
                        changed[slot] = value
            if changed or address in wiped:
                storage[address] = changed
        codes = {}
        if self._codes:
            referenced = {value[2] for value in accounts.values() if value is not None}
            codes = {h: c for h, c in self._codes.items() if h in referenced}
        write_set = WriteSet(accounts, storage, wiped, codes, coinbase_delta)
        self._clear()
        return write_set

    def reset(self):
        """Forget the current transaction entirely (also the start-of-tx cache)."""
        self._clear()

    def rebind(self, reader):
        """Forget the current transaction and read the next one through ``reader``.

        Block-STM runs every incarnation against its own multi-version view; rebinding
        lets a worker keep one state (and this object) for the whole block, as the
        sequential loop does, instead of building both per incarnation.
        """
        self._reader = reader
        self._clear()

    def touched_addresses(self):
        """Addresses this transaction wrote (for diagnostics)."""
        return set(self._accounts) | set(self._storage)
