"""pytest-benchmark suite for Hyperion sequential vs stock py-evm (small blocks; the real
figures come from ``hyperion bench foundation``, docs/benchmarks.md).

    python -m pytest benchmarks/test_foundation.py --benchmark-only
"""
import pytest

from hyperion.tools.bench.foundation import WORKLOADS, measure
from hyperion.tools.bench.output import summary


@pytest.mark.parametrize("workload", WORKLOADS)
def test_sequential_vs_stock(benchmark, workload):
    run = benchmark.pedantic(measure, kwargs=dict(txs=200, accounts=100, rounds=1, workloads=(workload,)),
                             rounds=1, iterations=1)
    rows = {row["side"]: row for row in summary(run.to_json())}
    benchmark.extra_info.update({f"{side}_tx_per_s": row["tx_per_s"] for side, row in rows.items()})
    benchmark.extra_info["vs_stock"] = rows["sequential"]["vs_stock"][0]
    # equal roots are asserted inside measure(); speed is reported, not asserted
    assert set(rows) == {"stock", "sequential"}
