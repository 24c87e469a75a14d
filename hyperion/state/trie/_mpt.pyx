# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twin of ``mpt_py.py``: Ethereum's Merkle-Patricia trie with keccak and rlp in C.

Same API, same algorithm and same results as the pure-Python module (see its docstring);
``hyperion.state.trie.stateroot`` explains the path-keyed node layout.  Keccak-256 is a small
keccak-f[1600] written here (pycryptodome's is not callable from C); the tests check it
against ``eth_hash`` on every length around the 136-byte rate.
"""
from libc.string cimport memcpy, memcmp, memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>

    static const uint64_t hyp_keccak_rc[24] = {
        0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
        0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
        0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
        0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
        0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
        0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL
    };

    #define HYP_ROL(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

    /* keccak-f[1600]: lanes a[x + 5y], the five steps written out lane by lane. */
    static void hyp_keccak_f(uint64_t *a) {
        uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
        uint64_t b[25];
        int r;
        for (r = 0; r < 24; r++) {
            /* theta */
            c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20];
            c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21];
            c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22];
            c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23];
            c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24];
            d0 = c4 ^ HYP_ROL(c1, 1);
            d1 = c0 ^ HYP_ROL(c2, 1);
            d2 = c1 ^ HYP_ROL(c3, 1);
            d3 = c2 ^ HYP_ROL(c4, 1);
            d4 = c3 ^ HYP_ROL(c0, 1);
            /* rho and pi: b[y + 5((2x + 3y) mod 5)] = rot(a[x + 5y], r[x][y]) */
            b[0]  = a[0] ^ d0;
            b[10] = HYP_ROL(a[1] ^ d1, 1);
            b[20] = HYP_ROL(a[2] ^ d2, 62);
            b[5]  = HYP_ROL(a[3] ^ d3, 28);
            b[15] = HYP_ROL(a[4] ^ d4, 27);
            b[16] = HYP_ROL(a[5] ^ d0, 36);
            b[1]  = HYP_ROL(a[6] ^ d1, 44);
            b[11] = HYP_ROL(a[7] ^ d2, 6);
            b[21] = HYP_ROL(a[8] ^ d3, 55);
            b[6]  = HYP_ROL(a[9] ^ d4, 20);
            b[7]  = HYP_ROL(a[10] ^ d0, 3);
            b[17] = HYP_ROL(a[11] ^ d1, 10);
            b[2]  = HYP_ROL(a[12] ^ d2, 43);
            b[12] = HYP_ROL(a[13] ^ d3, 25);
            b[22] = HYP_ROL(a[14] ^ d4, 39);
            b[23] = HYP_ROL(a[15] ^ d0, 41);
            b[8]  = HYP_ROL(a[16] ^ d1, 45);
            b[18] = HYP_ROL(a[17] ^ d2, 15);
            b[3]  = HYP_ROL(a[18] ^ d3, 21);
            b[13] = HYP_ROL(a[19] ^ d4, 8);
            b[14] = HYP_ROL(a[20] ^ d0, 18);
            b[24] = HYP_ROL(a[21] ^ d1, 2);
            b[9]  = HYP_ROL(a[22] ^ d2, 61);
            b[19] = HYP_ROL(a[23] ^ d3, 56);
            b[4]  = HYP_ROL(a[24] ^ d4, 14);
            /* chi */
            a[0]  = b[0]  ^ (~b[1]  & b[2]);
            a[1]  = b[1]  ^ (~b[2]  & b[3]);
            a[2]  = b[2]  ^ (~b[3]  & b[4]);
            a[3]  = b[3]  ^ (~b[4]  & b[0]);
            a[4]  = b[4]  ^ (~b[0]  & b[1]);
            a[5]  = b[5]  ^ (~b[6]  & b[7]);
            a[6]  = b[6]  ^ (~b[7]  & b[8]);
            a[7]  = b[7]  ^ (~b[8]  & b[9]);
            a[8]  = b[8]  ^ (~b[9]  & b[5]);
            a[9]  = b[9]  ^ (~b[5]  & b[6]);
            a[10] = b[10] ^ (~b[11] & b[12]);
            a[11] = b[11] ^ (~b[12] & b[13]);
            a[12] = b[12] ^ (~b[13] & b[14]);
            a[13] = b[13] ^ (~b[14] & b[10]);
            a[14] = b[14] ^ (~b[10] & b[11]);
            a[15] = b[15] ^ (~b[16] & b[17]);
            a[16] = b[16] ^ (~b[17] & b[18]);
            a[17] = b[17] ^ (~b[18] & b[19]);
            a[18] = b[18] ^ (~b[19] & b[15]);
            a[19] = b[19] ^ (~b[15] & b[16]);
            a[20] = b[20] ^ (~b[21] & b[22]);
            a[21] = b[21] ^ (~b[22] & b[23]);
            a[22] = b[22] ^ (~b[23] & b[24]);
            a[23] = b[23] ^ (~b[24] & b[20]);
            a[24] = b[24] ^ (~b[20] & b[21]);
            /* iota */
            a[0] ^= hyp_keccak_rc[r];
        }
    }

    static inline uint64_t hyp_load64(const unsigned char *p) {
        return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24)
             | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
    }

    /* Keccak-256 (the original padding 0x01, not SHA3's 0x06): rate 136 bytes. */
    static void hyp_keccak256(const unsigned char *in, size_t len, unsigned char *out) {
        uint64_t st[25];
        unsigned char block[136];
        size_t i;
        memset(st, 0, sizeof st);
        while (len >= 136) {
            for (i = 0; i < 17; i++) st[i] ^= hyp_load64(in + 8 * i);
            hyp_keccak_f(st);
            in += 136;
            len -= 136;
        }
        memset(block, 0, sizeof block);
        memcpy(block, in, len);
        block[len] ^= 0x01;
        block[135] ^= 0x80;
        for (i = 0; i < 17; i++) st[i] ^= hyp_load64(block + 8 * i);
        hyp_keccak_f(st);
        for (i = 0; i < 32; i++) out[i] = (unsigned char)(st[i / 8] >> (8 * (i % 8)));
    }
    """
    void hyp_keccak256(const unsigned char *inp, size_t length, unsigned char *out) nogil


BLANK_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
cdef bytes _BLANK_ROOT = BLANK_ROOT

cdef enum:
    _LEAF = 1
    _EXT = 2
    _BRANCH = 3

cdef bytes _NIBBLE_TO_HEX = bytes.maketrans(bytes(range(16)), b"0123456789abcdef")


class TrieError(Exception):
    """A trie node is missing from the store or does not match its hash."""


# -- keccak --------------------------------------------------------------------------------
cdef inline bytes _keccak(const unsigned char *data, Py_ssize_t length):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 32)
    hyp_keccak256(data, <size_t>length, <unsigned char *>PyBytes_AS_STRING(out))
    return out


