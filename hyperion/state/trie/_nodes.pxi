# Nibble paths, hex-prefix encoding, the Node class and decoding a stored node.
#
# Part of ``_mpt.pyx``, which ``include``s it: the text is compiled into that one module
# (the same C as if written there, so calls stay inlined) and uses its cimports and
# constants.  Kept apart only to keep each file short.

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
