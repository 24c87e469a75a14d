"""Shared setup of the pytest-benchmark suites: one genesis and one signed batch per kind.

    pytest benchmarks/                      # all suites (pytest-benchmark prints the table)
    pytest benchmarks/ -k transfer --benchmark-columns=min,median,max
"""
from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from hyperion.tools import workloads
from hyperion.tools.bench import foundation as F
from hyperion.chain import ChainConfig
from hyperion.genesis import merge_allocs, system_contracts_alloc
from hyperion.tools.reference import build_stock_vm

COUNT = 1000


class Setup:
    def __init__(self):
        self.config = ChainConfig()
        self.alloc = workloads.genesis_alloc(F.ACCOUNTS)
        self.stock_alloc = merge_allocs(system_contracts_alloc(), self.alloc)
        self.genesis_dir = F.hyperion_genesis(self.alloc, self.config)
        env = F.block_env(1)
        _vm, header = build_stock_vm(self.config.fork_at(1, env.timestamp), self.config.chain_id, self.stock_alloc,
                                     env, genesis_timestamp=F.GENESIS_TIME)
        self.env = replace(env, parent_hash=header.parent_hash, block_hashes={0: header.parent_hash})
        self.batches = {kind: F.make_batch(kind, COUNT) for kind in ("transfer", "erc20")}
        self._roots = {}

    def stock_root(self, kind):
        """The state root stock py-evm reaches (every Hyperion run must reach it too)."""
        if kind not in self._roots:
            self._roots[kind] = F.run_stock(self.stock_alloc, self.config, self.env, self.batches[kind]).state_root
        return self._roots[kind]


@pytest.fixture(scope="session")
def setup():
    s = Setup()
    yield s
    shutil.rmtree(s.genesis_dir, ignore_errors=True)


def record(benchmark, timing):
    """Attach the phase breakdown to the benchmark's JSON (``--benchmark-json``)."""
    benchmark.extra_info.update({p: getattr(timing, p) for p in F.PHASES})
    benchmark.extra_info["end_to_end"] = timing.end_to_end