cdef inline bytes _keccak_bytes(bytes data):
    return _keccak(<const unsigned char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


def keccak256(data):
    if type(data) is bytes:
        return _keccak_bytes(<bytes>data)
    raw = bytes(data)
    return _keccak_bytes(raw)


# -- rlp -----------------------------------------------------------------------------------
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


# -- nibbles -------------------------------------------------------------------------------
cdef bytes _nibbles(bytes key):
    cdef Py_ssize_t n = PyBytes_GET_SIZE(key), i
    cdef const unsigned char *k = <const unsigned char *>PyBytes_AS_STRING(key)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * n)
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    for i in range(n):
        o[2 * i] = k[i] >> 4
        o[2 * i + 1] = k[i] & 15
    return out


cdef bytes _hex_prefix(bytes nib, bint leaf):
    cdef Py_ssize_t n = PyBytes_GET_SIZE(nib), i, j
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(nib)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n // 2 + 1)
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    cdef int flag = 2 if leaf else 0
    if n % 2:
        o[0] = <unsigned char>(((flag + 1) << 4) | p[0])
        i = 1
    else:
        o[0] = <unsigned char>(flag << 4)
        i = 0
    j = 1
    while i < n:
        o[j] = <unsigned char>((p[i] << 4) | p[i + 1])
        i += 2
        j += 1
    return out


