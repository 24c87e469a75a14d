"""``hyperion info``: what a data directory holds."""
from __future__ import annotations

import os

import click
from rich.console import Console
from rich.table import Table

from hyperion import native
from hyperion.commands import display
from hyperion.commands.options import data_dir_option, open_engine


@click.command("info")
@data_dir_option
def command(data_dir: str) -> None:
    """Show the chain configuration, head and table sizes of a data directory."""
    if not os.path.isdir(data_dir):
        raise click.ClickException(f"{data_dir} does not exist (run `hyperion demo` to create one)")
    console = Console()
    # read-only: no writer lock, so `info` works beside a running `hyperion serve`
    with open_engine(data_dir, readonly=True) as engine:
        from hyperion.evm import accountdb  # noqa: F401  (loads the implementation for the report)

        head = engine.head
        rows = [("data dir", os.path.abspath(data_dir)),
                ("chain", engine.chain_config.describe() if head.number >= 0 else "(no genesis)"),
                ("head", str(head.number))]
        hashes = [("state root", "0x" + head.state_root.hex())]
        if head.block_hash:
            hashes.append(("head hash", "0x" + head.block_hash.hex()))
        figures = [("revertible to", str(engine.store.oldest_revertible()))]
        figures += [(f"{name} entries", f"{count:,}") for name, count in engine.store.stats().items()]
        label_width = max(len(label) for label, _ in rows + hashes + figures)
        hash_width = max(console.width - label_width - 2, display.MIN_HASH_WIDTH)  # cut hashes, never figures
        table = Table(show_header=False, box=None)
        table.add_column(no_wrap=True)
        table.add_column()
        for label, value in rows + [(label, display.shorten(value, hash_width)) for label, value in hashes] + figures:
            table.add_row(label, value)
        table.add_row("native modules", native.describe())
        console.print(table)
