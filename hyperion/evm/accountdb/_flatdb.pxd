# Cython's view of flatdb_py.py, which setup.py compiles (pure-Python mode) as this module,
# hyperion.evm.accountdb._flatdb.  Python never reads this file.  It makes the classes
# extension types with typed attributes and the private helpers C-level methods, and types
# the locals of the two journal walks (declared cpdef only so that they can carry
# @cython.locals; Python calls them as before).
cimport cython

cdef object _MISSING, _EMPTY_CODE_HASH, _UINT256_CEILING, _UINT64_MAX
cdef tuple _EMPTY_ACCOUNT
# objects, not C ints: the hot path puts them into undo entries
cdef object _ACCOUNT, _SLOT, _WIPE, _WARM


cdef class WriteSet:
    cdef public dict accounts
    cdef public dict storage
    cdef public set wiped
    cdef public dict codes
    cdef public object coinbase_delta


cdef class FlatAccountDB:
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
    # like the Python class: instances take weak references and attributes of their own
    cdef object __weakref__
    cdef dict __dict__

    cdef void _clear(self)
    cdef void _materialize_coinbase(self)
    cdef tuple _account(self, object address)
    cdef void _set_account(self, object address, object value)
    cdef object _original_storage(self, object address, object slot)
    @cython.locals(slots=dict)
    cdef bint _has_storage(self, object address)
    cdef void _wipe(self, object address)

    @cython.locals(position=Py_ssize_t, undo=list, accounts=dict, storage=dict, entry=tuple, kind=int, slots=dict)
    cpdef discard(self, checkpoint)
    @cython.locals(slots=dict, changed=dict)
    cpdef take_write_set(self)