cdef bytes _hex_prefix_decode(const unsigned char *p, Py_ssize_t n, bint *leaf):
    cdef int flag
    cdef Py_ssize_t count, i, j
    cdef bytes out
    cdef unsigned char *o
    if n == 0:
        raise TrieError("empty hex-prefix path")
    flag = p[0] >> 4
    if flag > 3:
        raise TrieError("bad hex-prefix flag")
    leaf[0] = (flag & 2) != 0
    count = 2 * (n - 1) + (1 if flag & 1 else 0)
    out = PyBytes_FromStringAndSize(NULL, count)
    o = <unsigned char *>PyBytes_AS_STRING(out)
    j = 0
    if flag & 1:
        o[0] = p[0] & 15
        j = 1
    for i in range(1, n):
        o[j] = p[i] >> 4
        o[j + 1] = p[i] & 15
        j += 2
    return out


cdef inline bytes _path_plus(bytes path, int nibble):
    cdef Py_ssize_t n
    cdef bytes out
    if path is None:
        return None
    n = PyBytes_GET_SIZE(path)
    out = PyBytes_FromStringAndSize(NULL, n + 1)
    memcpy(PyBytes_AS_STRING(out), PyBytes_AS_STRING(path), n)
    (<unsigned char *>PyBytes_AS_STRING(out))[n] = <unsigned char>nibble
    return out


cdef inline bytes _nibble_bytes(int nibble):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 1)
    (<unsigned char *>PyBytes_AS_STRING(out))[0] = <unsigned char>nibble
    return out


cdef inline const unsigned char *_ptr(bytes b):
    return <const unsigned char *>PyBytes_AS_STRING(b)


cdef str _path_hex(bytes path):
    return path.translate(_NIBBLE_TO_HEX).decode()


# -- nodes ---------------------------------------------------------------------------------
cdef class Node:
    """A decoded or new trie node (see ``mpt_py.Node``)."""

    cdef int kind
    cdef bytes nib
    cdef bytes value
    cdef list children
    cdef object child
    cdef bytes ref
    cdef bint stored


cdef inline Node _node(int kind, bytes nib, bytes value, list children, object child):
    cdef Node n = Node.__new__(Node)
    n.kind = kind
    n.nib = nib
    n.value = value
    n.children = children
    n.child = child
    n.ref = None
    n.stored = False
    return n


cdef bytes _EMPTY = b""


cdef object _decode_ref(bytes data, const unsigned char *p, _Item *item):
    cdef Node node
    if item.is_list:
        node = _decode_node(data, p, item.item_start, item.stop)
        node.ref = PyBytes_FromStringAndSize(<const char *>p + item.item_start, item.stop - item.item_start)
        return node
    if item.stop == item.start:
        return None
    if item.stop - item.start != 32:
        raise TrieError("a child reference must be a 32-byte hash or an embedded node")
    return PyBytes_FromStringAndSize(<const char *>p + item.start, 32)


