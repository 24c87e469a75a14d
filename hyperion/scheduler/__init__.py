"""Schedulers: how a block's transactions are executed (``sequential`` or ``blockstm``)."""
from __future__ import annotations

import os
from typing import Optional

from hyperion.scheduler.base import BatchOutcome, BlockJob, Scheduler
from hyperion.scheduler.sequential import SequentialScheduler

SCHEDULERS = ("sequential", "blockstm")


def default_workers() -> int:
    return max(os.cpu_count() or 1, 1)


def make_scheduler(name: str = "sequential", workers: Optional[int] = None, **options) -> Scheduler:
    """Build a scheduler by name; ``workers`` defaults to the number of cores.

    ``options`` are passed to the parallel scheduler (ignored by the sequential one).
    """
    if name == "sequential":
        return SequentialScheduler()
    if name == "blockstm":
        try:
            from hyperion.scheduler.blockstm import ParallelScheduler
        except ImportError as exc:  # pragma: no cover - present once the parallel issue lands
            raise ValueError(f"the blockstm scheduler is not available: {exc}") from exc
        return ParallelScheduler(workers=workers or default_workers(), **options)
    raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")


__all__ = ["BatchOutcome", "BlockJob", "Scheduler", "SequentialScheduler", "make_scheduler", "SCHEDULERS"]
