"""pytest-benchmark version of ``benchmarks/bench_rpc.py``: ExecuteBatch + Commit of
1,000-transaction blocks over loopback gRPC versus in-process (the side-by-side table and
the overhead figures come from ``python benchmarks/bench_rpc.py``).

    python -m pytest benchmarks/test_bench_rpc.py [--benchmark-only]

Each side runs blocks 1..N of the same signed batches on its own chain
(HYPERION_BENCH_BLOCKS, default 3); the two chains must end with the same state root.
"""
import os

import pytest

from benchmarks.bench_rpc import setup

BLOCKS = int(os.environ.get("HYPERION_BENCH_BLOCKS", "3"))


@pytest.fixture(scope="module")
def bench():
    b = setup(BLOCKS, 1000)
    yield b
    b.close()


def _rounds(benchmark, run) -> None:
    """Blocks 1..N in order: each round is the next block of that side's chain."""
    numbers = iter(range(1, BLOCKS + 1))
    benchmark.pedantic(run, setup=lambda: ((next(numbers),), {}), rounds=BLOCKS, iterations=1)


@pytest.mark.benchmark(group="execute+commit, 1,000 txs")
def test_in_process(benchmark, bench):
    _rounds(benchmark, bench.run_local)


@pytest.mark.benchmark(group="execute+commit, 1,000 txs")
def test_grpc_loopback(benchmark, bench):
    _rounds(benchmark, bench.run_remote)
    assert bench.engine.head.state_root == bench.client.head.state_root, "in-process and gRPC chains differ"
