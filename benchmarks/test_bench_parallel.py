"""pytest-benchmark suite for Block-STM vs sequential (small batches; the real figures come
from ``python benchmarks/bench_parallel.py``).

    python -m pytest benchmarks/test_bench_parallel.py --benchmark-only
"""
import pytest

from hyperion.tools.bench.parallel import TARGETS, measure


@pytest.mark.parametrize("workload", sorted(TARGETS))
def test_blockstm_vs_sequential(benchmark, workload):
    result = benchmark.pedantic(measure, args=(workload, 300, 2, 1, False), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "fallback"})
    benchmark.extra_info["fallback"] = result["fallback"] or ""
    # correctness is asserted inside measure(); speed is reported, not asserted
    assert result["incarnations"] >= 1
