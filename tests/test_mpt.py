"""hyperion.state.trie.mpt against independent references: eth_hash, pyrlp and py-trie.

Each test runs on both implementations (the pure-Python twin always, the compiled module
when built), and the hypothesis test also checks that both write the very same nodes.
"""
from __future__ import annotations

import importlib
import os

import pytest
import rlp
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from hyperion.state.trie import mpt_py

try:
    from hyperion.state.trie import _mpt as compiled
except ImportError:  # pragma: no cover - no compiler in this environment
    compiled = None

IMPLS = [pytest.param(mpt_py, id="python")]
if compiled is not None and os.environ.get("HYPERION_PUREPYTHON", "") in ("", "0"):
    IMPLS.append(pytest.param(compiled, id="compiled"))
BOTH = [m for m in (mpt_py, compiled) if m is not None]


def pytrie_root(mapping) -> bytes:
    t = HexaryTrie({})
    for key, value in mapping.items():
        t[key] = value
    return t.root_hash


def apply_writes(store: dict, writes: dict) -> None:
    for key, value in writes.items():
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


@pytest.mark.parametrize("impl", IMPLS)
def test_keccak_matches_eth_hash(impl):
    for n in list(range(0, 300)) + [407, 408, 409, 543, 544, 545, 4096, 10_001]:
        data = bytes((i * 7 + n) & 0xFF for i in range(n))
        assert impl.keccak256(data) == keccak(data), n
    assert impl.keccak256(bytearray(b"abc")) == keccak(b"abc")
    assert impl.keccak256(memoryview(b"abc")) == keccak(b"abc")


@pytest.mark.parametrize("impl", IMPLS)
def test_account_and_storage_encoding_match_rlp(impl):
    cases = [(0, 0), (1, 1), (127, 128), (2**64 - 1, 2**256 - 1), (5, 10**18)]
    for nonce, balance in cases:
        root, code = keccak(b"r"), keccak(b"c")
        encoded = impl.encode_account(nonce, balance, root, code)
        assert encoded == rlp.encode([nonce, balance, root, code])
        assert impl.decode_account(encoded) == (nonce, balance, root, code)
    for value in (1, 0x7F, 0x80, 0xFF, 0x100, 2**255, 2**256 - 1):
        assert impl.encode_storage_value(value) == rlp.encode(value)
    with pytest.raises(ValueError):
        impl.encode_storage_value(-1)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("count", [0, 1, 2, 16, 127, 128, 129, 300, 1000])
def test_ordered_trie_root_matches_pytrie(impl, count):
    values = [rlp.encode([i, b"x" * (i % 70)]) for i in range(count)]
    expected = pytrie_root({rlp.encode(i): v for i, v in enumerate(values)})
    assert impl.ordered_trie_root(values) == expected
    assert impl.trie_root([(rlp.encode(i), v) for i, v in enumerate(values)]) == expected


@pytest.mark.parametrize("impl", IMPLS)
def test_ordered_trie_root_small_values_embed_nodes(impl):
    # one-byte values make leaves shorter than 32 bytes: embedded, not hashed
    values = [bytes([i % 5 + 1]) for i in range(40)]
    assert impl.ordered_trie_root(values) == pytrie_root({rlp.encode(i): v for i, v in enumerate(values)})


@pytest.mark.parametrize("impl", IMPLS)
def test_duplicate_keys_are_refused(impl):
    with pytest.raises(ValueError):
        impl.update_trie(impl.BLANK_ROOT, b"P", [(b"a", b"1"), (b"a", b"2")], {}.get, {})


@pytest.mark.parametrize("impl", IMPLS)
def test_empty_update_keeps_the_root(impl):
    store: dict = {}
    writes: dict = {}
    root = impl.update_trie(impl.BLANK_ROOT, b"P", [(keccak(b"k"), b"v")], store.get, writes)
    apply_writes(store, writes)
    writes = {}
    assert impl.update_trie(root, b"P", [], store.get, writes) == root
    # deleting absent keys and rewriting the same value change nothing and write nothing
    assert impl.update_trie(root, b"P", [(keccak(b"absent"), None), (keccak(b"k"), b"v")], store.get, writes) == root
    assert writes == {}


