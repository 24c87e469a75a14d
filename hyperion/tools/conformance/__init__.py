"""Conformance tooling: run test suites nobody here wrote, through Hyperion's engine.

- :mod:`hyperion.tools.conformance.fixture_json` — the JSON shapes ethereum/tests and t8n tools use
  (numbers, allocs, transactions, headers), to and from Hyperion's types.
- :mod:`hyperion.tools.conformance.fixtures` — the ``BlockchainTests`` / ``GeneralStateTests`` runner
  (``hyperion fixtures``): finds the files and runs them through
  :mod:`~hyperion.tools.conformance.state_tests` and :mod:`~hyperion.tools.conformance.blockchain_tests`;
  options, results and the report are in :mod:`~hyperion.tools.conformance.report`.
- :mod:`hyperion.tools.conformance.skips` — the one list of what the runner skips, and why.
- :mod:`hyperion.tools.conformance.t8n` — the state-transition tool (``hyperion t8n``).
- :mod:`hyperion.tools.conformance.rules` — header rules (base fee, excess blob gas, gas limit) that
  a block's environment is derived from and checked against.
"""
import threading
from typing import Optional

from hyperion.scheduler import Scheduler, make_scheduler

#: The conformance tools exist to check the engine, so a parallel scheduler runs every block
#: of two or more transactions in parallel (its default threshold keeps small blocks sequential).
CHECKING_MIN_TXS = 2


def checking_scheduler(name: str, workers: Optional[int] = None) -> Scheduler:
    """The scheduler ``hyperion fixtures`` / ``hyperion t8n`` run with; ``ValueError`` if it
    cannot be built."""
    if name == "sequential":
        return make_scheduler(name)
    return make_scheduler(name, workers, min_txs=CHECKING_MIN_TXS)


class WorkerStart:
    """Starts ``scheduler``'s worker processes on a thread, so that they boot (each imports
    the engine: about a second) while the caller reads and parses its input; :meth:`wait`
    before the scheduler is used, and :meth:`close` when done."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._start, name="hyperion-worker-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            self.scheduler.start()
        except BaseException as exc:  # re-raised by wait(), in the caller's thread
            self._error = exc

    def wait(self) -> Scheduler:
        """The scheduler, its workers ready; raises what starting them raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.scheduler

    def close(self) -> None:
        """Wait for the start to end, whatever its outcome, and close the scheduler."""
        self._thread.join()
        self.scheduler.close()