cdef Node _decode_node(bytes data, const unsigned char *p, Py_ssize_t pos, Py_ssize_t end):
    cdef _Item items[17]
    cdef int count, i
    cdef list children
    cdef bint leaf
    cdef bytes nib
    cdef object child
    count = _read_list(p, pos, end, items, 17)
    if count == 17:
        children = [None] * 16
        for i in range(16):
            if items[i].is_list or items[i].stop != items[i].start:
                children[i] = _decode_ref(data, p, &items[i])
        if items[16].is_list:
            raise TrieError("a branch value must be a string")
        return _node(_BRANCH, _EMPTY, PyBytes_FromStringAndSize(<const char *>p + items[16].start,
                                                                items[16].stop - items[16].start), children, None)
    if count == 2:
        if items[0].is_list:
            raise TrieError("a node path must be a string")
        nib = _hex_prefix_decode(p + items[0].start, items[0].stop - items[0].start, &leaf)
        if leaf:
            if items[1].is_list:
                raise TrieError("a leaf value must be a string")
            return _node(_LEAF, nib, PyBytes_FromStringAndSize(<const char *>p + items[1].start,
                                                               items[1].stop - items[1].start), None, None)
        if PyBytes_GET_SIZE(nib) == 0:
            raise TrieError("an extension with an empty path")
        child = _decode_ref(data, p, &items[1])
        if child is None:
            raise TrieError("an extension without a child")
        return _node(_EXT, nib, _EMPTY, None, child)
    raise TrieError(f"a trie node has 2 or 17 items, not {count}")


# -- building from scratch -------------------------------------------------------------------
cdef inline Py_ssize_t _klen(list keys, Py_ssize_t i):
    return PyBytes_GET_SIZE(<bytes>keys[i])


cdef inline int _kat(list keys, Py_ssize_t i, Py_ssize_t depth):
    return _ptr(<bytes>keys[i])[depth]


cdef Node _build(list keys, list vals, Py_ssize_t depth, Py_ssize_t lo, Py_ssize_t hi):
    cdef bytes a, b
    cdef Py_ssize_t limit, cp
    cdef const unsigned char *pa
    cdef const unsigned char *pb
    if hi - lo == 1:
        a = <bytes>keys[lo]
        return _node(_LEAF, a[depth:], <bytes>vals[lo], None, None)
    a = <bytes>keys[lo]
    b = <bytes>keys[hi - 1]
    pa = _ptr(a)
    pb = _ptr(b)
    limit = min(PyBytes_GET_SIZE(a), PyBytes_GET_SIZE(b))
    cp = depth
    while cp < limit and pa[cp] == pb[cp]:
        cp += 1
    if cp > depth:
        return _node(_EXT, a[depth:cp], _EMPTY, None, _build_branch(keys, vals, cp, lo, hi))
    return _build_branch(keys, vals, depth, lo, hi)


cdef Node _build_branch(list keys, list vals, Py_ssize_t depth, Py_ssize_t lo, Py_ssize_t hi):
    cdef list children = [None] * 16
    cdef bytes value = _EMPTY
    cdef Py_ssize_t i = lo, j
    cdef int n
    if _klen(keys, i) == depth:
        value = <bytes>vals[i]
        i += 1
    while i < hi:
        n = _kat(keys, i, depth)
        j = i + 1
        while j < hi and _kat(keys, j, depth) == n:
            j += 1
        children[n] = _build(keys, vals, depth + 1, i, j)
        i = j
    return _node(_BRANCH, _EMPTY, value, children, None)


