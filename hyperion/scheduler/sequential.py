"""The sequential scheduler: transactions one after another, in order.

It is the reference every other scheduler is checked against, and the fallback they use
when parallelism cannot pay.  Two things keep the per-transaction cost outside the
interpreter down (docs/design.md §19): senders are recovered ahead of execution by a helper
process (:class:`~hyperion.evm.senders.RecoveryStage`), and the cyclic garbage collector is
paused for the transaction loop, which creates no reference cycles (tests/test_pertx.py
checks that), so every collection it would run there is pure cost.
"""
from __future__ import annotations

import gc
import time
from typing import Optional

from hyperion.errors import InvalidTransactionError
from hyperion.evm.processor import account_db
from hyperion.evm.senders import Recovering, RecoveryStage
from hyperion.evm.transactions import prepare_one
from hyperion.scheduler.base import BatchOutcome, BlockJob
from hyperion.types import ExecutionStats, TxStatus


def run_sequentially(job: BlockJob, start: int, transactions: list, outcomes: list, roots: list,
                     gas_used: int = 0, blob_gas_used: int = 0,
                     recovering: Optional[Recovering] = None) -> float:
    """Execute inputs ``start..`` of ``job`` in order on ``job.overlay``, appending to the lists.

    ``gas_used`` / ``blob_gas_used`` are what the transactions before ``start`` used;
    ``recovering`` holds senders a recovery stage found ahead (by input index).
    Returns the seconds spent decoding (and recovering senders).  With ``job.deadline``
    the deadline is checked before each transaction (it raises, leaving the lists partial).
    """
    clock = time.perf_counter
    prepare_seconds = 0.0
    processor = job.processor
    fork, chain_id, inputs = processor.fork, processor.chain_id, job.inputs
    state = processor.new_state(job.overlay)
    accounts = account_db(state)
    gas_limit = processor.env.gas_limit
    deadline = job.deadline
    collecting = gc.isenabled()
    gc.disable()
    try:
        for index in range(start, len(inputs)):
            if deadline is not None:
                deadline.check()
            begun = clock()
            sender = recovering.get(index) if recovering is not None else None
            prepared = prepare_one(fork, inputs[index], chain_id, index, sender)
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
    finally:
        if collecting:
            gc.enable()
    return prepare_seconds


class SequentialScheduler:
    name = "sequential"

    def __init__(self) -> None:
        self._recovery = RecoveryStage()

    def attach(self, store) -> None:
        pass

    def start(self) -> None:
        pass  # the recovery helper starts with the first block large enough to use it

    def warm_up(self, specs) -> None:
        pass  # state classes are built in this process, when a block first needs them

    def run(self, job: BlockJob) -> BatchOutcome:
        started = time.perf_counter()
        transactions: list = []
        outcomes: list = []
        roots: list = []
        recovering = self._recovery.submit(job.inputs)
        try:
            prepare_seconds = run_sequentially(job, 0, transactions, outcomes, roots, recovering=recovering)
        except BaseException:
            self._recovery.close()  # a block cut short leaves answers in flight: drop the helper
            raise
        if recovering is not None:
            recovering.finish()
        stats = ExecutionStats(scheduler=self.name, workers=1, incarnations=len(outcomes),
                               execution_seconds=time.perf_counter() - started,
                               extra={"prepare_seconds": prepare_seconds,
                                      "senders_recovered_ahead": sum(1 for s in recovering.senders if s)
                                      if recovering is not None else 0})
        return BatchOutcome(transactions=transactions, outcomes=outcomes, stats=stats, intermediate_roots=roots)

    def close(self) -> None:
        self._recovery.close()
