"""What every scheduler implements: run a block's transactions on top of an overlay.

A scheduler receives the block's :class:`~hyperion.evm.processor.BlockProcessor`, the
decoded transactions and the block overlay (store snapshot + pending parents + the
pre-block system calls).  It must leave the overlay holding exactly the writes of
sequential execution in index order, and return one outcome per transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Protocol, Sequence

from hyperion.evm.processor import BlockProcessor, TxOutcome
from hyperion.evm.transactions import PreparedTx
from hyperion.state.view import Overlay
from hyperion.types import ExecutionStats


@dataclass
class BlockJob:
    processor: BlockProcessor
    transactions: Sequence[PreparedTx]
    overlay: Overlay
    strict: bool = False
    #: pre-Byzantium receipts hold the state root after each transaction
    intermediate_root: Optional[Callable[[], bytes]] = None
    #: diffs of pending parents + pre-block writes, for schedulers that ship state to workers
    layers: List[object] = field(default_factory=list)


@dataclass
class BatchOutcome:
    outcomes: List[TxOutcome]
    stats: ExecutionStats
    intermediate_roots: List[bytes] = field(default_factory=list)


class Scheduler(Protocol):
    name: str

    def run(self, job: BlockJob) -> BatchOutcome: ...

    def close(self) -> None: ...
