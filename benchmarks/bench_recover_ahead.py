"""Block-STM with senders recovered ahead (the coordinator's helper) vs recovered in place by
the workers, side by side in one run (docs/design.md §15, "recovered ahead").

    python benchmarks/bench_recover_ahead.py [--txs 5000] [--rounds 5] [--workers 1,2] [--workload eth,erc20,mixed]

The blocks, engines and timing are those of ``hyperion bench parallel`` (its block factory
and round: signed blocks on LMDB, ``execute()`` end to end, sides in an order that rotates
from round to round, results compared before any figure); the sides are the sequential
engine and, per worker count, Block-STM with ``recover_ahead`` on and off.  Printed per
workload and worker count: the per-round ratio (time in place / time ahead, > 1: recovering
ahead is faster), median [range], and the senders the workers recovered themselves and
took from the helper (``worker_recovered``, ``worker_recovered_ahead``).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

from hyperion import ChainConfig, Engine
from hyperion.tools.bench import parallel as bench


def side(workers: int, ahead: bool) -> str:
    return f"blockstm-{workers}-{'ahead' if ahead else 'in-place'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=bench.DEFAULT_TXS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--workload", default="eth,erc20,mixed")
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",")]
    workloads = args.workload.split(",")
    accounts = max(args.txs, bench.DEFAULT_ACCOUNTS)
    factory = bench.BlockFactory(args.txs, accounts, bench.DEFAULT_ZIPF, seed=13)
    run = bench.Run(txs=args.txs, accounts=accounts, rounds=args.rounds, workers=workers, zipf=bench.DEFAULT_ZIPF,
                    seed=13, samples={name: {} for name in workloads})
    config = ChainConfig(chain_id=bench.CHAIN_ID)
    alloc = factory.genesis()
    with tempfile.TemporaryDirectory(prefix="hyperion-bench-") as tmp:
        engines = {bench.SEQUENTIAL: Engine.open(f"{tmp}/{bench.SEQUENTIAL}", chain_config=config)}
        try:
            for n in workers:
                for ahead in (True, False):
                    engines[side(n, ahead)] = Engine.open(
                        f"{tmp}/{side(n, ahead)}", chain_config=config, scheduler="blockstm", workers=n,
                        scheduler_options={"recover_ahead": ahead})
            for engine in engines.values():
                engine.init_genesis(alloc)
                engine.warm_up()
            for round_ in range(args.rounds + 1):  # round 0: the warm-up block
                for workload in workloads:
                    bench._round(run, engines, factory, workload, round_)
        finally:
            for engine in engines.values():
                engine.close()
    print(f"{args.txs:,}-tx blocks, {args.rounds} rounds; ratio: time in place / time ahead per round")
    for workload, samples in run.samples.items():
        for n in workers:
            ahead, in_place = samples[side(n, True)], samples[side(n, False)]
            ratios = sorted(b.seconds / a.seconds for a, b in zip(ahead, in_place))

            def median(rows, key):
                return statistics.median(float(row.stats.get(key) or 0) for row in rows)
            print(f"{workload:6} W={n}: {statistics.median(ratios):.2f}x [{ratios[0]:.2f}-{ratios[-1]:.2f}]  "
                  f"recovered by the workers {median(in_place, 'worker_recovered'):.0f} in place -> "
                  f"{median(ahead, 'worker_recovered'):.0f} ahead "
                  f"(took {median(ahead, 'worker_recovered_ahead'):.0f} from the helper)")


if __name__ == "__main__":
    main()
