"""pytest-benchmark suite for Block-STM vs sequential (small blocks; the real figures come
from ``hyperion bench parallel``, docs/benchmarks.md).

    python -m pytest benchmarks/test_bench_parallel.py --benchmark-only
"""
import pytest

from hyperion.tools.bench.output import blockstm_costs
from hyperion.tools.bench.parallel import WORKLOADS, measure


@pytest.mark.parametrize("workload", WORKLOADS)
def test_blockstm_vs_sequential(benchmark, workload):
    run = benchmark.pedantic(measure, kwargs=dict(txs=100, workers=(2,), rounds=1, workloads=(workload,), min_txs=1),
                             rounds=1, iterations=1)
    (row,) = blockstm_costs(run.to_json())
    benchmark.extra_info.update({k: v for k, v in row.items() if isinstance(v, (int, float, str))})
    # equal results are asserted inside measure(); speed is reported, not asserted
    assert row["seconds"] > 0 and row["workers"] == 2
