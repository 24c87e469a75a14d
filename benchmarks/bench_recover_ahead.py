"""Block-STM with senders recovered ahead (the coordinator's helper) vs recovered in place by
the workers, side by side in one run (docs/design.md §15, "recovered ahead").

    python benchmarks/bench_recover_ahead.py [--txs 5000] [--rounds 5] [--workers 1,2] [--workload eth,erc20,mixed]

The blocks, engines and timing are those of ``hyperion bench parallel`` (the runner's chained
run: signed blocks on LMDB, each on the last one's state, ``execute()`` end to end, sides in
an order that rotates from round to round, results compared before any figure); the sides
are the sequential engine and, per worker count, Block-STM with ``recover_ahead`` on and off.
Printed per workload and worker count: the per-round ratio (time in place / time ahead, > 1:
recovering ahead is faster), median [range], and the senders the workers recovered themselves
and took from the helper (``worker_recovered``, ``worker_recovered_ahead``).
"""
from __future__ import annotations

import argparse
import statistics

from hyperion.tools.bench import parallel, runner


def side(workers: int, ahead: bool) -> str:
    return f"blockstm-{workers}-{'ahead' if ahead else 'in-place'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=parallel.DEFAULT_TXS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--workload", default="eth,erc20,mixed")
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",")]
    sides = {side(n, ahead): {"workers": n, "scheduler_options": {"recover_ahead": ahead}}
             for n in workers for ahead in (True, False)}
    run = runner.measure(args.workload.split(","), args.txs, workers=workers, baselines=(runner.SEQUENTIAL,),
                         rounds=args.rounds, chain=True, blockstm_sides=sides)
    print(f"{args.txs:,}-tx blocks, {args.rounds} rounds; ratio: time in place / time ahead per round")
    for config in run.configs:
        for n in workers:
            ahead, in_place = config.samples[side(n, True)], config.samples[side(n, False)]
            ratios = sorted(b.seconds / a.seconds for a, b in zip(ahead, in_place))

            def median(rows, key):
                return statistics.median(float(row.stats.get(key) or 0) for row in rows)
            print(f"{config.workload:6} W={n}: {statistics.median(ratios):.2f}x [{ratios[0]:.2f}-{ratios[-1]:.2f}]  "
                  f"recovered by the workers {median(in_place, 'worker_recovered'):.0f} in place -> "
                  f"{median(ahead, 'worker_recovered'):.0f} ahead "
                  f"(took {median(ahead, 'worker_recovered_ahead'):.0f} from the helper)")


if __name__ == "__main__":
    main()
