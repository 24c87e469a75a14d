"""Block-STM vs the sequential scheduler (issue 13), a preset of the runner; the code lives in
:mod:`hyperion.tools.bench.parallel`, and this script is ``hyperion bench parallel``.

    python benchmarks/bench_parallel.py [--txs 5000] [--workers 1,2] [--rounds 5] [--workload all]
"""
from hyperion.commands.bench import parallel

if __name__ == "__main__":
    parallel(prog_name="bench_parallel.py")
