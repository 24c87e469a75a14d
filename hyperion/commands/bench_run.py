"""``hyperion bench run``, ``bench list`` and ``bench compare``: the benchmark runner
(:mod:`hyperion.tools.bench.runner`; docs/benchmarks.md)."""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from typing import Callable, Iterator

import click
from rich.console import Console

from hyperion.commands import display
from hyperion.commands.options import quiet_option
from hyperion.errors import HyperionError


@contextlib.contextmanager
def measuring(console: Console, quiet: bool, label: str) -> Iterator[Callable[[str], None]]:
    """Run a benchmark under a progress display, yielding its ``progress(message)``: a
    transient bar on a terminal, one line per step on stderr when piped, nothing with
    ``--quiet``.  Sides whose results differ end the command with one error line and exit 1:
    no figure of a wrong result is ever printed."""
    from hyperion.tools.bench.runner import ResultMismatch

    show = display.show_progress(console, quiet)
    try:
        with display.progress(console, show, label, total_known=False) as bar:
            task = bar.add_task("starting", total=None)

            def progress(message: str) -> None:
                if show:
                    bar.update(task, description=message)
                elif not quiet:
                    click.echo(message, err=True)

            yield progress
    except ResultMismatch as exc:
        click.echo(f"error: results differ, no figures reported: {exc}", err=True)
        sys.exit(1)


def _list(kind, parse):
    def callback(ctx, param, value: str):
        try:
            items = [parse(part.strip()) for part in value.split(",") if part.strip()]
        except ValueError:
            raise click.BadParameter(f"expected comma-separated {kind}, got {value!r}") from None
        if not items:
            raise click.BadParameter(f"expected one or more {kind}")
        return items
    return callback