@pytest.mark.parametrize("impl", IMPLS)
def test_stale_and_corrupt_nodes_are_errors(impl):
    store: dict = {}
    writes: dict = {}
    items = [(keccak(bytes([i])), b"value-%d" % i) for i in range(50)]
    root = impl.update_trie(impl.BLANK_ROOT, b"P", items, store.get, writes)
    apply_writes(store, writes)
    other: dict = {}
    other_root = impl.update_trie(impl.BLANK_ROOT, b"P", items[:49], other.get, other)
    assert other_root != root
    # a node from another trie left at the root's path: caught by the stored hash
    stale = dict(store)
    stale[b"P"] = other[b"P"]
    with pytest.raises(impl.TrieError, match="stale"):
        impl.update_trie(root, b"P", [(keccak(b"new"), b"x")], stale.get, {})
    with pytest.raises(impl.TrieError, match="stale"):
        impl.prove(root, b"P", items[0][0], stale.get)
    # flipped bytes behind a correct hash: caught only when verifying
    corrupt = dict(store)
    node = bytearray(corrupt[b"P"])
    node[-1] ^= 1
    corrupt[b"P"] = bytes(node)
    with pytest.raises(impl.TrieError, match="corrupt"):
        impl.update_trie(root, b"P", [(keccak(b"new"), b"x")], corrupt.get, {}, True)
    # a missing node
    missing = dict(store)
    del missing[b"P"]
    with pytest.raises(impl.TrieError, match="missing"):
        impl.prove(root, b"P", items[0][0], missing.get)


# -- random batches against py-trie ---------------------------------------------------------------
#: small alphabets and lengths make shared prefixes, embedded (< 32 byte) nodes, branch
#: values (keys that are prefixes of others) and collapses likely
key_styles = st.sampled_from(["short", "fixed2", "var", "hashed"])


@st.composite
def batches(draw):
    style = draw(key_styles)
    if style == "short":
        key = st.binary(min_size=1, max_size=1)
    elif style == "fixed2":
        key = st.tuples(st.integers(0, 3), st.integers(0, 3)).map(lambda t: bytes(t))
    elif style == "var":
        key = st.lists(st.integers(0, 2), min_size=1, max_size=3).map(bytes)
    else:
        key = st.integers(0, 200).map(lambda i: keccak(i.to_bytes(2, "big")))
    value = st.one_of(st.none(), st.binary(min_size=1, max_size=3), st.binary(min_size=30, max_size=40))
    blocks = draw(st.lists(st.dictionaries(key, value, max_size=25), min_size=1, max_size=6))
    return blocks


@settings(max_examples=int(os.environ.get("HYPERION_MPT_EXAMPLES", "150")))
@given(batches())
def test_random_batches_match_pytrie(blocks):
    stores = {impl: {} for impl in BOTH}
    roots = {impl: mpt_py.BLANK_ROOT for impl in BOTH}
    state: dict = {}
    for batch in blocks:
        writes_by_impl = {}
        for impl in BOTH:
            writes: dict = {}
            roots[impl] = impl.update_trie(roots[impl], b"P", list(batch.items()), stores[impl].get, writes, True)
            apply_writes(stores[impl], writes)
            writes_by_impl[impl] = writes
        for key, value in batch.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        expected = pytrie_root(state)
        for impl in BOTH:
            assert roots[impl] == expected
            # the store holds exactly the nodes reachable from the root: nothing stale, nothing missing
            assert dict(impl.iter_nodes(roots[impl], b"P", stores[impl].get)) == stores[impl]
        if compiled is not None:
            assert writes_by_impl[compiled] == writes_by_impl[mpt_py]
        # proofs of present and absent keys, checked by py-trie's verifier (which cannot
        # walk a key that ends inside an extension: absent keys of the trie's key length only)
        lengths = {len(k) for k in state}
        for key in sorted(state)[:4] + [b"\x01", b"\x00\x07", b"\x00\x00\x07", b"\x07" * 32]:
            for impl in BOTH:
                value, proof = impl.prove(roots[impl], b"P", key, stores[impl].get, True)
                assert value == state.get(key)
                if state and (key in state or lengths == {len(key)}):
                    decoded = [rlp.decode(node) for node in proof]
                    assert HexaryTrie.get_from_proof(expected, key, decoded) == state.get(key, b"")
        assert mpt_py.trie_root(list(state.items())) == expected
        if compiled is not None:
            assert compiled.trie_root(list(state.items())) == expected


def test_modules_expose_the_same_api():
    if compiled is None:
        pytest.skip("compiled extension not built")
    names = ["BLANK_ROOT", "TrieError", "keccak256", "encode_account", "decode_account", "encode_storage_value",
             "ordered_trie_root", "trie_root", "update_trie", "prove", "iter_nodes", "Node"]
    for name in names:
        assert hasattr(compiled, name) and hasattr(mpt_py, name), name
    selector = importlib.import_module("hyperion.state.trie.mpt")
    from hyperion import native

    assert selector.update_trie is (mpt_py.update_trie if not native.IMPLEMENTATIONS["mpt"] else compiled.update_trie)
