"""Does tracing cost untraced execution anything?  CPU time of ``Engine.simulate`` on a
1,000-transaction block (500 transfers, 500 ERC-20 transfers) in two source trees, side by
side in one run.

    python benchmarks/bench_tracing_off.py BASELINE_TREE [THIS_TREE] [--rounds 8] [--runs 5]

e.g. a ``git worktree`` of the commit before tracing as BASELINE_TREE (with its extensions
built).  Each round runs each tree in a fresh process (``--runs`` simulations after one
warm-up, median of their CPU times), alternating which goes first; prints the median of
the per-round ratios THIS / BASELINE with their range (docs/design.md §12).  CPU time, not
wall time: on a shared machine it drifts less.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def child(runs: int) -> None:
    from hyperion import BlockEnv, ChainConfig, Engine
    from hyperion.tools import workloads

    engine = Engine.in_memory(chain_config=ChainConfig())
    engine.init_genesis(workloads.genesis_alloc(1000), chain_config=ChainConfig())
    nonces: dict = {}
    txs = workloads.transfer_batch(500, 1000, nonces) + workloads.erc20_batch(500, 1000, nonces, offset=500)
    env = BlockEnv(number=1, timestamp=12, base_fee=10**9, gas_limit=100_000_000, parent_beacon_block_root=bytes(32))
    engine.simulate(env, txs)  # warm-up
    for _ in range(runs):
        started = time.process_time()
        result = engine.simulate(env, txs)
        print(time.process_time() - started, flush=True)
    assert all(r.included for r in result.tx_results)


def run(tree: str, runs: int) -> float:
    env = dict(os.environ, PYTHONPATH=tree, HYPERION_REQUIRE_COMPILED="1")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(runs)], env=env,
                         capture_output=True, text=True, check=True, cwd=tree).stdout
    return statistics.median(float(x) for x in out.split())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline")
    parser.add_argument("tree", nargs="?", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    ratios = []
    for i in range(args.rounds):
        order = [args.baseline, args.tree] if i % 2 == 0 else [args.tree, args.baseline]
        seconds = {tree: run(tree, args.runs) for tree in order}
        ratios.append(seconds[args.tree] / seconds[args.baseline])
        print(f"round {i}: baseline {seconds[args.baseline]:.3f}s  this {seconds[args.tree]:.3f}s  "
              f"ratio {ratios[-1]:.3f}", flush=True)
    print(f"this / baseline: median {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
    else:
        main()
