"""``hyperion bench``: the benchmarks, one subcommand each (docs/benchmarks.md).

A module listed in :data:`BENCH_MODULES` that defines a click command named ``command``
becomes one more subcommand (or use ``@bench.command()`` here).
"""
from __future__ import annotations

import importlib
import json
import sys

import click
from rich.console import Console

from hyperion.commands import display
from hyperion.commands.options import quiet_option

#: modules that each define ``command``, a click command added to the ``bench`` group
BENCH_MODULES: tuple = ()


@click.group("bench")
def bench() -> None:
    """Measure Hyperion against stock py-evm (each subcommand runs in this process, side by side)."""


@bench.command("foundation")
@click.option("--txs", "count", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Transactions per batch.")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Runs per side; the table shows medians.")
@click.option("--batch", "kinds", multiple=True, type=click.Choice(["transfer", "erc20"]),
              help="Batches to run (default: both).")
@click.option("--twins/--no-twins", default=True, show_default=True,
              help="Also run Hyperion with each FlatAccountDB twin (compiled and pure Python).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the figures to this JSON file.")
@quiet_option
def foundation(count: int, repeats: int, kinds, twins: bool, json_path, quiet: bool) -> None:
    """Hyperion's sequential engine vs stock py-evm on 1,000 transfers and 1,000 ERC-20 calls.

    Same signed batch and genesis on every side, fresh state per run, identical state roots
    asserted.  Phases: decode (+ sender recovery), execute, state root, summary (receipts and
    roots), commit (LMDB).  On a terminal a progress line shows each run; otherwise each run
    is one line on stderr (none with --quiet).
    """
    from hyperion.tools.bench.foundation import PHASES, foundation as run, format_report

    console = Console()
    show = display.show_progress(console, quiet)
    with display.progress(console, show, "bench foundation", total_known=False) as bar:
        task = bar.add_task("warming up", total=None)
        if show:
            progress = lambda message: bar.update(task, description=message)  # noqa: E731
        elif quiet:
            progress = lambda _m: None  # noqa: E731
        else:
            progress = lambda message: click.echo(message, err=True)  # noqa: E731
        report = run(count=count, repeats=repeats, kinds=kinds or ("transfer", "erc20"), twins=twins,
                     progress=progress)
    click.echo(format_report(report))
    if json_path:
        data = {
            kind: {side: {**{p: getattr(t, p) for p in PHASES}, "end_to_end": t.end_to_end,
                          "state_root": t.state_root.hex()} for side, t in rows.items()}
            for kind, rows in report.rows.items()
        }
        with open(json_path, "w") as handle:
            json.dump({"txs": count, "repeats": repeats, "python": sys.version.split()[0], "results": data},
                      handle, indent=1)


@bench.command("parallel")
@click.option("--txs", default=2000, show_default=True, type=click.IntRange(16, 100_000), help="Transactions per block.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 256), help="Block-STM worker processes.")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(1, 100),
              help="Measured blocks per workload (after one warm-up block).")
@click.option("--workload", default="all", show_default=True, type=click.Choice(["all", "erc20", "eth", "hot"]))
@quiet_option
def parallel(txs: int, workers: int, rounds: int, workload: str, quiet: bool) -> None:
    """Block-STM vs the sequential scheduler on the same signed blocks (LMDB).

    Workloads: independent ERC-20 transfers, independent ETH transfers, ERC-20 transfers that
    all credit one holder (one hot storage slot).  Identical results are asserted.  Prints a
    line per measured round (none with --quiet), then the table.
    """
    from hyperion.tools.bench.parallel import measure, print_table

    console = Console()
    names = ["erc20", "eth", "hot"] if workload == "all" else [workload]
    results = []
    with display.progress(console, display.show_progress(console, quiet), "bench parallel") as bar:
        task = bar.add_task("", total=len(names))
        for name in names:
            bar.update(task, description=f"{name}: {rounds + 1} blocks of {txs:,} on each side")
            results.append(measure(name, txs, workers, rounds, verbose=not quiet))
            bar.update(task, advance=1)
    print_table(results, workers)


for _name in BENCH_MODULES:
    bench.add_command(importlib.import_module(_name).command)

#: what hyperion.cli registers
command = bench
