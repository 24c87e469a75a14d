"""Options shared by the ``hyperion`` commands (kept apart from ``hyperion.cli``, which
imports every command module, so each command can be imported on its own)."""
import click

from hyperion.engine import DEFAULT_DATA_DIR

data_dir_option = click.option(
    "--data-dir",
    default=DEFAULT_DATA_DIR,
    show_default=True,
    type=click.Path(file_okay=False),
    help="Data directory of the LMDB state store (created if missing).",
)
scheduler_option = click.option(
    "--scheduler",
    type=click.Choice(["sequential", "blockstm"]),
    default="sequential",
    show_default=True,
    help="How transactions are executed.",
)
workers_option = click.option(
    "--workers", type=click.IntRange(1, 256), default=None, help="Worker processes for blockstm (default: cores)."
)
