"""Options shared by the ``hyperion`` commands (kept apart from ``hyperion.cli``, which
imports the command modules, so each command can be imported on its own)."""
import click
import lmdb

from hyperion.engine import DEFAULT_DATA_DIR, Engine

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
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="No progress display (there is none either when stdout is not a terminal)."
)


def open_engine(data_dir: str, readonly: bool = False, **options) -> Engine:
    """``Engine.open``, with a data directory that cannot be created or opened said in one line
    (``hyperion -v`` shows the traceback).  ``readonly`` takes no writer lock and never writes."""
    try:
        if readonly:
            from hyperion.state.store import Store

            return Engine(Store.open_lmdb(data_dir, readonly=True))
        return Engine.open(data_dir, **options)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(data_dir) else ""
        raise click.ClickException(f"cannot create or open the data directory {data_dir}: {reason}{where}") from exc
    except lmdb.Error as exc:
        reason = str(exc).removeprefix(f"{data_dir}: ")
        raise click.ClickException(f"cannot open the data directory {data_dir}: {reason} "
                                   "(is it a Hyperion data directory?)") from exc