# -- the incremental update ----------------------------------------------------------------------
cdef class _Trie:
    cdef bytes prefix
    cdef object load
    cdef dict writes
    cdef bint verify
    cdef list keys
    cdef list vals
    cdef list consumed

    def __cinit__(self, bytes prefix, object load, dict writes, bint verify):
        self.prefix = prefix
        self.load = load
        self.writes = writes
        self.verify = verify
        self.consumed = []

    cdef Node resolve(self, bytes ref, bytes path):
        cdef Node node
        if self.load is None:
            raise TrieError("no node loader")
        node = <Node>(_load_node(self.load, self.prefix, path, ref, self.verify, False)[1])
        node.ref = ref
        node.stored = True
        return node

    cdef inline bytes path_of(self, Py_ssize_t lo, Py_ssize_t depth):
        return (<bytes>self.keys[lo])[:depth]

    cdef object update(self, object node, Py_ssize_t depth, Py_ssize_t lo, Py_ssize_t hi):
        cdef Node resolved
        cdef object new
        if node is None:
            return self.build_inserts(depth, lo, hi)
        if type(node) is bytes:
            resolved = self.resolve(<bytes>node, self.path_of(lo, depth))
            new = self.update_node(resolved, depth, lo, hi)
            return node if new is resolved else new
        return self.update_node(<Node>node, depth, lo, hi)

    cdef object update_node(self, Node node, Py_ssize_t depth, Py_ssize_t lo, Py_ssize_t hi):
        cdef object new
        if node.kind == _BRANCH:
            new = self.update_branch(node, depth, lo, hi)
        elif node.kind == _EXT:
            new = self.update_ext(node, depth, lo, hi)
        else:
            new = self.update_leaf(node, depth, lo, hi)
        if new is not node and node.stored:
            self.consumed.append(self.path_of(lo, depth))
        return new

    cdef object build_inserts(self, Py_ssize_t depth, Py_ssize_t lo, Py_ssize_t hi):
        cdef list keys = self.keys, vals = self.vals
        cdef list ks, vs
        cdef Py_ssize_t i
        cdef bint all_inserts = True
        for i in range(lo, hi):
            if vals[i] is None:
                all_inserts = False
                break
        if all_inserts:
            return _build(keys, vals, depth, lo, hi)
        ks = []
        vs = []
        for i in range(lo, hi):
            if vals[i] is not None:
                ks.append(keys[i])
                vs.append(vals[i])
        if not ks:
            return None
        return _build(ks, vs, depth, 0, len(ks))

    cdef object update_leaf(self, Node node, Py_ssize_t depth, Py_ssize_t lo, Py_ssize_t hi):
        cdef list keys = self.keys, vals = self.vals
        cdef bytes full = self.path_of(lo, depth) + node.nib
        cdef list ks, vs
        cdef bint found = False, changed = False
        cdef Py_ssize_t i, pos
        cdef object k, v
        if hi - lo == 1:
            k = keys[lo]
            v = vals[lo]
            if k == full:
                if v is None:
                    return None
                if v == node.value:
                    return node
                return _node(_LEAF, node.nib, <bytes>v, None, None)
            if v is None:
                return node
            if <bytes>k < full:
                ks = [k, full]
                vs = [v, node.value]
            else:
                ks = [full, k]
                vs = [node.value, v]
            return _build(ks, vs, depth, 0, 2)
        ks = []
        vs = []
        for i in range(lo, hi):
            k = keys[i]
            v = vals[i]
            if k == full:
                found = True
                if v is None or v != node.value:
                    changed = True
            elif v is not None:
                changed = True
            if v is not None:
                ks.append(k)
                vs.append(v)
        if not changed:
            return node
        if not found:
            pos = 0
            while pos < len(ks) and <bytes>ks[pos] < full:
                pos += 1
            ks.insert(pos, full)
            vs.insert(pos, node.value)
        if not ks:
            return None
        return _build(ks, vs, depth, 0, len(ks))

    cdef object update_branch(self, Node node, Py_ssize_t depth, Py_ssize_t lo, Py_ssize_t hi):
        cdef list keys = self.keys
        cdef list children = node.children
        cdef bytes value = node.value
        cdef list new_children = None
        cdef Py_ssize_t i = lo, j
        cdef int n
        cdef object old, new
        if _klen(keys, i) == depth:
            v = self.vals[i]
            value = _EMPTY if v is None else <bytes>v
            i += 1
        while i < hi:
            n = _kat(keys, i, depth)
            j = i + 1
            while j < hi and _kat(keys, j, depth) == n:
                j += 1
            old = children[n]
            new = self.update(old, depth + 1, i, j)
            if new is not old:
                if new_children is None:
                    new_children = list(children)
                new_children[n] = new
            i = j
        if new_children is None:
            if value == node.value:
                return node
            new_children = list(children)
        return self.normalize_branch(new_children, value, self.path_of(lo, depth))

    cdef object normalize_branch(self, list children, bytes value, bytes path):
        cdef int count = 0, only = -1, n
        cdef object child
        cdef Node c
        cdef bytes child_path
        for n in range(16):
            if children[n] is not None:
                count += 1
                only = n
                if count > 1:
                    break
        if count == 0:
            return _node(_LEAF, _EMPTY, value, None, None) if PyBytes_GET_SIZE(value) else None
        if count == 1 and PyBytes_GET_SIZE(value) == 0:
            child = children[only]
            child_path = _path_plus(path, only)
            if type(child) is bytes:
                c = self.resolve(<bytes>child, child_path)
            else:
                c = <Node>child
            if c.kind == _BRANCH:
                return _node(_EXT, _nibble_bytes(only), _EMPTY, None, c)
            if c.stored:
                self.consumed.append(child_path)
            if c.kind == _LEAF:
                return _node(_LEAF, _nibble_bytes(only) + c.nib, c.value, None, None)
            return _node(_EXT, _nibble_bytes(only) + c.nib, _EMPTY, None, c.child)
        return _node(_BRANCH, _EMPTY, value, children, None)

    cdef inline bint _under(self, Py_ssize_t i, Py_ssize_t depth, bytes nib):
        cdef bytes k = <bytes>self.keys[i]
        cdef Py_ssize_t L = PyBytes_GET_SIZE(nib)
        return PyBytes_GET_SIZE(k) >= depth + L and memcmp(_ptr(k) + depth, _ptr(nib), L) == 0

    cdef object update_ext(self, Node node, Py_ssize_t depth, Py_ssize_t lo, Py_ssize_t hi):
        cdef list vals = self.vals
        cdef bytes nib = node.nib
        cdef Py_ssize_t L = PyBytes_GET_SIZE(nib), end = depth + L, i, first = -1, last = -1
        cdef bint outside_insert = False
        cdef object child, new, sub
        cdef list children
        cdef Node nn
        if not (self._under(lo, depth, nib) and self._under(hi - 1, depth, nib)):
            # Keys leaving the extension: if they are all deletions they change nothing,
            # and the (contiguous, keys being sorted) run under the extension is the update.
            for i in range(lo, hi):
                if self._under(i, depth, nib):
                    if first < 0:
                        first = i
                    last = i
                elif vals[i] is not None:
                    outside_insert = True
            if outside_insert:
                sub = node.child if L == 1 else _node(_EXT, nib[1:], _EMPTY, None, node.child)
                children = [None] * 16
                children[_ptr(nib)[0]] = sub
                return self.update_branch(_node(_BRANCH, _EMPTY, _EMPTY, children, None), depth, lo, hi)
            if first < 0:
                return node
            lo = first
            hi = last + 1
        child = node.child
        new = self.update(child, end, lo, hi)
        if new is child:
            return node
        if new is None:
            return None
        nn = <Node>new
        if nn.kind == _LEAF:
            return _node(_LEAF, nib + nn.nib, nn.value, None, None)
        if nn.kind == _EXT:
            return _node(_EXT, nib + nn.nib, _EMPTY, None, nn.child)
        return _node(_EXT, nib, _EMPTY, None, nn)

    # hashing and writing
    cdef bytes ref_of(self, Node node, bytes path):
        cdef bytes enc = self.encode(node, path), ref
        if PyBytes_GET_SIZE(enc) >= 32:
            ref = _keccak_bytes(enc)
            if self.writes is not None:
                self.writes[self.prefix + path] = ref + enc
        else:
            ref = enc
        node.ref = ref
        return ref

    cdef inline object child_ref(self, object child, bytes path):
        if child is None or type(child) is bytes:
            return child
        if (<Node>child).ref is not None:
            return (<Node>child).ref
        return self.ref_of(<Node>child, path)

    cdef bytes encode(self, Node node, bytes path):
        cdef bytes hp, out
        cdef unsigned char *o
        cdef Py_ssize_t payload, n
        cdef object ref, child
        cdef list refs
        cdef int i
        cdef bint track = self.writes is not None
        if node.kind == _LEAF:
            hp = _hex_prefix(node.nib, True)
            n = PyBytes_GET_SIZE(node.value)
            payload = _str_size(_ptr(hp), PyBytes_GET_SIZE(hp)) + _str_size(_ptr(node.value), n)
            out = PyBytes_FromStringAndSize(NULL, _list_size(payload))
            o = <unsigned char *>PyBytes_AS_STRING(out)
            o = _put_len(o, payload, 0xC0, 0xF7)
            o = _put_str(o, _ptr(hp), PyBytes_GET_SIZE(hp))
            _put_str(o, _ptr(node.value), n)
            return out
        if node.kind == _EXT:
            hp = _hex_prefix(node.nib, False)
            ref = self.child_ref(node.child, (path + node.nib) if track else None)
            payload = _str_size(_ptr(hp), PyBytes_GET_SIZE(hp)) + _ref_size(ref)
            out = PyBytes_FromStringAndSize(NULL, _list_size(payload))
            o = <unsigned char *>PyBytes_AS_STRING(out)
            o = _put_len(o, payload, 0xC0, 0xF7)
            o = _put_str(o, _ptr(hp), PyBytes_GET_SIZE(hp))
            _put_ref(o, ref)
            return out
        refs = [None] * 16
        payload = 0
        for i in range(16):
            child = node.children[i]
            if child is not None:
                if type(child) is bytes:
                    ref = child
                elif (<Node>child).ref is not None:
                    ref = (<Node>child).ref
                else:
                    ref = self.ref_of(<Node>child, _path_plus(path, i) if track else None)
                refs[i] = ref
                payload += _ref_size(ref)
            else:
                payload += 1
        n = PyBytes_GET_SIZE(node.value)
        payload += _str_size(_ptr(node.value), n)
        out = PyBytes_FromStringAndSize(NULL, _list_size(payload))
        o = <unsigned char *>PyBytes_AS_STRING(out)
        o = _put_len(o, payload, 0xC0, 0xF7)
        for i in range(16):
            o = _put_ref(o, refs[i])
        _put_str(o, _ptr(node.value), n)
        return out

    cdef bytes root_of(self, object node):
        cdef bytes root, enc, key, path
        if node is None:
            root = _BLANK_ROOT
        elif type(node) is bytes:
            root = <bytes>node
        else:
            enc = self.encode(<Node>node, _EMPTY)
            root = _keccak_bytes(enc)
            if self.writes is not None:
                self.writes[self.prefix] = root + enc
        if self.writes is not None:
            for path in self.consumed:
                key = self.prefix + path
                if key not in self.writes:
                    self.writes[key] = None
        return root


