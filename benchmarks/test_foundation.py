"""Issue 2: Hyperion sequential (end to end: execute + state root + LMDB commit) vs stock py-evm,
and the compiled vs pure-Python FlatAccountDB, on 1,000 signed EIP-1559 transfers and 1,000
ERC-20 ``transfer`` calls.  Every run starts from a fresh genesis and must reach stock's root.

For one table with all the ratios, run ``hyperion bench foundation`` (or benchmarks/foundation.py).
"""
from __future__ import annotations

import pytest

from hyperion.tools.bench import foundation as F

from benchmarks.conftest import record

KINDS = ["transfer", "erc20"]


@pytest.mark.parametrize("kind", KINDS)
def test_stock_pyevm_end_to_end(benchmark, setup, kind):
    timing = benchmark.pedantic(F.run_stock, args=(setup.stock_alloc, setup.config, setup.env, setup.batches[kind]),
                                rounds=3, iterations=1)
    record(benchmark, timing)
    assert timing.state_root == setup.stock_root(kind) and timing.included == len(setup.batches[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_hyperion_end_to_end(benchmark, setup, kind):
    timing = benchmark.pedantic(F.run_hyperion, args=(setup.genesis_dir, setup.config, setup.env,
                                                      setup.batches[kind]), rounds=3, iterations=1)
    record(benchmark, timing)
    assert timing.state_root == setup.stock_root(kind) and timing.included == len(setup.batches[kind])


@pytest.mark.parametrize("twin", ["compiled", "python"])
@pytest.mark.parametrize("kind", KINDS)
def test_hyperion_flatdb_twin(benchmark, setup, kind, twin):
    classes = F.flatdb_twins()
    if twin not in classes:
        pytest.skip("the compiled _flatdb is not built")
    timing = benchmark.pedantic(F.run_hyperion, args=(setup.genesis_dir, setup.config, setup.env, setup.batches[kind]),
                                kwargs={"account_db_class": classes[twin]}, rounds=3, iterations=1)
    record(benchmark, timing)
    assert timing.state_root == setup.stock_root(kind)


@pytest.fixture(scope="session")
def recorded_calls(setup):
    return {kind: F.record_flatdb_calls(setup.genesis_dir, setup.config, setup.env, setup.batches[kind])
            for kind in KINDS}


@pytest.mark.parametrize("twin", ["compiled", "python"])
@pytest.mark.parametrize("kind", KINDS)
def test_flatdb_alone_replaying_the_batch(benchmark, setup, recorded_calls, kind, twin):
    """The FlatAccountDB calls of executing the batch, replayed on one twin (flatdb + its reader)."""
    classes = F.flatdb_twins()
    if twin not in classes:
        pytest.skip("the compiled _flatdb is not built")
    F.replay_flatdb_calls(recorded_calls[kind], setup.genesis_dir, classes[twin], verify=True)
    benchmark.pedantic(F.replay_flatdb_calls, args=(recorded_calls[kind], setup.genesis_dir, classes[twin]),
                       rounds=5, iterations=1)
