"""``hyperion bench foundation``: Hyperion's sequential engine vs stock py-evm, a preset of the runner.

    hyperion bench foundation [--txs 1000] [--accounts 1000] [--rounds 3] [--workload eth,erc20] [--json PATH]

It is ``hyperion bench run --workload eth,erc20 --txs 1000 --accounts 1000 --baseline
stock,sequential --workers none`` (:mod:`hyperion.tools.bench.runner`), no Block-STM side:
the same signed blocks on stock py-evm (:func:`hyperion.tools.bench.one_block.run_stock`)
and on one warm LMDB engine, ``execute()`` + ``commit()`` timed end to end, the block
reverted untimed, sides alternating per round, state roots compared before any figure.
1,000 wallets send the blocks' transactions, so above 1,000 a wallet sends several per
block.  The report (:func:`format_report`) is the stock-vs-Hyperion ratio end to end and
each side's time split.
"""
from __future__ import annotations

from typing import Callable, Sequence

from hyperion.tools.bench import output, runner

#: transfers of ether and of the demo ERC-20 token, to fresh recipients
WORKLOADS = ("eth", "erc20")
DEFAULT_TXS = 1000
DEFAULT_ACCOUNTS = 1000
DEFAULT_ROUNDS = 3
#: the time split's phases in the order printed (output.SPLIT's labels, then the rest)
SPLIT = tuple(label for label, _keys in output.SPLIT if label != "validate") + ("other",)


def measure(txs: int = DEFAULT_TXS, accounts: int = DEFAULT_ACCOUNTS, rounds: int = DEFAULT_ROUNDS,
            workloads: Sequence[str] = WORKLOADS, seed: int = 13,
            progress: Callable[[str], None] = lambda _message: None) -> runner.Run:
    """The preset's run (a :class:`~hyperion.tools.bench.runner.ResultMismatch` if any root differs)."""
    unknown = [name for name in workloads if name not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOADS)}")
    return runner.measure(workloads, txs, blocks=1, workers=(), contentions=(0.0,),
                          baselines=(runner.STOCK, runner.SEQUENTIAL), rounds=rounds, seed=seed, progress=progress,
                          accounts=accounts)


def format_report(data: dict) -> str:
    """Per workload: each side's tx/s and time split (median seconds), and Hyperion's speedup
    over stock end to end (median and range of the per-round ratios)."""
    m = data["machine"]
    lines = [f"Hyperion sequential vs stock py-evm, {data['txs']:,}-tx blocks from {data['accounts']:,} wallets, "
             f"chain id {data['chain_id']}; median of {data['rounds']} rounds, sides alternating, same signed "
             f"block and state root on both; {m['cpu']}, {m['cores']} cores, Python {m['python']}"
             f"{'' if m.get('compiled', True) else ' (pure Python)'}",
             "time = execute() + commit() end to end (stock: decode + recover, apply_transaction per tx, "
             "persist(), transactions and receipts roots)", ""]
    header = f"{'workload':9} {'side':11} {'seconds':>8} {'tx/s':>8}  " + " ".join(f"{p:>14}" for p in SPLIT)
    lines += [header, "-" * len(header)]
    rows = output.summary(data)
    for row in rows:
        split = " ".join(f"{row['split'].get(p, 0.0):>14.3f}" for p in SPLIT)
        lines.append(f"{row['workload']:9} {row['side']:11} {row['seconds']:>8.3f} {row['tx_per_s']:>8,.0f}  {split}")
    lines.append("")
    for row in rows:
        if row["side"] == runner.SEQUENTIAL and "vs_stock" in row:
            ratio, low, high = row["vs_stock"]
            stock = next(r for r in rows if (r["workload"], r["side"]) == (row["workload"], runner.STOCK))
            lines.append(f"{row['workload']}: Hyperion {ratio:.2f}x stock end to end [{low:.2f}-{high:.2f}] "
                         f"({row['tx_per_s']:,.0f} vs {stock['tx_per_s']:,.0f} tx/s)")
    lines.append("phases (median s): decode+recover = decoding and sender recovery; execute = the transactions "
                 "(stock: with the system and request calls); root = state root (stock: persist()); commit = "
                 "Hyperion's LMDB write; other = the rest (Hyperion: system and request calls, receipts, roots "
                 "and header; stock: transactions and receipts roots)")
    return "\n".join(lines)

