"""pytest-benchmark form of ``bench_flatdb_twins.py``: the compiled ``FlatAccountDB`` and its
pure-Python twin, inside the engine and alone (the batch's recorded calls replayed).

    python -m pytest benchmarks/test_bench_flatdb_twins.py --benchmark-only
"""
import pytest

from benchmarks.bench_flatdb_twins import Batch, flatdb_twins, replay_flatdb_calls

COUNT = 1000
KINDS = ["transfer", "erc20"]
TWINS = flatdb_twins()
pytestmark = pytest.mark.skipif("compiled" not in TWINS, reason="needs the compiled _flatdb")


@pytest.fixture(scope="module", params=KINDS)
def batch(request):
    """One batch, its reference root (the pure twin's) and its recorded calls."""
    b = Batch(request.param, COUNT)
    b.root = b.run(TWINS["python"]).state_root
    b.events = b.record()
    yield b
    b.close()


@pytest.mark.parametrize("twin", ["compiled", "python"])
def test_engine_with_twin(benchmark, batch, twin):
    timing = benchmark.pedantic(batch.run, args=(TWINS[twin],), rounds=3, iterations=1)
    benchmark.extra_info.update({"execute": timing.execute, "end_to_end": timing.end_to_end})
    assert timing.state_root == batch.root and timing.included == COUNT


@pytest.mark.parametrize("twin", ["compiled", "python"])
def test_flatdb_alone_replaying_the_batch(benchmark, batch, twin):
    """The FlatAccountDB calls of executing the batch, replayed on one twin (flatdb + its reader)."""
    replay_flatdb_calls(batch.events, batch.genesis_dir, TWINS[twin], verify=True)
    benchmark.pedantic(replay_flatdb_calls, args=(batch.events, batch.genesis_dir, TWINS[twin]), rounds=5,
                       iterations=1)
