"""pytest-benchmark form of ``bench_trie.py``: one block of 2,000 changed accounts.

    python -m pytest benchmarks/test_bench_trie.py                       # 100k accounts
    HYPERION_BENCH_ACCOUNTS=10000 python -m pytest benchmarks/test_bench_trie.py

Both implementations compute the root of the same block from the same LMDB snapshot
(py-trie on hash-keyed nodes as on ``main``, Hyperion on path-keyed nodes); the roots
are checked equal before timing.  Compare the two rows of the pytest-benchmark table.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_trie  # noqa: E402
from hyperion.state.trie.stateroot import compute_state_root  # noqa: E402

ACCOUNTS = int(os.environ.get("HYPERION_BENCH_ACCOUNTS", "100000"))
CHANGED = int(os.environ.get("HYPERION_BENCH_CHANGED", "2000"))


@pytest.fixture(scope="module")
def state():
    directory = tempfile.mkdtemp(prefix="hyperion-bench-trie-")
    bench = bench_trie.BenchState(ACCOUNTS, directory, log=lambda *a: None)
    try:
        yield bench
    finally:
        bench.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("implementation", ["py-trie", "hyperion"])
def test_state_root_of_a_block(benchmark, state, implementation):
    diff = bench_trie.make_block(state.n, CHANGED, 0, seed=1)
    reader = state.store.reader()
    hash_txn = state.hash_env.begin(buffers=False)
    try:
        expected, _ = bench_trie.pytrie_state_root(state.root, diff, reader.account_record, hash_txn.get)
        if implementation == "py-trie":
            def run():
                return bench_trie.pytrie_state_root(state.root, diff, reader.account_record, hash_txn.get)[0]
        else:
            lookup = reader.trie_lookup()

            def run():
                return compute_state_root(state.root, diff, reader.account_record, lookup).root
        benchmark.extra_info.update(accounts=ACCOUNTS, changed=CHANGED)
        root = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
        assert root == expected
    finally:
        hash_txn.abort()
        reader.close()
