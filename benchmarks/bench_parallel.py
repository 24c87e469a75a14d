"""Block-STM vs Hyperion's own sequential mode (issue 4); the code lives in
:mod:`hyperion.tools.bench.parallel` so that ``hyperion bench parallel`` runs it too.

    python benchmarks/bench_parallel.py [--txs 2000] [--workers 2] [--rounds 5] [--workload all]
"""
from hyperion.tools.bench.parallel import main

if __name__ == "__main__":
    main()
