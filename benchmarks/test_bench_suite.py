"""pytest-benchmark suite over the runner's workloads (small blocks; the real figures come
from ``hyperion bench run``, docs/benchmarks.md).

    python -m pytest benchmarks/test_bench_suite.py --benchmark-only
"""
import pytest

from hyperion.tools.bench.output import summary
from hyperion.tools.bench.runner import measure
from hyperion.tools.bench.suite import WORKLOADS


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_workload(benchmark, workload):
    run = benchmark.pedantic(measure, args=((workload,), 200), kwargs=dict(workers=(2,), contentions=(0.5,),
                                                                             rounds=1), rounds=1, iterations=1)
    rows = {row["side"]: row for row in summary(run.to_json())}
    benchmark.extra_info.update({f"{side} tx/s": row["tx_per_s"] for side, row in rows.items()})
    # equal roots on every side are checked inside measure(); speed is reported, not asserted
    assert set(rows) == {"stock", "sequential", "blockstm-2"}
