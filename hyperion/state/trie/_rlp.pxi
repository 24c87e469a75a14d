# RLP: the sizes and writers the node encoder uses, account / storage-value encoding, and
# the bounds-checked item reader that node and account decoding use.
#
# Part of ``_mpt.pyx``, which ``include``s it: the text is compiled into that one module
# (the same C as if written there, so calls stay inlined) and uses its cimports and
# constants.  Kept apart only to keep each file short.

cdef inline Py_ssize_t _len_of_len(Py_ssize_t n):
    cdef Py_ssize_t k = 0
    while n:
        k += 1
        n >>= 8
    return k


cdef inline Py_ssize_t _str_size(const unsigned char *p, Py_ssize_t n):
    if n == 1 and p[0] < 0x80:
        return 1
    if n < 56:
        return 1 + n
    return 1 + _len_of_len(n) + n


cdef inline Py_ssize_t _list_size(Py_ssize_t payload):
    if payload < 56:
        return 1 + payload
    return 1 + _len_of_len(payload) + payload


cdef inline unsigned char *_put_len(unsigned char *out, Py_ssize_t n, int short_base, int long_base):
    cdef Py_ssize_t k, i
    if n < 56:
        out[0] = <unsigned char>(short_base + n)
        return out + 1
    k = _len_of_len(n)
    out[0] = <unsigned char>(long_base + k)
    for i in range(k):
        out[k - i] = <unsigned char>(n >> (8 * i))
    return out + 1 + k


cdef inline unsigned char *_put_str(unsigned char *out, const unsigned char *p, Py_ssize_t n):
    if n == 1 and p[0] < 0x80:
        out[0] = p[0]
        return out + 1
    out = _put_len(out, n, 0x80, 0xB7)
    memcpy(out, p, n)
    return out + n


cdef inline Py_ssize_t _ref_size(object ref):
    cdef Py_ssize_t n
    if ref is None:
        return 1
    n = PyBytes_GET_SIZE(<bytes>ref)
    return 33 if n == 32 else n


cdef inline unsigned char *_put_ref(unsigned char *out, object ref):
    cdef Py_ssize_t n
    if ref is None:
        out[0] = 0x80
        return out + 1
    n = PyBytes_GET_SIZE(<bytes>ref)
    if n == 32:
        out[0] = 0xA0
        memcpy(out + 1, PyBytes_AS_STRING(<bytes>ref), 32)
        return out + 33
    memcpy(out, PyBytes_AS_STRING(<bytes>ref), n)
    return out + n


cdef inline Py_ssize_t _int_len(object value) except -1:
    if value < 0:
        raise ValueError("rlp cannot encode a negative integer")
    return (value.bit_length() + 7) // 8


cdef bytes _rlp_int_bytes(object value):
    return value.to_bytes(_int_len(value), "big")


def encode_account(nonce, balance, bytes storage_root, bytes code_hash):
    cdef bytes n = _rlp_int_bytes(nonce)
    cdef bytes b = _rlp_int_bytes(balance)
    cdef const unsigned char *pn = <const unsigned char *>PyBytes_AS_STRING(n)
    cdef const unsigned char *pb = <const unsigned char *>PyBytes_AS_STRING(b)
    cdef const unsigned char *ps = <const unsigned char *>PyBytes_AS_STRING(storage_root)
    cdef const unsigned char *pc = <const unsigned char *>PyBytes_AS_STRING(code_hash)
    cdef Py_ssize_t ln = PyBytes_GET_SIZE(n), lb = PyBytes_GET_SIZE(b)
    cdef Py_ssize_t ls = PyBytes_GET_SIZE(storage_root), lc = PyBytes_GET_SIZE(code_hash)
    cdef Py_ssize_t payload = _str_size(pn, ln) + _str_size(pb, lb) + _str_size(ps, ls) + _str_size(pc, lc)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, _list_size(payload))
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    o = _put_len(o, payload, 0xC0, 0xF7)
    o = _put_str(o, pn, ln)
    o = _put_str(o, pb, lb)
    o = _put_str(o, ps, ls)
    _put_str(o, pc, lc)
    return out


def encode_storage_value(value):
    cdef bytes raw = _rlp_int_bytes(value)
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(raw)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, _str_size(p, n))
    _put_str(<unsigned char *>PyBytes_AS_STRING(out), p, n)
    return out


# rlp decoding: one item at data[pos:end]
cdef struct _Item:
    bint is_list
    Py_ssize_t start      # payload start
    Py_ssize_t stop       # payload end (= next item)
    Py_ssize_t item_start # the item's first byte


cdef int _read_item(const unsigned char *data, Py_ssize_t pos, Py_ssize_t end, _Item *item) except -1:
    cdef unsigned char b
    cdef Py_ssize_t n, length, i
    if pos >= end:
        raise TrieError("truncated rlp")
    b = data[pos]
    item.item_start = pos
    if b < 0x80:
        item.is_list = False
        item.start = pos
        item.stop = pos + 1
        return 0
    if b < 0xB8:
        item.is_list = False
        item.start = pos + 1
        length = b - 0x80
    elif b < 0xC0:
        n = b - 0xB7
        if pos + 1 + n > end:
            raise TrieError("truncated rlp")
        length = 0
        for i in range(n):
            length = (length << 8) | data[pos + 1 + i]
        item.is_list = False
        item.start = pos + 1 + n
    elif b < 0xF8:
        item.is_list = True
        item.start = pos + 1
        length = b - 0xC0
    else:
        n = b - 0xF7
        if pos + 1 + n > end:
            raise TrieError("truncated rlp")
        length = 0
        for i in range(n):
            length = (length << 8) | data[pos + 1 + i]
        item.is_list = True
        item.start = pos + 1 + n
    if length < 0 or item.start + length > end:
        raise TrieError("truncated rlp")
    item.stop = item.start + length
    return 0


cdef int _read_list(const unsigned char *data, Py_ssize_t pos, Py_ssize_t end, _Item *items, int max_items) except -2:
    """Read the list at ``pos``; fill up to ``max_items`` items; return their count."""
    cdef _Item outer
    cdef Py_ssize_t p
    cdef int count = 0
    _read_item(data, pos, end, &outer)
    if not outer.is_list:
        raise TrieError("a trie node must be an rlp list")
    p = outer.start
    while p < outer.stop:
        if count == max_items:
            raise TrieError("a trie node has 2 or 17 items")
        _read_item(data, p, outer.stop, &items[count])
        p = items[count].stop
        count += 1
    return count


def decode_account(bytes value):
    cdef _Item items[4]
    cdef const unsigned char *data = <const unsigned char *>PyBytes_AS_STRING(value)
    cdef int i, count
    count = _read_list(data, 0, PyBytes_GET_SIZE(value), items, 4)
    if count != 4:
        raise TrieError("an account leaf is an rlp list of four strings")
    for i in range(4):
        if items[i].is_list:
            raise TrieError("an account leaf is an rlp list of four strings")
    return (
        int.from_bytes(value[items[0].start:items[0].stop], "big"),
        int.from_bytes(value[items[1].start:items[1].stop], "big"),
        value[items[2].start:items[2].stop],
        value[items[3].start:items[3].stop],
    )
