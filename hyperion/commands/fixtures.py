"""``hyperion fixtures PATH...``: run ethereum/tests fixtures through Hyperion's engine."""
from __future__ import annotations

import json
import os
import sys
import time

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from hyperion.commands.options import scheduler_option, workers_option
from hyperion.tools.conformance.fixtures import FAIL, PASS, SKIP, RunOptions, run_paths
from hyperion.errors import HyperionError
from hyperion.evm.forks import canonical_fork_name


def _fork_names(values) -> frozenset:
    names = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                names.add(canonical_fork_name(part))
            except HyperionError:
                names.add(part.lower())  # e.g. Osaka: selected, then skipped with its reason
    return frozenset(names)


@click.command("fixtures")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@scheduler_option
@workers_option
@click.option("--fork", "forks", multiple=True, help="Run only these forks (repeat or comma-separate; e.g. Cancun).")
@click.option("-k", "pattern", default=None, help="Run only cases whose id (file::test[fork-index]) contains PATTERN "
              "(or matches it as a glob).")
@click.option("--json", "json_report", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write a JSON report (every case, its status and first difference) to this file.")
@click.option("--subset/--all", default=None,
              help="Run the fixed, deterministic subset used by the pure-Python CI pass "
                   "(default: --all, or --subset when HYPERION_FIXTURE_SUBSET=1).")
@click.option("--diagnose/--no-diagnose", default=True, show_default=True,
              help="On a state-test root mismatch, ask the execution specs (if installed) for the expected "
                   "post-state to name the first differing account.")
@click.option("--failures-only", is_flag=True, help="Print only the files with failures.")
def command(paths, scheduler, workers, forks, pattern, json_report, subset, diagnose, failures_only) -> None:
    """Run ethereum/tests BlockchainTests and GeneralStateTests (files or directories).

    Every case runs through Hyperion's engine and store (an in-memory store per test).
    Prints each file's pass/fail/skip with the first difference of each failure, then the
    totals per suite and fork; exits 1 if any case fails.
    """
    console = Console(highlight=False, soft_wrap=True)
    if subset is None:
        subset = os.environ.get("HYPERION_FIXTURE_SUBSET", "") not in ("", "0")
    options = RunOptions(scheduler=scheduler, workers=workers, forks=_fork_names(forks) if forks else None,
                         pattern=pattern, diagnose=diagnose)

    progress = Progress(
        TextColumn("[bold]fixtures"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        TextColumn("{task.description}"), console=console, transient=True,
    )
    task = None

    def on_file(result, done, total):
        nonlocal task
        if task is None:
            task = progress.add_task("", total=total)
        progress.update(task, completed=done, description=escape(result.path[-60:]))
        passed, failed, skipped = result.count(PASS), result.count(FAIL), result.count(SKIP)
        if not result.cases or (failures_only and not failed):
            return
        tag = "[red]FAIL[/]" if failed else ("[green]PASS[/]" if passed else "[yellow]SKIP[/]")
        progress.console.print(f"{tag} {escape(result.path)}  pass {passed}  fail {failed}  skip {skipped}  "
                               f"({result.seconds:.2f}s)")
        for case in result.cases:
            if case.status == FAIL:
                progress.console.print(f"     [red]✗[/] {escape(case.id)}\n       {escape(case.describe())}")

    started = time.perf_counter()
    try:
        with progress:
            report = run_paths(paths, options, on_file=on_file, subset=subset)
    except ValueError as exc:  # the scheduler cannot be built here
        console.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(2)
    elapsed = time.perf_counter() - started

    table = Table(title=f"hyperion fixtures ({scheduler} scheduler{', subset' if subset else ''})")
    for column in ("suite", "fork", "pass", "fail", "skip"):
        table.add_column(column, justify="left" if column in ("suite", "fork") else "right")
    for suite, forks_table in sorted(report.by_suite_and_fork().items()):
        for fork, counts in sorted(forks_table.items()):
            table.add_row(suite, fork, str(counts[PASS]), str(counts[FAIL]), str(counts[SKIP]))
    totals = report.totals()
    table.add_row("total", "", str(totals[PASS]), str(totals[FAIL]), str(totals[SKIP]), style="bold")
    console.print(table)
    reasons = report.skip_reasons()
    if reasons:
        console.print("skipped (hyperion/tools/conformance/skips.py):")
        for reason, count in sorted(reasons.items()):
            console.print(f"  {count:6d}  {escape(reason)}")
    files_failed = sum(1 for f in report.files if f.failed)
    console.print(f"{len(report.files)} files, {files_failed} with failures, in {elapsed:.1f}s")
    if json_report:
        with open(json_report, "w") as handle:
            json.dump(report.to_json(), handle, indent=1)
        console.print(f"report written to {escape(json_report)}")
    if not report.files:
        console.print("[yellow]no fixture files found")
    sys.exit(0 if report.ok else 1)