cdef tuple _sorted_items(object items):
    cdef list pairs = []
    cdef list keys, vals
    cdef Py_ssize_t i, n
    for k, v in items:
        pairs.append((_nibbles(k if type(k) is bytes else bytes(k)), (v if type(v) is bytes else bytes(v)) if v else None))
    pairs.sort()
    n = len(pairs)
    keys = [None] * n
    vals = [None] * n
    for i in range(n):
        keys[i] = (<tuple>pairs[i])[0]
        vals[i] = (<tuple>pairs[i])[1]
        if i and keys[i] == keys[i - 1]:
            raise ValueError("duplicate key in a trie update")
    return keys, vals


def update_trie(bytes root, bytes prefix, items, load, dict writes, bint verify=False):
    cdef list keys, vals
    cdef _Trie trie
    keys, vals = _sorted_items(items)
    if not keys:
        return root
    trie = _Trie(prefix, load, writes, verify)
    trie.keys = keys
    trie.vals = vals
    new = trie.update(None if root == _BLANK_ROOT else root, 0, 0, len(keys))
    return trie.root_of(new)


def trie_root(items):
    return update_trie(_BLANK_ROOT, _EMPTY, items, None, None)


cdef bytes _rlp_index(Py_ssize_t i):
    if i == 0:
        return b"\x80"
    if i < 0x80:
        return bytes((i,))
    raw = (<object>i).to_bytes(_int_len(i), "big")
    return bytes((0x80 + len(raw),)) + raw


