"""``hyperion check``: verify a data directory's integrity (read-only, beside a writer too)."""
from __future__ import annotations

import os
import sys

import click

from hyperion.commands.options import data_dir_option


@click.command("check")
@data_dir_option
@click.option("--deep", is_flag=True,
              help="Also rebuild every trie from the flat state alone (slower) and compare the roots.")
def command(data_dir: str, deep: bool) -> None:
    """Check a store: schema and chain config, the head root against the flat state (every
    stored trie node on every path), code hashes, and that each change set reverts to the
    root its block's parent recorded.  Prints each problem; exits 1 if there is any."""
    from hyperion.state.check import check_store

    if not os.path.isfile(os.path.join(data_dir, "data.mdb")):
        raise click.ClickException(f"{data_dir} holds no store (no data.mdb)")
    report = check_store(data_dir, deep=deep)
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    if report.suppressed:
        click.echo(f"... and {report.suppressed} more problem(s)")
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)
