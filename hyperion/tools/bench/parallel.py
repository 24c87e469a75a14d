"""Block-STM vs Hyperion's own sequential mode, side by side in one run (issue 4).

    hyperion bench parallel [--txs 2000] [--workers 2] [--rounds 5] [--workload all]
    python benchmarks/bench_parallel.py (the same options)

Both engines run on LMDB over the same genesis and execute the *same signed batch*; senders
are recovered from signatures on both sides (docs/design.md §12).  Workloads:

- ``erc20``: independent ERC-20 transfers (distinct senders and receivers)
- ``eth``: independent ETH transfers
- ``hot``: ERC-20 transfers that all credit one holder (one hot storage slot)

For each, the execution phase (scheduler run) and end to end (execute + state root +
LMDB commit) are timed per round, the two sides in alternating order; the table shows
median times and the median of the per-round ratios (sequential / parallel; > 1 means
Block-STM is faster) with their range, aborts and incarnations.
Targets (2 cores, 2 workers): erc20 >= 1.7x, eth >= 1.4x, hot >= 0.9x (execution phase).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Dict, List

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads as w

TARGETS = {"erc20": 1.7, "eth": 1.4, "hot": 0.9}


def make_batch(workload: str, txs: int, accounts: int, nonces: Dict[int, int], offset: int, chain_id: int):
    if workload == "eth":
        return w.transfer_batch(txs, accounts, nonces, chain_id=chain_id, offset=offset)
    return w.erc20_batch(txs, accounts, nonces, chain_id=chain_id, offset=offset, conflict=(workload == "hot"))


def measure(workload: str, txs: int, workers: int, rounds: int, verbose: bool = True) -> dict:
    config = ChainConfig()
    accounts = txs * (rounds + 1)
    alloc = w.genesis_alloc(accounts)
    with tempfile.TemporaryDirectory() as tmp:
        sequential = Engine.open(f"{tmp}/seq", chain_config=config)
        parallel = Engine.open(f"{tmp}/par", chain_config=config, scheduler="blockstm", workers=workers)
        try:
            sequential.init_genesis(alloc)
            parallel.init_genesis(alloc)
            parallel.warm_up()
            nonces: Dict[int, int] = {}
            rows: List[dict] = []
            for round_ in range(rounds + 1):  # round 0 warms caches and is not reported
                batch = make_batch(workload, txs, accounts, nonces, round_ * txs, config.chain_id)
                number = sequential.head.number + 1
                env = BlockEnv(number=number, timestamp=1_700_000_000 + 12 * number, coinbase=b"\xc0" * 20,
                               base_fee=w.GWEI, gas_limit=10**10, parent_beacon_block_root=b"\x01" * 32)
                row = {}
                # alternate which side runs first: this VM's speed drifts by tens of percent
                # within seconds, and a fixed order would hand the drift to one side
                order = [("seq", sequential), ("par", parallel)]
                for name, engine in (order if round_ % 2 else order[::-1]):
                    started = time.perf_counter()
                    result = engine.execute(env, batch)
                    engine.commit(result)
                    row[name + "_e2e"] = time.perf_counter() - started
                    row[name + "_exec"] = result.stats.execution_seconds
                    row[name + "_root"] = result.stats.root_seconds
                    row[name + "_result"] = result
                seq, par = row["seq_result"], row["par_result"]
                if seq.state_root != par.state_root or seq.tx_results != par.tx_results:
                    raise AssertionError(f"{workload}: parallel result differs from sequential")
                row["stats"] = par.stats
                if round_:
                    rows.append(row)
                if verbose and round_:
                    stats = par.stats
                    print(f"  {workload} round {round_}: seq exec {row['seq_exec']:.3f}s par exec {row['par_exec']:.3f}s "
                          f"(x{row['seq_exec'] / row['par_exec']:.2f}); e2e {row['seq_e2e']:.3f}s vs "
                          f"{row['par_e2e']:.3f}s (x{row['seq_e2e'] / row['par_e2e']:.2f}); incarnations "
                          f"{stats.incarnations}, aborts {stats.aborts}, dependency waits "
                          f"{stats.dependency_waits}, fallback {stats.fallback}", flush=True)
        finally:
            parallel.close()
            sequential.close()

    def median(key):
        return statistics.median(r[key] for r in rows)

    def ratios(phase):
        """Per-round ratios (each round's two runs are seconds apart, so the machine's drift
        mostly cancels within a pair): median, min, max."""
        values = sorted(r[f"seq_{phase}"] / r[f"par_{phase}"] for r in rows)
        return statistics.median(values), values[0], values[-1]

    last = rows[-1]["stats"]
    exec_ratio, exec_min, exec_max = ratios("exec")
    e2e_ratio, e2e_min, e2e_max = ratios("e2e")
    return {
        "workload": workload,
        "txs": txs,
        "seq_exec": median("seq_exec"),
        "par_exec": median("par_exec"),
        "seq_e2e": median("seq_e2e"),
        "par_e2e": median("par_e2e"),
        "exec_ratio": exec_ratio,
        "exec_range": (exec_min, exec_max),
        "e2e_ratio": e2e_ratio,
        "e2e_range": (e2e_min, e2e_max),
        "incarnations": last.incarnations,
        "aborts": last.aborts,
        "dependency_waits": last.dependency_waits,
        "fallback": last.fallback,
    }


def print_table(results: List[dict], workers: int) -> None:
    print(f"\nBlock-STM ({workers} workers) vs sequential, same signed batches, senders recovered on both sides;"
          f"\ntimes: medians; ratios (sequential / parallel): median of the per-round ratios [min-max]")
    header = (f"{'workload':8} {'txs':>6} {'seq exec':>9} {'par exec':>9} {'exec ratio':>18} {'target':>6} "
              f"{'seq e2e':>8} {'par e2e':>8} {'e2e ratio':>18} {'incarn.':>8} {'aborts':>7} {'deps':>6}  fallback")
    print(header)
    print("-" * len(header))
    for r in results:
        exec_ratio = f"{r['exec_ratio']:.2f}x [{r['exec_range'][0]:.2f}-{r['exec_range'][1]:.2f}]"
        e2e_ratio = f"{r['e2e_ratio']:.2f}x [{r['e2e_range'][0]:.2f}-{r['e2e_range'][1]:.2f}]"
        print(f"{r['workload']:8} {r['txs']:>6} {r['seq_exec']:>8.3f}s {r['par_exec']:>8.3f}s {exec_ratio:>18} "
              f"{TARGETS.get(r['workload'], 0):>5.1f}x {r['seq_e2e']:>7.3f}s {r['par_e2e']:>7.3f}s {e2e_ratio:>18} "
              f"{r['incarnations']:>8} {r['aborts']:>7} {r['dependency_waits']:>6}  {r['fallback'] or '-'}")


def main(argv=None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workload", choices=["all", "erc20", "eth", "hot"], default="all")
    args = parser.parse_args(argv)
    workloads = ["erc20", "eth", "hot"] if args.workload == "all" else [args.workload]
    results = [measure(name, args.txs, args.workers, args.rounds) for name in workloads]
    print_table(results, args.workers)
    return results


if __name__ == "__main__":
    main()
