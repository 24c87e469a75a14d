"""Block-STM vs Hyperion's own sequential mode, side by side in one run (issue 4).

    python benchmarks/bench_parallel.py [--txs 2000] [--workers 2] [--rounds 3] [--workload all]

Both engines run on LMDB over the same genesis and execute the *same signed batch*; senders
are recovered from signatures on both sides (DECISIONS 10).  Workloads:

- ``erc20``: independent ERC-20 transfers (distinct senders and receivers)
- ``eth``: independent ETH transfers
- ``hot``: ERC-20 transfers that all credit one holder (one hot storage slot)

For each, the execution phase (scheduler run) and end to end (execute + state root +
LMDB commit) are timed per round; the table shows medians and the ratios
(sequential / parallel; > 1 means Blocks-STM is faster) with aborts and incarnations.
Targets (2 cores, 2 workers): erc20 >= 1.7x, eth >= 1.4x, hot >= 0.9x (execution phase).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Dict, List

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion import workloads as w

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
                for name, engine in (("seq", sequential), ("par", parallel)):
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

    last = rows[-1]["stats"]
    return {
        "workload": workload,
        "txs": txs,
        "seq_exec": median("seq_exec"),
        "par_exec": median("par_exec"),
        "seq_e2e": median("seq_e2e"),
        "par_e2e": median("par_e2e"),
        "exec_ratio": median("seq_exec") / median("par_exec"),
        "e2e_ratio": median("seq_e2e") / median("par_e2e"),
        "incarnations": last.incarnations,
        "aborts": last.aborts,
        "dependency_waits": last.dependency_waits,
        "fallback": last.fallback,
    }


def print_table(results: List[dict], workers: int) -> None:
    print(f"\nBlock-STM ({workers} workers) vs sequential, medians, same signed batches, senders recovered on both sides")
    header = (f"{'workload':8} {'txs':>6} {'seq exec':>9} {'par exec':>9} {'ratio':>6} {'target':>6} "
              f"{'seq e2e':>8} {'par e2e':>8} {'ratio':>6} {'incarn.':>8} {'aborts':>7} {'deps':>6}  fallback")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['workload']:8} {r['txs']:>6} {r['seq_exec']:>8.3f}s {r['par_exec']:>8.3f}s {r['exec_ratio']:>5.2f}x "
              f"{TARGETS.get(r['workload'], 0):>5.1f}x {r['seq_e2e']:>7.3f}s {r['par_e2e']:>7.3f}s {r['e2e_ratio']:>5.2f}x "
              f"{r['incarnations']:>8} {r['aborts']:>7} {r['dependency_waits']:>6}  {r['fallback'] or '-'}")


def main(argv=None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workload", choices=["all", "erc20", "eth", "hot"], default="all")
    args = parser.parse_args(argv)
    workloads = ["erc20", "eth", "hot"] if args.workload == "all" else [args.workload]
    results = [measure(name, args.txs, args.workers, args.rounds) for name in workloads]
    print_table(results, args.workers)
    return results


if __name__ == "__main__":
    main()
