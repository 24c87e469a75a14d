"""``hyperion info``: what a data directory holds."""
from __future__ import annotations

import os

import click
from rich.console import Console
from rich.table import Table

from hyperion import native
from hyperion.commands.options import data_dir_option
from hyperion.engine import Engine
from hyperion.state.store import Store


@click.command("info")
@data_dir_option
def command(data_dir: str) -> None:
    """Show the chain configuration, head and table sizes of a data directory."""
    if not os.path.isdir(data_dir):
        raise click.ClickException(f"{data_dir} does not exist (run `hyperion demo` to create one)")
    # read-only: no writer lock, so `info` works beside a running `hyperion serve`
    with Engine(Store.open_lmdb(data_dir, readonly=True)) as engine:
        from hyperion.evm import accountdb  # noqa: F401  (loads the implementation for the report)

        head = engine.head
        table = Table(show_header=False, box=None)
        table.add_row("data dir", os.path.abspath(data_dir))
        table.add_row("chain", engine.chain_config.describe() if head.number >= 0 else "(no genesis)")
        table.add_row("head", str(head.number))
        table.add_row("state root", "0x" + head.state_root.hex())
        if head.block_hash:
            table.add_row("head hash", "0x" + head.block_hash.hex())
        table.add_row("revertible to", str(engine.store.oldest_revertible()))
        for name, count in engine.store.stats().items():
            table.add_row(f"{name} entries", f"{count:,}")
        table.add_row("native modules", native.describe())
        Console().print(table)
