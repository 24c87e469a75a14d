"""State on top of pending blocks: a store snapshot with the pending parents layered over it.

A pending block is executed on its parent's state, which is not in the store yet: it is
the committed head plus the diffs (and trie writes) of the pending blocks in between
(docs/design.md §5).  :class:`PendingChain` is that view, used alike by execution,
simulation, reads and proofs.
"""
from __future__ import annotations

from typing import Optional, Protocol, Sequence, Tuple

from hyperion.state.store import StoreReader
from hyperion.state.trie.stateroot import RootUpdate, layered_nodes
from hyperion.state.view import DiffReader
from hyperion.types import BlockResult, Head


class PendingLayer(Protocol):
    """A pending block as the chain needs it: its result and its trie writes."""

    result: BlockResult
    update: RootUpdate


class PendingChain:
    """A store snapshot with pending blocks on top (``layers``, oldest first).

    It owns the snapshot: :meth:`close` (or leaving the ``with`` block) releases it.
    """

    __slots__ = ("snapshot", "layers")

    def __init__(self, snapshot: StoreReader, layers: Sequence[PendingLayer] = ()) -> None:
        self.snapshot = snapshot
        self.layers = list(layers)

    def close(self) -> None:
        self.snapshot.close()

    def __enter__(self) -> "PendingChain":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the parent ---------------------------------------------------------------------
    def head(self) -> Head:
        """The committed head the snapshot shows (the pending layers sit on it)."""
        return self.snapshot.head()

    def top(self) -> Tuple[int, bytes, Optional[bytes]]:
        """(number, state root, block hash) of the newest block: the last layer, else the head."""
        if self.layers:
            result = self.layers[-1].result
            return result.number, result.state_root, result.block_hash
        head = self.head()
        return head.number, head.state_root, head.block_hash

    # -- state --------------------------------------------------------------------------
    def reader(self):
        """A state reader: each layer's diff over the snapshot."""
        reader = self.snapshot
        for layer in self.layers:
            reader = DiffReader(reader, layer.result.diff)
        return reader

    def diffs(self) -> list:
        return [layer.result.diff for layer in self.layers]

    def ancestor_hash(self, number: int) -> Optional[bytes]:
        """The hash of block ``number``: a pending layer's, else the store's."""
        for layer in reversed(self.layers):
            if layer.result.number == number:
                return layer.result.block_hash
        return self.snapshot.block_hash(number)

    def record_before(self, address: bytes):
        """The account's trie record as of the top (for the state root update)."""
        for layer in reversed(self.layers):
            records = layer.update.records
            if address in records:
                return records[address]
        return self.snapshot.account_record(address)

    def trie_nodes(self):
        """Trie nodes by path: the layers' writes (newest first) over the snapshot's."""
        return layered_nodes(self.snapshot.trie_lookup(), [layer.update for layer in self.layers])
