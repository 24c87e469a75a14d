"""Block-STM on worker processes: the coordinator (the engine's process), the workers,
the messages between them, the shared scheduler counters and the multi-version memory."""
from hyperion.scheduler.blockstm.coordinator import ParallelScheduler, break_even_abort_ratio

__all__ = ["ParallelScheduler", "break_even_abort_ratio"]