def _contention(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _workers(ctx, param, value: str):
    """Worker counts, or ``none`` for no Block-STM side (stock vs sequential only)."""
    if value.strip().lower() == "none":
        return []
    return _list("positive integers", _positive)(ctx, param, value)


@click.command("run")
@click.option("--workload", "workloads", default="all", show_default=True, callback=_list("workload names", str),
              help="Workloads, comma-separated (see `hyperion bench list`), or all of them; t8n:DIR replays a "
                   "t8n input's block.")
@click.option("--txs", default=1000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Transactions per block.")
@click.option("--accounts", default=None, type=click.IntRange(1, 1_000_000),
              help="Wallets sending each block's transactions (default: --txs, one each); fewer wallets "
                   "send several transactions each per block, their nonces advancing.")
@click.option("--blocks", default=1, show_default=True, type=click.IntRange(1, 1000),
              help="Distinct blocks per configuration (each runs on the workload's genesis).")
@click.option("--workers", default="1,2", show_default=True, callback=_workers,
              help="Block-STM worker counts, one engine each; none: no Block-STM side.")
@click.option("--contention", "contentions", default="0", show_default=True,
              callback=_list("numbers between 0 and 1", _contention),
              help="Contention levels, comma-separated (meaning per workload: `hyperion bench list`).")
@click.option("--baseline", "baselines", default="stock,sequential", show_default=True,
              callback=_list("baselines", str), help="Baselines: stock (py-evm), sequential (Hyperion's).")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Measured rounds (after one warm-up block).")
@click.option("--seed", default=13, show_default=True, type=int, help="Seed of the workloads' random choices.")
@click.option("--chain", is_flag=True,
              help="Blocks build on one another (nonces advance); execute() timed, commit() untimed; "
                   "no stock side.")
@click.option("--phases", is_flag=True,
              help="Also print Block-STM's costs: µs per transaction of its workers and the sequential "
                   "engine, and its phases (needs the sequential baseline).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the machine description and every raw timing here (default: DIR/results.json with --out).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for results.json, the PNG plots and report.md.")
@quiet_option
def run(workloads, txs, accounts, blocks, workers, contentions, baselines, rounds, seed, chain, phases, json_path, out_dir,
        quiet) -> None:
    """Run workloads on Hyperion sequential, Block-STM and stock py-evm; same signed blocks.

    Sides alternate per round; state roots of all sides must agree on every block before
    anything is printed (exit 1 otherwise).  Prints a table; --json/--out write the raw
    timings, plots and a Markdown report.
    """
    from hyperion.tools.bench import output
    from hyperion.tools.bench.runner import SEQUENTIAL, measure

    if phases and SEQUENTIAL not in baselines:
        raise click.UsageError("--phases compares Block-STM with the sequential engine: add --baseline sequential")
    console = Console()
    if not console.is_terminal:  # piped: as wide as the table needs (rich would assume 80 columns)
        console = Console(width=200)
    try:
        with measuring(console, quiet, "bench run") as progress:
            result = measure(workloads, txs, blocks=blocks, workers=workers, contentions=contentions,
                             baselines=baselines, rounds=rounds, seed=seed, progress=progress, chain=chain,
                             accounts=accounts)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except HyperionError as exc:  # e.g. a replayed block that is invalid as a whole
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    data = result.to_json()
    data["command"] = "hyperion bench " + " ".join(shlex.quote(arg) for arg in sys.argv[2:])
    rows = output.summary(data)
    click.echo(output.headline(data))
    console.print(display.table(console, "", output.TABLE_COLUMNS, output.table_rows(rows)))
    for note in data["notes"]:
        click.echo(f"note: {note}")
    if phases:
        click.echo("\n" + output.format_blockstm_costs(data))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        json_path = json_path or os.path.join(out_dir, "results.json")
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(data, handle, indent=1)
        click.echo(f"raw timings: {json_path}")
    if out_dir:
        try:
            images = output.plots(data, out_dir)
        except ImportError:
            images = []
            click.echo("no plots: matplotlib is not installed (pip install 'hyperion[bench]')", err=True)
        with open(os.path.join(out_dir, "report.md"), "w") as handle:
            handle.write(output.report(data, images, data["command"]))
        click.echo(f"report: {os.path.join(out_dir, 'report.md')}" + (f" ({len(images)} plots)" if images else ""))


@click.command("list")
def list_workloads() -> None:
    """The workloads of `hyperion bench run` and what their knobs mean."""
    from hyperion.tools.bench.suite import WORKLOADS

    click.echo("knobs of every workload: --txs (per block), --blocks, --contention (0-1), --seed; "
               "--workload all (the default) runs every one listed here")
    for workload in WORKLOADS.values():
        click.echo(f"\n{workload.name}\n  {workload.description}\n  contention: {workload.contention}")
    click.echo("\nt8n:DIR\n  the block of a t8n input: DIR/alloc.json, env.json, txs.json or txs.rlp, optional fork.txt "
               "(default Prague)\n  contention: none (the block as given; no stock side)")


@click.command("compare")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.option("--threshold", default=0.10, show_default=True, type=click.FloatRange(0, 10),
              help="Flag a configuration whose tx/s dropped by more than this share.")
def compare(old, new, threshold) -> None:
    """Differences between two `bench run --json` files (tx/s per configuration; regressions
    flagged, exit 1 if any)."""
    from hyperion.tools.bench import output

    runs = []
    for path in (old, new):
        try:
            with open(path) as handle:
                data = json.load(handle)
            if data.get("kind") != "hyperion-bench-run":
                raise ValueError("not written by `hyperion bench run --json`")
        except (ValueError, OSError) as exc:
            raise click.UsageError(f"{path}: {exc}") from None
        runs.append(data)
    lines = output.compare(runs[0], runs[1], threshold)
    if not lines:
        raise click.UsageError("the two runs have no configuration in common")
    click.echo("\n".join(lines))
    if any(line.endswith("REGRESSION") for line in lines):
        sys.exit(1)


commands = (run, list_workloads, compare)
