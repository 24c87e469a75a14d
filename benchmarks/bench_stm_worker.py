"""Block-STM's per-transaction cost on a worker, next to the sequential loop's (issue 13).

    python benchmarks/bench_stm_worker.py [--txs 5000] [--rounds 5] [--workload eth,erc20]
                                          [--workers 1,2] [--profile DIR]

Blocks built the way issue 13 describes: ``--txs`` signed Prague transactions, chain id 1,
distinct senders among as many funded wallets, recipients random 20-byte addresses (a
seeded generator, so every run builds the same bytes), and a token holding a balance for
every wallet, on LMDB.  One engine per scheduler -- sequential, then Block-STM with each
``--workers`` count -- opened through the public API (``Engine.open``, ``warm_up()``), all
in ONE process.  Each round runs the same block on every engine, in a rotated order, timing
``execute(env, txs)`` end to end (decoding, sender recovery and the state root inside);
the result is then discarded, so every round starts from the same head.  Round 0 is the
warm-up block and is not reported.

Printed per workload: median end-to-end (wall) time per engine and the median of the
per-round ratios (sequential / Block-STM, > 1 means Block-STM is faster) with their range;
then the cost per transaction in CPU time, which a busy machine distorts far less than wall
time (a side with more processes also gets more of a shared CPU): the sequential engine's
``execute`` (its process), next to Block-STM's workers alone and workers + coordinator
(``execute`` in this process: shipping the block, the fold, receipts and the root).
The sequential figure includes the block's tail (state root, receipts), which Block-STM's
coordinator does, not its workers: ``workers`` against ``sequential`` flatters the workers
by that tail; ``with coordinator`` against ``sequential`` is like for like.
``--profile DIR`` makes the workers write cProfile dumps there (``HYPERION_WORKER_PROFILE``).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from typing import Dict, List

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads as w

CHAIN_ID = 1


def build_block(workload: str, txs: int, seed: int = 13) -> List[bytes]:
    """``txs`` independent transactions from wallets 0..txs-1 to random fresh addresses."""
    rng = random.Random(seed)
    batch = []
    for i in range(txs):
        receiver = rng.randbytes(20)
        sender = w.wallet(i)
        if workload == "eth":
            batch.append(w.sign_tx(sender, 0, receiver, value=1000 + i, chain_id=CHAIN_ID))
        else:
            batch.append(w.sign_tx(sender, 0, w.TOKEN_ADDRESS, data=w.erc20_transfer_data(receiver, 1 + i),
                                   gas=80_000, chain_id=CHAIN_ID))
    return batch


def measure(workload: str, txs: int, worker_counts: List[int], rounds: int, tmp: str) -> Dict[str, object]:
    config = ChainConfig(chain_id=CHAIN_ID)
    alloc = w.genesis_alloc(txs)
    batch = build_block(workload, txs)
    names = ["seq"] + [f"stm{count}" for count in worker_counts]
    engines = {}
    try:
        for name in names:
            path = os.path.join(tmp, f"{workload}-{name}")
            if name == "seq":
                engines[name] = Engine.open(path, chain_config=config)
            else:
                engines[name] = Engine.open(path, chain_config=config, scheduler="blockstm",
                                            workers=int(name[3:]))
            engines[name].init_genesis(alloc)
            engines[name].warm_up()
        env = BlockEnv(number=1, timestamp=1_700_000_012, coinbase=b"\xc0" * 20, base_fee=w.GWEI,
                       gas_limit=10**10, parent_beacon_block_root=b"\x01" * 32)
        rows = []
        for round_ in range(rounds + 1):
            row = {}
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:  # rotate: the machine's drift hits every side
                engine = engines[name]
                started, cpu_started = time.perf_counter(), time.process_time()
                result = engine.execute(env, batch)
                row[name] = time.perf_counter() - started
                row[name + "_cpu"] = time.process_time() - cpu_started
                stats = result.stats
                row[name + "_workers_cpu"] = stats.extra.get("worker_cpu_seconds", 0.0)
                row[name + "_fallback"] = stats.fallback
                row[name + "_root"] = result.state_root
                engine.discard(result)
            roots = {row[name + "_root"] for name in names}
            if len(roots) != 1:
                raise AssertionError(f"{workload}: state roots differ between schedulers")
            if round_:
                rows.append(row)
            print(f"  {workload} round {round_}: " + ", ".join(f"{name} {row[name]:.3f}s" for name in names),
                  flush=True)
    finally:
        for engine in engines.values():
            engine.close()
    summary = {"workload": workload, "txs": txs, "names": names}
    for name in names:
        summary[name] = statistics.median(r[name] for r in rows)
    def per_tx(key):
        return statistics.median(r[key] for r in rows) / txs * 1e6

    summary["seq_us"] = per_tx("seq_cpu")
    for count in worker_counts:
        name = f"stm{count}"
        ratios = sorted(r["seq"] / r[name] for r in rows)
        summary[name + "_ratio"] = (statistics.median(ratios), ratios[0], ratios[-1])
        summary[name + "_workers_us"] = per_tx(name + "_workers_cpu")
        summary[name + "_coordinator_us"] = per_tx(name + "_cpu")
        summary[name + "_fallback"] = rows[-1][name + "_fallback"]
    return summary


def print_table(results: List[Dict[str, object]]) -> None:
    print("\nend to end: execute(env, txs), wall, medians; ratio = sequential / Block-STM per round, median"
          " [min-max];\nCPU us/tx: sequential execute; Block-STM workers, and workers + coordinator")
    for r in results:
        print(f"{r['workload']:6} {r['txs']} txs: sequential {r['seq']:.3f}s, CPU {r['seq_us']:.0f} us/tx")
        for name in r["names"][1:]:
            ratio, low, high = r[name + "_ratio"]
            workers_us = r[name + "_workers_us"]
            total_us = workers_us + r[name + "_coordinator_us"]
            print(f"        Block-STM {name[3:]} worker(s): {r[name]:.3f}s  ratio {ratio:.2f}x [{low:.2f}-{high:.2f}]"
                  f"  CPU {workers_us:.0f} us/tx workers ({workers_us / r['seq_us']:.2f}x), {total_us:.0f} with"
                  f" coordinator ({total_us / r['seq_us']:.2f}x)  fallback: {r[name + '_fallback'] or '-'}")


def main(argv=None) -> List[Dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workload", default="eth,erc20")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--profile", default=None, help="directory for the workers' cProfile dumps")
    args = parser.parse_args(argv)
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
        os.environ["HYPERION_WORKER_PROFILE"] = os.path.join(os.path.abspath(args.profile), "worker")
    worker_counts = [int(x) for x in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(name, args.txs, worker_counts, args.rounds, tmp) for name in args.workload.split(",")]
    print_table(results)
    return results


if __name__ == "__main__":
    main()
