"""The sequential scheduler: transactions one after another, in order.

It is the reference every other scheduler is checked against, and the fallback they use
when parallelism cannot pay.
"""
from __future__ import annotations

import time

from hyperion.errors import InvalidTransactionError
from hyperion.evm.processor import account_db
from hyperion.scheduler.base import BatchOutcome, BlockJob
from hyperion.types import ExecutionStats, TxStatus


def run_sequentially(job: BlockJob, start: int, transactions: list, outcomes: list, roots: list,
                     gas_used: int = 0, blob_gas_used: int = 0) -> float:
    """Execute inputs ``start..`` of ``job`` in order on ``job.overlay``, appending to the lists.

    ``gas_used`` / ``blob_gas_used`` are what the transactions before ``start`` used.
    Returns the seconds spent decoding (and recovering senders).  With ``job.deadline``
    the deadline is checked before each transaction (it raises, leaving the lists partial).
    """
    clock = time.perf_counter
    prepare_seconds = 0.0
    processor = job.processor
    state = processor.new_state(job.overlay)
    accounts = account_db(state)
    gas_limit = processor.env.gas_limit
    deadline = job.deadline
    for index in range(start, len(job.inputs)):
        if deadline is not None:
            deadline.check()
        begun = clock()
        prepared = job.prepare(index)
        prepare_seconds += clock() - begun
        outcome = processor.execute_transaction(
            state, prepared, gas_limit - gas_used, processor.max_blob_gas - blob_gas_used
        )
        if outcome.status is TxStatus.INVALID:
            if job.strict:
                raise InvalidTransactionError(prepared.index, outcome.error)
        else:
            job.overlay.apply(accounts.take_write_set())
            gas_used += outcome.gas_used
            blob_gas_used += outcome.blob_gas_used
            if job.intermediate_root is not None:
                roots.append(job.intermediate_root())
        transactions.append(prepared)
        outcomes.append(outcome)
    return prepare_seconds


class SequentialScheduler:
    name = "sequential"

    def attach(self, store) -> None:
        pass

    def start(self) -> None:
        pass  # no worker processes

    def warm_up(self, specs) -> None:
        pass  # state classes are built in this process, when a block first needs them

    def run(self, job: BlockJob) -> BatchOutcome:
        started = time.perf_counter()
        transactions: list = []
        outcomes: list = []
        roots: list = []
        prepare_seconds = run_sequentially(job, 0, transactions, outcomes, roots)
        stats = ExecutionStats(scheduler=self.name, workers=1, incarnations=len(outcomes),
                               execution_seconds=time.perf_counter() - started,
                               extra={"prepare_seconds": prepare_seconds})
        return BatchOutcome(transactions=transactions, outcomes=outcomes, stats=stats, intermediate_roots=roots)

    def close(self) -> None:
        pass
