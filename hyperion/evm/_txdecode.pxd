# Cython's view of txdecode_py.py, which setup.py compiles (pure-Python mode) as this module,
# hyperion.evm._txdecode.  Python never reads this file.  The record becomes an extension type
# and the RLP walkers C-level functions with C-sized offsets.

cdef class DecodedTx:
    cdef public object type_id, chain_id, nonce, gas_price, max_priority_fee_per_gas, max_fee_per_gas
    cdef public object gas, to, value, data, access_list, max_fee_per_blob_gas, blob_versioned_hashes
    cdef public object authorization_list, v, y_parity, r, s, signing_hash, sender, intrinsic_gas, hash

cdef tuple _item(bytes data, Py_ssize_t pos, Py_ssize_t end)
cdef list _items(bytes data, Py_ssize_t start, Py_ssize_t stop)
cdef object _int(bytes data, tuple item)
cdef bytes _bytes(bytes data, tuple item)
cdef bytes _address(bytes data, tuple item)
cdef list _list(bytes data, tuple item)
cdef tuple _access_list(bytes data, tuple item)
cdef tuple _authorizations(bytes data, tuple item)
cdef bytes _list_prefix(Py_ssize_t length)
cdef bytes _encode_int(object value)
cdef object _decode(bytes raw)
cdef Py_ssize_t _start(bytes raw, list items, Py_ssize_t index)
cdef Py_ssize_t _header_end(bytes raw, list items)
cdef bytes _encode_item(object item)
cdef bytes _length_prefix(Py_ssize_t length, int offset)
