"""The state-root benchmark runs (tiny sizes) and both sides agree on every root."""
import os
import sys

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def test_bench_trie_runs(capsys):
    sys.path.insert(0, BENCHMARKS)
    try:
        import bench_trie
    finally:
        sys.path.remove(BENCHMARKS)
    assert bench_trie.main(["--sizes", "1500", "--changed", "100", "--slots", "60", "--repeat", "2",
                            "--contract-slots", "30"]) == 0
    out = capsys.readouterr().out
    assert "accounts+storage" in out and "speedup" in out



def test_bench_flatdb_twins_replays_identically_on_both_twins(capsys):
    """The replay check (every answer and write set) runs inside; a tiny batch, not a measurement."""
    sys.path.insert(0, BENCHMARKS)
    try:
        import bench_flatdb_twins
    finally:
        sys.path.remove(BENCHMARKS)
    status = bench_flatdb_twins.main(["--txs", "12", "--rounds", "1", "--batch", "erc20"])
    if "compiled" not in bench_flatdb_twins.flatdb_twins():
        assert status == 1 and "not built" in capsys.readouterr().err
        return
    out = capsys.readouterr().out
    assert status == 0 and "erc20, 12 txs: inside the engine" in out and "recorded calls replayed" in out
