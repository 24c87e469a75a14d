"""The chain an eth-tester backend sees: mined blocks over a Hyperion engine.

eth-tester's model (that of its py-evm backend): a chain of mined blocks plus one pending
block that collects sent transactions until it is mined.  Here each mined block is an
engine block; the newest ``keep`` stay pending blocks of the engine (never committed), so
their state can still be read and called at, and a snapshot among them is reverted by
discarding; older ones are committed, and a snapshot there is reverted with
``Engine.revert_to``.  Block bodies, receipts and the transaction index live here, in
memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import rlp
from eth_hash.auto import keccak

from hyperion.engine import Engine
from hyperion.evm.forks import Fork
from hyperion.evm.receipts import ordered_trie_root, requests_hash, withdrawals_root
from hyperion.tools.conformance.rules import base_fee_from_parent
from hyperion.types import BlockEnv, BlockResult, TxResult, ZERO_ADDRESS, ZERO_HASH


@dataclass
class MinedBlock:
    """A block as eth-tester serializes it (``hyperion.ecosystem.serialize``)."""

    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int
    coinbase: bytes
    gas_limit: int
    base_fee: int
    prev_randao: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    logs_bloom: bytes
    gas_used: int
    blob_gas_used: int = 0
    withdrawals_root: Optional[bytes] = None
    requests_hash: Optional[bytes] = None
    parent_beacon_block_root: Optional[bytes] = None
    transactions: List[object] = field(default_factory=list)  #: py-evm transactions
    raw: List[bytes] = field(default_factory=list)  #: their EIP-2718 encodings
    results: List[TxResult] = field(default_factory=list)
    #: the engine's pending block, or None once committed (or for genesis)
    pending: Optional[BlockResult] = None

    @property
    def size(self) -> int:
        return sum(len(r) for r in self.raw) + 508  # the header's rlp is about 500 bytes


def randao(number: int) -> bytes:
    """A fixed prev_randao per block number (eth-tester's py-evm backend draws a random one;
    a fixed one keeps sessions repeatable)."""
    return keccak(b"hyperion-randao" + number.to_bytes(8, "big"))


class Chain:
    """Mined blocks of ``engine`` (whose genesis is written) and the pending block."""

    def __init__(self, engine: Engine, fork: Fork, genesis_timestamp: int, gas_limit: int, base_fee: int,
                 keep: int) -> None:
        self.engine = engine
        self.fork = fork
        self.keep = keep
        head = engine.head
        self.blocks: List[MinedBlock] = [MinedBlock(
            number=head.number, hash=head.block_hash, parent_hash=ZERO_HASH, timestamp=genesis_timestamp,
            coinbase=ZERO_ADDRESS, gas_limit=gas_limit, base_fee=base_fee, prev_randao=ZERO_HASH,
            state_root=head.state_root, transactions_root=ordered_trie_root([]), receipts_root=ordered_trie_root([]),
            logs_bloom=bytes(256), gas_used=0, withdrawals_root=withdrawals_root(()) if fork.has_withdrawals else None,
            requests_hash=requests_hash(()) if fork.has_requests else None,
            parent_beacon_block_root=ZERO_HASH if fork.has_beacon_root_call else None)]
        self.first = head.number
        self.by_hash: Dict[bytes, int] = {head.block_hash: head.number}
        self.tx_index: Dict[bytes, Tuple[int, int]] = {}  #: hash -> (block number, position)

    # -- blocks ------------------------------------------------------------------------
    @property
    def latest(self) -> MinedBlock:
        return self.blocks[-1]

    def block(self, number: int) -> Optional[MinedBlock]:
        index = number - self.first
        return self.blocks[index] if 0 <= index < len(self.blocks) else None

    def state_ref(self, number: int):
        """The engine's reference to the state after block ``number`` (``LookupError`` if
        it is no longer kept: committed blocks below the head have only their reads)."""
        block = self.block(number)
        if block is None:
            raise LookupError(f"block {number} does not exist")
        if block.pending is not None:
            return block.pending
        if number != self.engine.head.number:
            raise LookupError(f"the state of block {number} is no longer kept (the backend keeps the last "
                              f"{self.keep} blocks' states); only its blocks and receipts are")
        return None

    def next_env(self, timestamp: int, coinbase: bytes = ZERO_ADDRESS) -> BlockEnv:
        parent = self.latest
        base_fee = base_fee_from_parent(parent.gas_limit, parent.gas_limit, parent.gas_used, parent.base_fee)
        number = parent.number + 1
        return BlockEnv(number=number, timestamp=timestamp, coinbase=coinbase, gas_limit=parent.gas_limit,
                        base_fee=base_fee, prev_randao=randao(number), parent_hash=parent.hash,
                        parent_beacon_block_root=ZERO_HASH if self.fork.has_beacon_root_call else None)

    def simulate(self, env: BlockEnv, raw: List[bytes]) -> BlockResult:
        return self.engine.simulate(env, raw, self.state_ref(self.latest.number))

    def hold(self, env: BlockEnv, raw: List[bytes]) -> BlockResult:
        """Execute block ``env`` on the latest block as a held engine block (not mined)."""
        return self.engine.execute(env, raw, self.state_ref(self.latest.number))

    def mine(self, env: BlockEnv, raw: List[bytes], decode, held: Optional[BlockResult] = None) -> MinedBlock:
        """Keep block ``env`` with ``raw`` (every one must be valid): ``held``, its execution
        by :meth:`hold`, or a new one."""
        result = held if held is not None else self.hold(env, raw)
        txs = [decode(r) for r in raw]
        included = [r for r in result.tx_results if r.included]
        if len(included) != len(raw):
            bad = next(r for r in result.tx_results if not r.included)
            self.engine.discard(result)
            raise ValueError(f"transaction {bad.index} cannot be included: {bad.error}")
        block = MinedBlock(
            number=env.number, hash=result.block_hash, parent_hash=env.parent_hash, timestamp=env.timestamp,
            coinbase=env.coinbase, gas_limit=env.gas_limit, base_fee=env.base_fee, prev_randao=env.prev_randao,
            state_root=result.state_root, transactions_root=result.transactions_root,
            receipts_root=result.receipts_root, logs_bloom=result.logs_bloom, gas_used=result.gas_used,
            blob_gas_used=result.blob_gas_used, withdrawals_root=result.withdrawals_root,
            requests_hash=result.requests_hash, parent_beacon_block_root=env.parent_beacon_block_root,
            transactions=txs, raw=list(raw), results=list(result.tx_results), pending=result)
        self.blocks.append(block)
        self.by_hash[block.hash] = block.number
        for position, tx in enumerate(txs):
            self.tx_index[tx.hash] = (block.number, position)
        self._commit_old()
        return block

    def _commit_old(self) -> None:
        kept = [b for b in self.blocks if b.pending is not None]
        for block in kept[:max(0, len(kept) - self.keep)]:
            self.engine.commit(block.pending)
            block.pending = None

    # -- snapshots ---------------------------------------------------------------------
    def revert_to(self, number: int) -> None:
        """Forget the blocks after ``number``."""
        target = self.block(number)
        if target is None:
            raise LookupError(f"block {number} does not exist")
        dropped = self.blocks[number - self.first + 1:]
        if not dropped:
            return
        if dropped[0].pending is not None:  # then so are the blocks after it
            self.engine.discard(dropped[0].pending)  # and its descendants
        else:
            self.engine.revert_to(number)  # drops every pending block too
        del self.blocks[number - self.first + 1:]
        for block in dropped:
            self.by_hash.pop(block.hash, None)
            for tx in block.transactions:
                self.tx_index.pop(tx.hash, None)


def encode(tx) -> bytes:
    """EIP-2718 bytes of a py-evm transaction."""
    return tx.encode() if getattr(tx, "type_id", None) else rlp.encode(tx)