def ordered_trie_root(values):
    cdef list keys, vals, pairs
    cdef Py_ssize_t i, n = len(values)
    cdef _Trie trie
    cdef bytes value
    pairs = []
    for i in range(n):
        value = values[i] if type(values[i]) is bytes else bytes(values[i])
        if PyBytes_GET_SIZE(value):  # an empty value is no entry (as in any trie)
            pairs.append((_nibbles(_rlp_index(i)), value))
    if not pairs:
        return _BLANK_ROOT
    pairs.sort()
    n = len(pairs)
    keys = [p[0] for p in pairs]
    vals = [p[1] for p in pairs]
    trie = _Trie(_EMPTY, None, None, False)
    trie.keys = keys
    trie.vals = vals
    return trie.root_of(_build(keys, vals, 0, 0, n))


# -- reading -----------------------------------------------------------------------------------
cdef tuple _load_node(object load, bytes prefix, bytes path, bytes ref, bint verify, bint want_rlp):
    """Load the node ``ref`` stored at ``path``: -> (its rlp if ``want_rlp``, the decoded node)."""
    cdef object raw = load(prefix + path)
    cdef bytes data
    cdef const unsigned char *p
    cdef Py_ssize_t n
    if raw is None:
        raise TrieError(f"trie node {ref.hex()} missing at path {_path_hex(path)!r}")
    data = raw if type(raw) is bytes else bytes(raw)
    p = _ptr(data)
    n = PyBytes_GET_SIZE(data)
    if n < 34 or memcmp(p, _ptr(ref), 32) != 0:
        raise TrieError(f"the trie node at path {_path_hex(path)!r} is not {ref.hex()} (a stale node)")
    if verify and _keccak(p + 32, n - 32) != ref:
        raise TrieError(f"the trie node at path {_path_hex(path)!r} does not hash to {ref.hex()} (a corrupt node)")
    return (data[32:] if want_rlp else None), _decode_node(data, p + 32, 0, n - 32)


