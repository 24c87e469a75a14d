"""pytest-benchmark suite over every workload of ``hyperion bench run``, at small sizes (the
real figures come from ``hyperion bench run``, docs/benchmarks.md):

    python -m pytest benchmarks/test_bench_suite.py --benchmark-only

Each case is one ``measure()`` of one workload: 200-transaction blocks at contention 0.5,
on stock py-evm (where it can run the workload), Hyperion sequential and Block-STM with 2
workers, one measured round after a warm-up block.  The benchmark's own time is the whole
call (engine start-up included); each side's end-to-end tx/s is in ``extra_info`` (shown
with ``--benchmark-json``).  Not collected by the test suite (testpaths = tests).
"""
import pytest

from hyperion.tools.bench.output import summary
from hyperion.tools.bench.runner import STOCK, measure
from hyperion.tools.bench.suite import WORKLOADS

TXS = 200


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_workload(benchmark, workload):
    run = benchmark.pedantic(measure, args=((workload,), TXS), kwargs=dict(workers=(2,), contentions=(0.5,),
                                                                             rounds=1), rounds=1, iterations=1)
    rows = {row["side"]: row for row in summary(run.to_json())}
    benchmark.extra_info.update({f"{side} tx/s": row["tx_per_s"] for side, row in rows.items()})
    # equal roots on every side are checked inside measure(); speed is reported, not asserted
    expected = {"sequential", "blockstm-2"} | (set() if WORKLOADS[workload].no_stock else {STOCK})
    assert set(rows) == expected
