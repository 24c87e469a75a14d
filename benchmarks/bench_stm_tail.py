"""Block-STM's serial tail vs its parallel phase, on 5,000-transaction blocks (issue 13).

    python benchmarks/bench_stm_tail.py [--txs 5000] [--rounds 5] [--workload eth,erc20]

The blocks are built as issue 13 describes them: ~``txs`` funded wallets plus a token
holding a balance for each, on LMDB, chain id 1, Prague; each block has ``txs`` signed
transactions from distinct senders to random 20-byte recipients (ETH transfers or token
transfers).  A sequential engine and a 2-worker Block-STM engine (warm workers) run the
same blocks in one process, the two sides alternating which goes first; each
``execute`` is timed end to end (decoding, sender recovery, state root inside), then
committed.  Per round it prints the Block-STM phase split from ``stats.extra``
(``parallel_seconds``, ``tail_seconds`` and its parts, docs/blockstm.md), and at the end the
medians and the median of the per-round end-to-end ratios (sequential / Block-STM).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Dict, List

from eth_hash.auto import keccak

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads as w

TAIL_KEYS = ("tail_fold_seconds", "tail_receipts_seconds", "tail_root_seconds", "tail_other_seconds")


def random_recipient(seed: int, i: int) -> bytes:
    return keccak(b"recipient" + seed.to_bytes(8, "big") + i.to_bytes(8, "big"))[:20]


def make_block(workload: str, txs: int, nonces: Dict[int, int], seed: int, chain_id: int) -> List[bytes]:
    out = []
    for i in range(txs):
        sender = w.wallet(i)
        nonce = nonces.get(i, 0)
        nonces[i] = nonce + 1
        to = random_recipient(seed, i)
        if workload == "eth":
            out.append(w.sign_tx(sender, nonce, to, value=1000 + i, chain_id=chain_id))
        else:
            out.append(w.sign_tx(sender, nonce, w.TOKEN_ADDRESS, data=w.erc20_transfer_data(to, 1 + i), gas=80_000,
                                 chain_id=chain_id))
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.0f}"


def run(workloads: List[str], txs: int, rounds: int, workers: int) -> None:
    config = ChainConfig(chain_id=1)
    alloc = w.genesis_alloc(txs)
    with tempfile.TemporaryDirectory() as tmp:
        sequential = Engine.open(f"{tmp}/seq", chain_config=config)
        parallel = Engine.open(f"{tmp}/par", chain_config=config, scheduler="blockstm", workers=workers)
        try:
            sequential.init_genesis(alloc)
            parallel.init_genesis(alloc)
            parallel.warm_up()
            nonces: Dict[int, int] = {}
            rows: Dict[str, List[dict]] = {name: [] for name in workloads}
            for round_ in range(rounds + 1):  # round 0 warms up and is not counted
                for workload in workloads:
                    number = sequential.head.number + 1
                    batch = make_block(workload, txs, nonces, number, config.chain_id)
                    env = BlockEnv(number=number, timestamp=1_700_000_000 + 12 * number, coinbase=b"\xc0" * 20,
                                   base_fee=w.GWEI, gas_limit=10**10, parent_beacon_block_root=b"\x01" * 32)
                    row: dict = {}
                    order = [("seq", sequential), ("par", parallel)]
                    for name, engine in (order if (round_ + number) % 2 else order[::-1]):
                        started = time.perf_counter()
                        result = engine.execute(env, batch)
                        row[name] = time.perf_counter() - started
                        engine.commit(result)
                        row[name + "_result"] = result
                    seq, par = row.pop("seq_result"), row.pop("par_result")
                    if seq.state_root != par.state_root or seq.tx_results != par.tx_results:
                        raise AssertionError(f"{workload}: Block-STM result differs from sequential")
                    extra = par.stats.extra
                    row.update({key: extra.get(key, 0.0) for key in ("parallel_seconds", "tail_seconds", *TAIL_KEYS,
                                                                     "diff_seconds", "overlap_folded_txs")})
                    row["fallback"] = par.stats.fallback
                    print(f"{workload:5} round {round_}: seq {ms(row['seq'])} ms  par {ms(row['par'])} ms "
                          f"(x{row['seq'] / row['par']:.2f})  parallel {ms(row['parallel_seconds'])}  tail "
                          f"{ms(row['tail_seconds'])} = " + " + ".join(
                              f"{key[5:-8]} {ms(row[key]).strip()}" for key in TAIL_KEYS)
                          + f" (diff {ms(row['diff_seconds']).strip()}); folded early {row['overlap_folded_txs']:.0f}"
                          + (f"  fallback: {row['fallback']}" if row["fallback"] else ""), flush=True)
                    if round_:
                        rows[workload].append(row)
        finally:
            parallel.close()
            sequential.close()
    print(f"\n{txs}-tx blocks, {workers} workers, {rounds} rounds, medians (ms); ratio = median of per-round "
          f"sequential / Block-STM end to end")
    for workload, data in rows.items():
        def med(key):
            return statistics.median(r[key] for r in data)
        ratios = sorted(r["seq"] / r["par"] for r in data)
        print(f"{workload:5} seq {ms(med('seq'))}  par {ms(med('par'))}  ratio {statistics.median(ratios):.2f}x "
              f"[{ratios[0]:.2f}-{ratios[-1]:.2f}]  parallel {ms(med('parallel_seconds'))}  tail "
              f"{ms(med('tail_seconds'))} (" + ", ".join(f"{key[5:-8]} {ms(med(key)).strip()}" for key in TAIL_KEYS)
              + ")")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workload", default="eth,erc20")
    args = parser.parse_args(argv)
    run(args.workload.split(","), args.txs, args.rounds, args.workers)


if __name__ == "__main__":
    main()
