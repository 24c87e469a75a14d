"""``hyperion bench``: the benchmarks, one subcommand each (docs/benchmarks.md).

A module listed in :data:`BENCH_MODULES` that defines a click command named ``command``
becomes one more subcommand (or use ``@bench.command()`` here).
"""
from __future__ import annotations

import importlib
import json
import shlex
import sys

import click
from rich.console import Console

from hyperion.commands import bench_run
from hyperion.commands.options import quiet_option

#: modules that each define ``command``, a click command added to the ``bench`` group
BENCH_MODULES: tuple = ()


@click.group("bench")
def bench() -> None:
    """Measure Hyperion against stock py-evm (each subcommand runs in this process, side by side)."""


@bench.command("foundation")
@click.option("--txs", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Transactions per block.")
@click.option("--accounts", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Wallets sending them; fewer than --txs send several each per block.")
@click.option("--rounds", "--repeats", "rounds", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Measured rounds (after one warm-up block); the table shows medians.")
@click.option("--workload", "workloads", multiple=True, type=click.Choice(["eth", "erc20"]),
              help="Blocks to run (repeatable; default: both).")
@click.option("--seed", default=13, show_default=True, type=int, help="Seed of the workloads' random choices.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write every raw timing to this JSON file (a `bench run` JSON: `bench compare` reads it).")
@quiet_option
def foundation(txs: int, accounts: int, rounds: int, workloads, seed: int, json_path, quiet: bool) -> None:
    """Hyperion's sequential engine vs stock py-evm on ether and ERC-20 transfer blocks.

    A preset of `hyperion bench run`: --workload eth,erc20 --txs 1000 --accounts 1000
    --baseline stock,sequential, no Block-STM side.  Same signed blocks on both sides, sides
    alternating per round, state roots compared before any figure (exit 1 otherwise).
    Prints each side's tx/s and time split, and Hyperion's speedup end to end.  Details:
    docs/benchmarks.md.
    """
    from hyperion.tools.bench.foundation import WORKLOADS, format_report, measure

    with bench_run.measuring(Console(), quiet, "bench foundation") as progress:
        data = measure(txs=txs, accounts=accounts, rounds=rounds, workloads=list(workloads) or list(WORKLOADS),
                       seed=seed, progress=progress).to_json()
    data["command"] = "hyperion bench " + " ".join(shlex.quote(arg) for arg in sys.argv[2:])
    click.echo(format_report(data))
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(data, handle, indent=1)


def _int_list(ctx, param, value: str):
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not numbers or min(numbers) < 1:
        raise click.BadParameter("expected one or more positive integers")
    return numbers


@bench.command("parallel")
@click.option("--txs", default="5000", show_default=True, callback=_int_list,
              help="Transactions per block; a comma-separated list runs each size in turn (e.g. to find "
                   "where Block-STM starts to pay, with --min-txs 1).")
@click.option("--workers", default="1,2", show_default=True, callback=_int_list,
              help="Block-STM worker counts, one engine each (comma-separated).")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(1, 100),
              help="Measured blocks per workload (after one warm-up block).")
@click.option("--workload", "workloads", multiple=True, type=click.Choice(["erc20", "eth", "mixed", "hot"]),
              help="Blocks to run (repeatable; default: all four).")
@click.option("--seed", default=13, show_default=True, type=int, help="Seed of the workloads' random choices.")
@click.option("--min-txs", "min_txs", default=None, type=click.IntRange(1, None),
              help="Block-STM's fallback threshold (default: the engine's); 1 forces every block parallel.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write every raw timing and stat to this JSON file (one `bench run` JSON per size).")
@quiet_option
def parallel(txs, workers, rounds, workloads, seed, min_txs, json_path, quiet) -> None:
    """Block-STM (1 and 2 workers) vs the sequential engine on a chain of blocks, LMDB.

    A preset of `hyperion bench run`: --workload erc20,eth,mixed,hot --baseline sequential
    --chain --phases.  Each block builds on the last (nonces advance); execute() is timed
    end to end, commit() untimed, sides alternating per round, one warm-up block.  Roots and
    results of all sides must agree before any figure is printed (exit 1 otherwise).
    Prints Block-STM's cost table: ratios, µs per transaction, phases.  Details:
    docs/benchmarks.md.
    """
    from hyperion.tools.bench.output import format_blockstm_costs
    from hyperion.tools.bench.parallel import WORKLOADS, measure

    names = list(workloads) or list(WORKLOADS)
    runs = []
    try:
        with bench_run.measuring(Console(), quiet, "bench parallel") as progress:
            for size in txs:
                runs.append(measure(txs=size, workers=workers, rounds=rounds, workloads=names, seed=seed, min_txs=min_txs,
                                    progress=lambda message, size=size: progress(f"{size:,} txs: {message}")).to_json())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    for data in runs:
        click.echo(format_blockstm_costs(data) + "\n")
    if json_path:
        with open(json_path, "w") as handle:
            json.dump({"kind": "hyperion-bench-parallel", "runs": runs}, handle, indent=1)


for _name in BENCH_MODULES:
    bench.add_command(importlib.import_module(_name).command)
for _command in bench_run.commands:
    bench.add_command(_command)

#: what hyperion.cli registers
command = bench
