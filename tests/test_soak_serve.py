"""A short soak of ``hyperion serve`` (benchmarks/soak_serve.py: 20 blocks instead of 500):
every block executes and commits while readers run, and the server's memory stays bounded."""
from __future__ import annotations

from benchmarks.soak_serve import MIB, soak


def test_short_soak_commits_every_block_with_bounded_memory():
    result = soak(blocks=20, txs=20, readers=1, max_seconds=120, warmup=5)
    assert result.errors == []
    assert result.blocks == 20 and result.transactions == 400 and result.stopped_by == "blocks"
    # the commits were checked against each execution's state root; readers ran meanwhile
    assert len(result.latencies["Commit"]) == 20 and len(result.latencies.get("GetAccount", ())) > 0
    # after the warm-up the server's RSS grows by little (a leak of one block's state
    # diff or result per block would show here)
    assert 0 < result.rss_start and result.rss_end - result.rss_start < 32 * MIB, result.report()
