"""A contract test session through web3.py: HyperionBackend versus eth-tester's stock
py-evm backend, side by side in one run.

    python benchmarks/bench_web3.py [--txs 100] [--rounds 5]

One session, as a contract test suite runs it through ``EthereumTesterProvider`` (automine
on): start a fresh backend (genesis), deploy the ERC-20 token, then ``--txs`` token
transfers (each ``transact`` with web3's own gas estimate and a receipt wait), a
``balanceOf`` call after every transfer, and a snapshot / one transfer / revert every ten
transfers.  Both backends run the identical session; the rounds alternate which one runs
first, so load from other processes hits both alike, and the figure is the median of the
per-round ratios with their range (docs/design.md §12).  Both must end with the same
token balances.  Senders are the backends' own accounts, signed inside each backend.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, List

from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from hyperion.ecosystem import HyperionBackend
from hyperion.tools.workloads import contract_artifact

TOKEN = contract_artifact("Token")


def session(make_backend: Callable[[], object], txs: int) -> List[int]:
    """Run one session; returns the final balances of the first five accounts."""
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend=make_backend())))
    accounts = w3.eth.accounts[:5]
    Token = w3.eth.contract(abi=TOKEN["abi"], bytecode=TOKEN["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(Token.constructor(10**24).transact({"from": accounts[0]}))
    token = w3.eth.contract(address=receipt["contractAddress"], abi=TOKEN["abi"])
    tester = w3.provider.ethereum_tester
    for i in range(txs):
        receiver = accounts[1 + i % 4]
        tx_hash = token.functions.transfer(receiver, 1000 + i).transact({"from": accounts[0]})
        w3.eth.wait_for_transaction_receipt(tx_hash)
        token.functions.balanceOf(receiver).call()
        if i % 10 == 9:
            snapshot = tester.take_snapshot()
            token.functions.transfer(receiver, 1).transact({"from": accounts[0]})
            tester.revert_to_snapshot(snapshot)
    return [token.functions.balanceOf(a).call() for a in accounts]


def main(argv=None) -> Dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="Skip the untimed first session on each side (imports, state classes).")
    args = parser.parse_args(argv)
    sides = {"hyperion": HyperionBackend, "py-evm": PyEVMBackend}
    if args.warm_up:
        for make_backend in sides.values():
            session(make_backend, 2)
    times: Dict[str, List[float]] = {name: [] for name in sides}
    for round_number in range(args.rounds):
        order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
        balances = {}
        for name in order:
            started = time.perf_counter()
            balances[name] = session(sides[name], args.txs)
            times[name].append(time.perf_counter() - started)
        if balances["hyperion"] != balances["py-evm"]:
            raise SystemExit(f"the backends disagree: {balances}")
    ratios = [p / h for h, p in zip(times["hyperion"], times["py-evm"])]
    for name in sides:
        print(f"{name:9s} median {statistics.median(times[name]):7.2f} s per session "
              f"({args.txs} transfers + calls + {args.txs // 10} snapshots)")
    print(f"py-evm / hyperion: median {statistics.median(ratios):.2f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {args.rounds} rounds)")
    return {"median_ratio": statistics.median(ratios)}


if __name__ == "__main__":
    main()
