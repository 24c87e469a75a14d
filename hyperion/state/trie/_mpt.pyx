# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twin of ``mpt_py.py``: Ethereum's Merkle-Patricia trie with keccak and rlp in C.

Same API, same algorithm and same results as the pure-Python module (see its docstring);
``hyperion.state.trie.stateroot`` explains the path-keyed node layout.  Keccak-256 is a small
keccak-f[1600] in ``_keccak.pxi`` (pycryptodome's is not callable from C); the tests check it
against ``eth_hash`` on every length around the 136-byte rate.
"""
from libc.string cimport memcpy, memcmp, memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE

BLANK_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
cdef bytes _BLANK_ROOT = BLANK_ROOT

cdef enum:
    _LEAF = 1
    _EXT = 2
    _BRANCH = 3

cdef bytes _NIBBLE_TO_HEX = bytes.maketrans(bytes(range(16)), b"0123456789abcdef")


class TrieError(Exception):
    """A trie node is missing from the store or does not match its hash."""


# keccak, rlp, nibble paths and node decoding: textual includes, compiled into this module
include "_keccak.pxi"
include "_rlp.pxi"
include "_nodes.pxi"


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
