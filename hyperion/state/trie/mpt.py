"""Merkle-Patricia trie: compiled or pure-Python (see ``hyperion.native``)."""
from hyperion.native import load

_impl = load("hyperion.state.trie", "mpt")

BLANK_ROOT = _impl.BLANK_ROOT
TrieError = _impl.TrieError
keccak256 = _impl.keccak256
encode_account = _impl.encode_account
decode_account = _impl.decode_account
encode_storage_value = _impl.encode_storage_value
ordered_trie_root = _impl.ordered_trie_root
trie_root = _impl.trie_root
update_trie = _impl.update_trie
prove = _impl.prove
iter_nodes = _impl.iter_nodes

__all__ = [
    "BLANK_ROOT", "TrieError", "keccak256", "encode_account", "decode_account", "encode_storage_value",
    "ordered_trie_root", "trie_root", "update_trie", "prove", "iter_nodes",
]
