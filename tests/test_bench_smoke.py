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

