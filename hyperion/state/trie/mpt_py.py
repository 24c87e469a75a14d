"""Merkle-Patricia trie (Ethereum's hexary trie), pure-Python twin of ``_mpt.pyx``.

Same API and same algorithm as the compiled module; see ``hyperion.state.trie.stateroot`` for
how the state and storage tries use it and why nodes are stored by *path*.

Public API (identical in both implementations):

- ``keccak256(data) -> bytes``
- ``encode_account(nonce, balance, storage_root, code_hash) -> bytes`` and
  ``decode_account(value) -> (nonce, balance, storage_root, code_hash)``: the account leaf.
- ``encode_storage_value(value) -> bytes``: a storage leaf, rlp of the minimal big-endian int.
- ``ordered_trie_root(values) -> bytes``: root of ``rlp(i) -> values[i]``, built from scratch.
- ``trie_root(items) -> bytes``: root of ``key -> value`` pairs built from scratch.
- ``update_trie(root, prefix, items, load, writes, verify=False) -> bytes``: apply
  ``items`` (``(key, value)`` pairs, ``value`` ``None`` or ``b""`` = delete) to the trie
  ``root`` whose nodes ``load(prefix + path)`` returns; touched nodes only are loaded and
  hashed.  New or changed nodes go to ``writes[prefix + path] = hash + rlp``; nodes that no
  longer exist at their path go to ``writes[prefix + path] = None``.  Returns the new root.
- ``prove(root, prefix, key, load, verify=False) -> (value | None, [node rlp, ...])``: the
  value under ``key`` and the nodes on its path, root first (``eth_getProof``'s proof).
- ``iter_nodes(root, prefix, load) -> iterator of (store key, stored value)``: every stored
  node reachable from ``root``, each checked against its hash (tests, consistency checks).

A *path* is the key's nibbles from the root to the node, one byte per nibble.  A node is
stored when its parent references it by hash (its rlp is 32 bytes or more) and the root is
always stored; smaller nodes are embedded in their parent, as Ethereum requires.  A stored
value is the node's keccak followed by its rlp: every load compares that hash with the one
the parent (or the caller, for a root) expects, so a node left at a path by mistake is an
error (``TrieError``), never a silently wrong root.  ``verify=True`` also re-hashes every
loaded node (catches corrupted bytes; it roughly doubles the hashing work of an update).
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from eth_hash.auto import keccak as _keccak

BLANK_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")

_LEAF = 1
_EXT = 2
_BRANCH = 3

_HEX_TO_NIBBLE = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_NIBBLE_TO_HEX = bytes.maketrans(bytes(range(16)), b"0123456789abcdef")

Loader = Callable[[bytes], Optional[bytes]]


class TrieError(Exception):
    """A trie node is missing from the store or does not match its hash."""


def keccak256(data: bytes) -> bytes:
    return _keccak(bytes(data))


# -- rlp ---------------------------------------------------------------------------------
def _length_prefix(length: int, short: int, long: int) -> bytes:
    if length < 56:
        return bytes((short + length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((long + len(raw),)) + raw


def _rlp_str(data: bytes) -> bytes:
    if len(data) == 1 and data[0] < 0x80:
        return data
    return _length_prefix(len(data), 0x80, 0xB7) + data


def _rlp_list(payload: bytes) -> bytes:
    return _length_prefix(len(payload), 0xC0, 0xF7) + payload


def _rlp_int(value: int) -> bytes:
    if value < 0:
        raise ValueError("rlp cannot encode a negative integer")
    return _rlp_str(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _rlp_item(data: bytes, pos: int, end: int) -> Tuple[bool, int, int, int]:
    """-> (is_list, payload start, payload end, next item) of the item at ``pos``."""
    if pos >= end:
        raise TrieError("truncated rlp")
    b = data[pos]
    if b < 0x80:
        return False, pos, pos + 1, pos + 1
    if b < 0xB8:
        start, length, is_list = pos + 1, b - 0x80, False
    elif b < 0xC0:
        n = b - 0xB7
        start, length, is_list = pos + 1 + n, int.from_bytes(data[pos + 1:pos + 1 + n], "big"), False
    elif b < 0xF8:
        start, length, is_list = pos + 1, b - 0xC0, True
    else:
        n = b - 0xF7
        start, length, is_list = pos + 1 + n, int.from_bytes(data[pos + 1:pos + 1 + n], "big"), True
    if start + length > end:
        raise TrieError("truncated rlp")
    return is_list, start, start + length, start + length


def _rlp_list_items(data: bytes, pos: int, end: int) -> List[Tuple[bool, int, int, int]]:
    """Items of the list at ``data[pos:end]`` as (is_list, payload start, payload end, item start)."""
    is_list, start, stop, _ = _rlp_item(data, pos, end)
    if not is_list:
        raise TrieError("a trie node must be an rlp list")
    items = []
    p = start
    while p < stop:
        item_list, s, e, nxt = _rlp_item(data, p, stop)
        items.append((item_list, s, e, p))
        p = nxt
    return items


def encode_account(nonce: int, balance: int, storage_root: bytes, code_hash: bytes) -> bytes:
    return _rlp_list(_rlp_int(nonce) + _rlp_int(balance) + _rlp_str(storage_root) + _rlp_str(code_hash))


def decode_account(value: bytes) -> Tuple[int, int, bytes, bytes]:
    items = _rlp_list_items(value, 0, len(value))
    if len(items) != 4 or any(item[0] for item in items):
        raise TrieError("an account leaf is an rlp list of four strings")
    fields = [value[s:e] for _, s, e, _ in items]
    return int.from_bytes(fields[0], "big"), int.from_bytes(fields[1], "big"), fields[2], fields[3]


def encode_storage_value(value: int) -> bytes:
    return _rlp_int(value)


# -- nibbles and hex-prefix encoding -----------------------------------------------------------
def _nibbles(key: bytes) -> bytes:
    return key.hex().encode().translate(_HEX_TO_NIBBLE)


def _hex_prefix(nibbles: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        head = bytes(((flag + 1) << 4 | nibbles[0],))
        nibbles = nibbles[1:]
    else:
        head = bytes((flag << 4,))
    return head + bytes.fromhex(nibbles.translate(_NIBBLE_TO_HEX).decode())


def _hex_prefix_decode(data: bytes) -> Tuple[bytes, bool]:
    if not data:
        raise TrieError("empty hex-prefix path")
    flag = data[0] >> 4
    if flag > 3:
        raise TrieError("bad hex-prefix flag")
    nibbles = _nibbles(data)
    return (nibbles[1:] if flag & 1 else nibbles[2:]), bool(flag & 2)


# -- nodes ---------------------------------------------------------------------------------
class Node:
    """A decoded or new trie node.

    ``ref`` is set on clean nodes (unchanged since loaded): the 32-byte hash, or the whole
    rlp when it is shorter than 32 bytes (an embedded node).  ``stored`` marks a node that
    was read from the store at its own path.  A child slot holds ``None``, a ``bytes``
    hash (a stored node not loaded yet) or a :class:`Node`.
    """

    __slots__ = ("kind", "nib", "value", "children", "child", "ref", "stored")

    def __init__(self, kind: int, nib: bytes = b"", value: bytes = b"", children=None, child=None) -> None:
        self.kind = kind
        self.nib = nib
        self.value = value
        self.children = children
        self.child = child
        self.ref: Optional[bytes] = None
        self.stored = False


def _decode_ref(data: bytes, item) -> object:
    is_list, start, stop, item_start = item
    if is_list:
        node = _decode_node(data, item_start, stop)
        node.ref = data[item_start:stop]
        return node
    if stop == start:
        return None
    if stop - start != 32:
        raise TrieError("a child reference must be a 32-byte hash or an embedded node")
    return data[start:stop]


def _decode_node(data: bytes, pos: int, end: int) -> Node:
    items = _rlp_list_items(data, pos, end)
    if len(items) == 17:
        children = [_decode_ref(data, items[i]) for i in range(16)]
        is_list, start, stop, _ = items[16]
        if is_list:
            raise TrieError("a branch value must be a string")
        return Node(_BRANCH, value=data[start:stop], children=children)
    if len(items) == 2:
        is_list, start, stop, _ = items[0]
        if is_list:
            raise TrieError("a node path must be a string")
        nib, leaf = _hex_prefix_decode(data[start:stop])
        if leaf:
            is_list, start, stop, _ = items[1]
            if is_list:
                raise TrieError("a leaf value must be a string")
            return Node(_LEAF, nib=nib, value=data[start:stop])
        if not nib:
            raise TrieError("an extension with an empty path")
        child = _decode_ref(data, items[1])
        if child is None:
            raise TrieError("an extension without a child")
        return Node(_EXT, nib=nib, child=child)
    raise TrieError(f"a trie node has 2 or 17 items, not {len(items)}")


def _child_item(ref: Optional[bytes]) -> bytes:
    if ref is None:
        return b"\x80"
    if len(ref) == 32:
        return b"\xa0" + ref
    return ref


# -- building from scratch -----------------------------------------------------------------------
def _build(keys: Sequence[bytes], vals: Sequence[bytes], depth: int, lo: int, hi: int) -> Node:
    """The subtrie of sorted, distinct nibble keys ``keys[lo:hi]`` below ``depth``."""
    if hi - lo == 1:
        return Node(_LEAF, nib=keys[lo][depth:], value=vals[lo])
    a, b = keys[lo], keys[hi - 1]
    limit = min(len(a), len(b))
    cp = depth
    while cp < limit and a[cp] == b[cp]:
        cp += 1
    if cp > depth:
        return Node(_EXT, nib=a[depth:cp], child=_build_branch(keys, vals, cp, lo, hi))
    return _build_branch(keys, vals, depth, lo, hi)


def _build_branch(keys: Sequence[bytes], vals: Sequence[bytes], depth: int, lo: int, hi: int) -> Node:
    children: List[object] = [None] * 16
    value = b""
    i = lo
    if len(keys[i]) == depth:
        value = vals[i]
        i += 1
    while i < hi:
        n = keys[i][depth]
        j = i + 1
        while j < hi and keys[j][depth] == n:
            j += 1
        children[n] = _build(keys, vals, depth + 1, i, j)
        i = j
    return Node(_BRANCH, value=value, children=children)


# -- the incremental update --------------------------------------------------------------------
class _Trie:
    """One update (or one from-scratch build) of one trie."""

    __slots__ = ("prefix", "load", "verify", "keys", "vals", "consumed", "writes")

    def __init__(self, prefix: bytes, load: Optional[Loader], writes: Optional[dict], verify: bool) -> None:
        self.prefix = prefix
        self.load = load
        self.writes = writes
        self.verify = verify
        self.keys: List[bytes] = []
        self.vals: List[Optional[bytes]] = []
        self.consumed: List[bytes] = []

    # loading
    def resolve(self, ref: bytes, path: bytes) -> Node:
        if self.load is None:
            raise TrieError("no node loader")
        node = _load_node(self.load, self.prefix, path, ref, self.verify)[1]
        node.ref = ref
        node.stored = True
        return node

    # updating
    def update(self, node, depth: int, lo: int, hi: int):
        if node is None:
            return self.build_inserts(depth, lo, hi)
        if type(node) is bytes:
            resolved = self.resolve(node, self.keys[lo][:depth])
            new = self.update_node(resolved, depth, lo, hi)
            return node if new is resolved else new
        return self.update_node(node, depth, lo, hi)

    def update_node(self, node: Node, depth: int, lo: int, hi: int):
        kind = node.kind
        if kind == _BRANCH:
            new = self.update_branch(node, depth, lo, hi)
        elif kind == _EXT:
            new = self.update_ext(node, depth, lo, hi)
        else:
            new = self.update_leaf(node, depth, lo, hi)
        if new is not node and node.stored:
            self.consumed.append(self.keys[lo][:depth])
        return new

    def build_inserts(self, depth: int, lo: int, hi: int):
        keys, vals = self.keys, self.vals
        ks = [keys[i] for i in range(lo, hi) if vals[i] is not None]
        if not ks:
            return None
        if len(ks) == hi - lo:
            return _build(keys, vals, depth, lo, hi)
        vs = [vals[i] for i in range(lo, hi) if vals[i] is not None]
        return _build(ks, vs, depth, 0, len(ks))

    def update_leaf(self, node: Node, depth: int, lo: int, hi: int):
        keys, vals = self.keys, self.vals
        full = keys[lo][:depth] + node.nib
        ks: List[bytes] = []
        vs: List[bytes] = []
        found = False
        changed = False
        for i in range(lo, hi):
            k, v = keys[i], vals[i]
            if k == full:
                found = True
                if v != node.value:
                    changed = True
            elif v is not None:
                changed = True
            if v is not None:
                ks.append(k)
                vs.append(v)
        if not changed:
            return node
        if not found:
            pos = bisect_left(ks, full)
            ks.insert(pos, full)
            vs.insert(pos, node.value)
        if not ks:
            return None
        return _build(ks, vs, depth, 0, len(ks))

    def update_branch(self, node: Node, depth: int, lo: int, hi: int):
        keys = self.keys
        children = node.children
        value = node.value
        new_children = None
        i = lo
        if len(keys[i]) == depth:
            value = self.vals[i] or b""
            i += 1
        while i < hi:
            n = keys[i][depth]
            j = i + 1
            while j < hi and keys[j][depth] == n:
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
        return self.normalize_branch(new_children, value, keys[lo][:depth])

    def normalize_branch(self, children: list, value: bytes, path: bytes):
        count = 0
        only = -1
        for n in range(16):
            if children[n] is not None:
                count += 1
                only = n
                if count > 1:
                    break
        if count == 0:
            return Node(_LEAF, nib=b"", value=value) if value else None
        if count == 1 and not value:
            child = children[only]
            child_path = path + bytes((only,))
            if type(child) is bytes:
                child = self.resolve(child, child_path)
            if child.kind == _BRANCH:
                return Node(_EXT, nib=bytes((only,)), child=child)
            if child.stored:
                self.consumed.append(child_path)
            if child.kind == _LEAF:
                return Node(_LEAF, nib=bytes((only,)) + child.nib, value=child.value)
            return Node(_EXT, nib=bytes((only,)) + child.nib, child=child.child)
        return Node(_BRANCH, value=value, children=children)

    def update_ext(self, node: Node, depth: int, lo: int, hi: int):
        keys, vals = self.keys, self.vals
        nib = node.nib
        end = depth + len(nib)
        if not (keys[lo][depth:end] == nib and keys[hi - 1][depth:end] == nib):
            # Keys leaving the extension: if they are all deletions they change nothing,
            # and the (contiguous, keys being sorted) run under the extension is the update.
            inside = [i for i in range(lo, hi) if keys[i][depth:end] == nib]
            if any(vals[i] is not None for i in range(lo, hi) if keys[i][depth:end] != nib):
                sub = node.child if len(nib) == 1 else Node(_EXT, nib=nib[1:], child=node.child)
                children: List[object] = [None] * 16
                children[nib[0]] = sub
                return self.update_branch(Node(_BRANCH, value=b"", children=children), depth, lo, hi)
            if not inside:
                return node
            lo, hi = inside[0], inside[-1] + 1
        child = node.child
        new = self.update(child, end, lo, hi)
        if new is child:
            return node
        if new is None:
            return None
        if new.kind == _LEAF:
            return Node(_LEAF, nib=nib + new.nib, value=new.value)
        if new.kind == _EXT:
            return Node(_EXT, nib=nib + new.nib, child=new.child)
        return Node(_EXT, nib=nib, child=new)

    # hashing and writing
    def ref_of(self, node, path: bytes) -> Optional[bytes]:
        if node is None:
            return None
        if type(node) is bytes:
            return node
        if node.ref is not None:
            return node.ref
        enc = self.encode(node, path)
        if len(enc) >= 32:
            ref = _keccak(enc)
            if self.writes is not None:
                self.writes[self.prefix + path] = ref + enc
        else:
            ref = enc
        node.ref = ref
        return ref

    def encode(self, node: Node, path: bytes) -> bytes:
        kind = node.kind
        if kind == _LEAF:
            return _rlp_list(_rlp_str(_hex_prefix(node.nib, True)) + _rlp_str(node.value))
        if kind == _EXT:
            child = _child_item(self.ref_of(node.child, path + node.nib))
            return _rlp_list(_rlp_str(_hex_prefix(node.nib, False)) + child)
        parts = []
        children = node.children
        for n in range(16):
            child = children[n]
            parts.append(b"\x80" if child is None else _child_item(self.ref_of(child, path + bytes((n,)))))
        parts.append(_rlp_str(node.value))
        return _rlp_list(b"".join(parts))

    def root_of(self, node) -> bytes:
        """Hash the new trie, record writes and deletions, return the root hash."""
        if node is None:
            root = BLANK_ROOT
        elif type(node) is bytes:
            root = node
        else:
            enc = self.encode(node, b"")
            root = _keccak(enc)
            if self.writes is not None:
                self.writes[self.prefix] = root + enc
        writes = self.writes
        if writes is not None:
            prefix = self.prefix
            for path in self.consumed:
                key = prefix + path
                if key not in writes:
                    writes[key] = None
        return root


def _sorted_items(items: Iterable[Tuple[bytes, Optional[bytes]]]) -> Tuple[List[bytes], List[Optional[bytes]]]:
    pairs = sorted((_nibbles(bytes(k)), (bytes(v) if v else None)) for k, v in items)
    for i in range(1, len(pairs)):
        if pairs[i][0] == pairs[i - 1][0]:
            raise ValueError("duplicate key in a trie update")
    return [k for k, _ in pairs], [v for _, v in pairs]


def update_trie(
    root: bytes,
    prefix: bytes,
    items: Iterable[Tuple[bytes, Optional[bytes]]],
    load: Optional[Loader],
    writes: Optional[Dict[bytes, Optional[bytes]]],
    verify: bool = False,
) -> bytes:
    keys, vals = _sorted_items(items)
    if not keys:
        return root
    trie = _Trie(bytes(prefix), load, writes, verify)
    trie.keys, trie.vals = keys, vals
    start = None if root == BLANK_ROOT else bytes(root)
    new = trie.update(start, 0, 0, len(keys))
    return trie.root_of(new)


def trie_root(items: Iterable[Tuple[bytes, bytes]]) -> bytes:
    return update_trie(BLANK_ROOT, b"", items, None, None)


def ordered_trie_root(values: Sequence[bytes]) -> bytes:
    if not values:
        return BLANK_ROOT
    return update_trie(BLANK_ROOT, b"", ((_rlp_int(i), bytes(v)) for i, v in enumerate(values)), None, None)


# -- reading -----------------------------------------------------------------------------------
def _load_node(load: Loader, prefix: bytes, path: bytes, ref: bytes, verify: bool) -> Tuple[bytes, Node]:
    """Load the node ``ref`` stored at ``path``: -> (its rlp, the decoded node)."""
    raw = load(prefix + path)
    if raw is None:
        raise TrieError(f"trie node {ref.hex()} missing at path {path.translate(_NIBBLE_TO_HEX).decode()!r}")
    raw = bytes(raw)
    if raw[:32] != ref or len(raw) < 34:
        raise TrieError(f"the trie node at path {path.translate(_NIBBLE_TO_HEX).decode()!r} is not {ref.hex()} "
                        f"(a stale node)")
    data = raw[32:]
    if verify and _keccak(data) != ref:
        raise TrieError(f"the trie node at path {path.translate(_NIBBLE_TO_HEX).decode()!r} does not hash to "
                        f"{ref.hex()} (a corrupt node)")
    return data, _decode_node(data, 0, len(data))


def prove(root: bytes, prefix: bytes, key: bytes, load: Loader, verify: bool = False) -> Tuple[Optional[bytes], List[bytes]]:
    if root == BLANK_ROOT:
        return None, []
    nib = _nibbles(bytes(key))
    prefix = bytes(prefix)
    data, node = _load_node(load, prefix, b"", bytes(root), verify)
    proof = [data]
    depth = 0
    while True:
        kind = node.kind
        if kind == _LEAF:
            return (node.value if nib[depth:] == node.nib else None), proof
        if kind == _EXT:
            end = depth + len(node.nib)
            if nib[depth:end] != node.nib:
                return None, proof
            depth = end
            child = node.child
        else:
            if depth == len(nib):
                return (node.value or None), proof
            child = node.children[nib[depth]]
            depth += 1
            if child is None:
                return None, proof
        if type(child) is bytes:
            data, node = _load_node(load, prefix, nib[:depth], child, verify)
            proof.append(data)
        else:
            node = child


def iter_nodes(root: bytes, prefix: bytes, load: Loader) -> Iterator[Tuple[bytes, bytes]]:
    if root == BLANK_ROOT:
        return
    prefix = bytes(prefix)
    stack = [(b"", bytes(root))]
    while stack:
        path, ref = stack.pop()
        data, node = _load_node(load, prefix, path, ref, True)
        yield prefix + path, ref + data
        inner = [(path, node)]
        while inner:
            p, n = inner.pop()
            if n.kind == _LEAF:
                continue
            if n.kind == _EXT:
                slots = [(p + n.nib, n.child)]
            else:
                slots = [(p + bytes((i,)), c) for i, c in enumerate(n.children) if c is not None]
            for child_path, child in slots:
                if type(child) is bytes:
                    stack.append((child_path, child))
                else:
                    inner.append((child_path, child))
