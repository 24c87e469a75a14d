"""What every scheduler implements: run a block's transactions on top of an overlay.

A scheduler receives the block's :class:`~hyperion.evm.processor.BlockProcessor`, the
decoded transactions and the block overlay (store snapshot + pending parents + the
pre-block system calls).  It must leave the overlay holding exactly the writes of
sequential execution in index order, and return one outcome per transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Protocol, Sequence, Tuple

from hyperion.evm.processor import BlockProcessor, TxOutcome
from hyperion.evm.receipts import ReceiptBuilder
from hyperion.evm.transactions import PreparedTx, light_prepare, prepare_one
from hyperion.state.trie.stateroot import IncrementalStateRoot
from hyperion.state.view import Overlay
from hyperion.types import ExecutionStats


@dataclass
class BlockJob:
    processor: BlockProcessor
    #: the caller's inputs (EIP-2718 bytes or UnsignedTx), not decoded yet
    inputs: Sequence[object]
    overlay: Overlay
    strict: bool = False
    #: pre-Byzantium receipts hold the state root after each transaction
    intermediate_root: Optional[Callable[[], bytes]] = None
    #: diffs of pending parents, for schedulers that ship state to workers
    layers: List[object] = field(default_factory=list)
    #: block hashes BLOCKHASH may ask for (number -> hash), for workers
    ancestor_hashes: dict = field(default_factory=dict)
    #: the committed head the pending layers sit on
    head_root: bytes = b""
    #: names of the chain's extra precompile sets
    precompiles: tuple = ()
    #: a :class:`~hyperion.deadline.Deadline` checked between transactions (None: none);
    #: the parallel scheduler's coordinator also checks it while its workers run
    deadline: Optional[object] = None
    #: receipts built as transactions become final: a scheduler may add its first
    #: transactions here in order (Block-STM does while its workers run); the block adds the rest
    receipts: Optional[ReceiptBuilder] = None
    #: the block's state root, which a scheduler may start on its settled prefix
    root: Optional[IncrementalStateRoot] = None

    def prepare(self, index: int) -> PreparedTx:
        """Decode input ``index`` (and recover its sender)."""
        processor = self.processor
        return prepare_one(processor.fork, self.inputs[index], processor.chain_id, index)

    def light(self, index: int) -> PreparedTx:
        processor = self.processor
        return light_prepare(processor.fork, self.inputs[index], processor.chain_id, index)


@dataclass
class BatchOutcome:
    #: one per input, in order (decoded or light-prepared)
    transactions: List[PreparedTx]
    outcomes: List[TxOutcome]
    stats: ExecutionStats
    intermediate_roots: List[bytes] = field(default_factory=list)
    #: ``time.perf_counter()`` when the last transaction had run (the workers were done):
    #: where the block's serial tail starts.  Reporting only.
    finished_at: float = 0.0


class Scheduler(Protocol):
    name: str

    def run(self, job: BlockJob) -> BatchOutcome: ...

    def close(self) -> None: ...

    def attach(self, store) -> None:
        """The store the engine executes on (parallel workers read it themselves)."""

    def start(self) -> None:
        """Start worker processes now rather than in the first block (idempotent)."""

    def warm_up(self, specs: Sequence[Tuple[str, Tuple[str, ...]]]) -> None:
        """Prepare the workers for blocks of these ``(fork name, precompile set names)``:
        build the state classes and compile precompile kernels before a block needs them."""