def prove(bytes root, bytes prefix, bytes key, load, bint verify=False):
    cdef bytes nib, data
    cdef Node node
    cdef list proof
    cdef Py_ssize_t depth = 0, end, L
    cdef object child
    if root == _BLANK_ROOT:
        return None, []
    nib = _nibbles(key)
    data, node = _load_node(load, prefix, _EMPTY, root, verify, True)
    proof = [data]
    while True:
        if node.kind == _LEAF:
            return (node.value if nib[depth:] == node.nib else None), proof
        if node.kind == _EXT:
            L = PyBytes_GET_SIZE(node.nib)
            end = depth + L
            if nib[depth:end] != node.nib:
                return None, proof
            depth = end
            child = node.child
        else:
            if depth == PyBytes_GET_SIZE(nib):
                return (node.value or None), proof
            child = node.children[_ptr(nib)[depth]]
            depth += 1
            if child is None:
                return None, proof
        if type(child) is bytes:
            data, node = _load_node(load, prefix, nib[:depth], <bytes>child, verify, True)
            proof.append(data)
        else:
            node = <Node>child


def iter_nodes(bytes root, bytes prefix, load):
    cdef list stack, inner, slots
    cdef Node n, node
    cdef bytes path, p, data
    cdef int i
    if root == _BLANK_ROOT:
        return
    stack = [(_EMPTY, root)]
    while stack:
        path, ref = stack.pop()
        data, node = _load_node(load, prefix, path, ref, True, True)
        yield prefix + path, ref + data
        inner = [(path, node)]
        while inner:
            p, n = inner.pop()
            if n.kind == _LEAF:
                continue
            if n.kind == _EXT:
                slots = [(p + n.nib, n.child)]
            else:
                slots = [(_path_plus(p, i), n.children[i]) for i in range(16) if n.children[i] is not None]
            for child_path, child in slots:
                if type(child) is bytes:
                    stack.append((child_path, child))
                else:
                    inner.append((child_path, child))
