"""``hyperion t8n`` as a user runs it: process CPU time (user + sys, start-up included) on
an empty Prague block and on a 5,000-transaction ERC-20 block, in two source trees, side by
side in one run.

    python benchmarks/bench_t8n_cli.py BASELINE_TREE [THIS_TREE] [--rounds 11] [--txs 5000]

e.g. a ``git worktree`` of the commit before a change as BASELINE_TREE (with its extensions
built).  Each round runs each tree once per input in a fresh process, alternating which goes
first; prints each side's median and the median of the per-round ratios THIS / BASELINE
with their range (docs/design.md §12, §19).  Bytecode caches are allowed (``.pyc`` files
are written on the first run of each tree, which is not counted), as an installed copy has
them.  The inputs: the four system contracts and one funded account (empty block); the
same plus ``workloads.genesis_alloc(1000)`` and signed token transfers, as t8n JSON
(``v``/``r``/``s``), for the ERC-20 block.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile

ENV = {"currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba", "currentGasLimit": hex(1_000_000_000),
       "currentNumber": "0x1", "currentTimestamp": "0x3e8", "currentRandom": "0x" + "00" * 32,
       "currentBaseFee": "0x7", "currentExcessBlobGas": "0x0", "parentBeaconBlockRoot": "0x" + "00" * 32,
       "withdrawals": [], "blockHashes": {}}


def write_inputs(directory: str, txs: int) -> None:
    from hyperion.evm import txdecode
    from hyperion.genesis import system_contracts_alloc
    from hyperion.tools import workloads

    empty = dict(system_contracts_alloc())
    empty["0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b"] = {"balance": hex(10**21)}
    token = dict(system_contracts_alloc(), **workloads.genesis_alloc(1000))
    signed = []
    for raw in workloads.erc20_batch(txs, 1000, {}, chain_id=1):
        tx = txdecode.decode(raw)
        signed.append({"type": "0x2", "chainId": hex(tx.chain_id), "nonce": hex(tx.nonce),
                       "maxPriorityFeePerGas": hex(tx.max_priority_fee_per_gas), "maxFeePerGas": hex(tx.max_fee_per_gas),
                       "gas": hex(tx.gas), "to": "0x" + tx.to.hex(), "value": hex(tx.value), "input": "0x" + tx.data.hex(),
                       "accessList": [], "v": hex(tx.y_parity), "r": hex(tx.r), "s": hex(tx.s)})
    for name, value in (("env.json", ENV), ("empty-alloc.json", empty), ("empty-txs.json", []),
                        ("erc20-alloc.json", token), ("erc20-txs.json", signed)):
        with open(os.path.join(directory, name), "w") as handle:
            json.dump(value, handle)


def run(tree: str, directory: str, block: str) -> float:
    """Process CPU seconds of one ``hyperion t8n`` run of ``tree`` on ``block``'s inputs."""
    env = dict(os.environ, PYTHONPATH=tree)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "from hyperion.cli import main; main()", "t8n",
                    "--input.alloc", f"{block}-alloc.json", "--input.env", "env.json", "--input.txs", f"{block}-txs.json",
                    "--output.basedir", os.path.join(directory, f"out-{abs(hash(tree))}")],
                   cwd=directory, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline")
    parser.add_argument("tree", nargs="?", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--txs", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        write_inputs(directory, args.txs)
        trees = {"baseline": args.baseline, "this": args.tree}
        for block in ("empty", "erc20"):
            outputs = []
            for tree in trees.values():
                run(tree, directory, block)  # writes the bytecode caches; checks the tree runs
                out = os.path.join(directory, f"out-{abs(hash(tree))}")
                outputs.append([open(os.path.join(out, name), "rb").read() for name in ("result.json", "alloc.json")])
            if outputs[0] != outputs[1]:
                sys.exit(f"{block}: the two trees' outputs differ")
            times = {name: [] for name in trees}
            for round_ in range(args.rounds):
                order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
                for name, tree in order:
                    times[name].append(run(tree, directory, block))
            ratios = [this / base for this, base in zip(times["this"], times["baseline"])]
            print(f"{block:6s} block: baseline {statistics.median(times['baseline']):.3f} s, "
                  f"this {statistics.median(times['this']):.3f} s CPU; this/baseline {statistics.median(ratios):.2f} "
                  f"(range {min(ratios):.2f}-{max(ratios):.2f}, {args.rounds} rounds; outputs identical)")


if __name__ == "__main__":
    main()
