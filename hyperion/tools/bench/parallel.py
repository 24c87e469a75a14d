"""``hyperion bench parallel``: Block-STM vs the sequential engine, a preset of the runner.

    hyperion bench parallel [--txs 5000] [--workers 1,2] [--rounds 5] [--workload erc20,...] [--json PATH]
    python benchmarks/bench_parallel.py (the same options)

It is ``hyperion bench run --workload erc20,eth,mixed,hot --txs 5000 --workers 1,2
--baseline sequential --chain --phases`` (:mod:`hyperion.tools.bench.runner`): one LMDB
engine per side over the suite's genesis, every side on the same signed blocks, and the
blocks a chain (each on the last one's state, nonces advancing), ``execute()`` timed end to
end with the commit untimed, round 0 a warm-up block.  Results of all sides are compared
before any figure; a difference raises :class:`~hyperion.tools.bench.runner.ResultMismatch`.
The report is Block-STM's cost table (:func:`hyperion.tools.bench.output.format_blockstm_costs`).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from hyperion.tools.bench import runner

#: the four blocks of the Block-STM goals: transfers of either kind, a skewed mix, one hot slot
WORKLOADS = ("erc20", "eth", "mixed", "hot")
DEFAULT_TXS = 5000
DEFAULT_ROUNDS = 5


def measure(txs: int = DEFAULT_TXS, workers: Sequence[int] = (1, 2), rounds: int = DEFAULT_ROUNDS,
            workloads: Sequence[str] = WORKLOADS, seed: int = 13, min_txs: Optional[int] = None,
            progress: Callable[[str], None] = lambda _message: None) -> runner.Run:
    """The preset's run; ``min_txs`` overrides Block-STM's sequential-fallback threshold
    (``None``: the engine's default), to measure where parallel execution starts to pay."""
    unknown = [name for name in workloads if name not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOADS)}")
    return runner.measure(workloads, txs, blocks=1, workers=workers, contentions=(0.0,),
                          baselines=(runner.SEQUENTIAL,), rounds=rounds, seed=seed, progress=progress,
                          scheduler_options=None if min_txs is None else {"min_txs": min_txs}, chain=True)
