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
