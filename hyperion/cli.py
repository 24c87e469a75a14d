"""The ``hyperion`` command line.  Every command takes ``--data-dir`` (default
``./hyperion-data``); each command lives in its own module under ``hyperion.commands``.

Mistakes a user can fix (a data directory that cannot be created, a store that is not
LMDB, a file that cannot be read, any :class:`~hyperion.errors.HyperionError`) end the
command with one line on stderr and exit status 1; ``hyperion -v COMMAND`` also prints
the traceback.  Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import importlib
import logging
import sys
import traceback

import click
import lmdb

from hyperion import __version__
from hyperion.errors import HyperionError

#: command name -> the module that defines it as ``command`` (a click command), imported only
#: when that command runs or help lists it: each pulls in its own dependencies (rich, gRPC,
#: the fixture runner...), and ``hyperion t8n`` should not pay for the others' start-up
COMMAND_MODULES = {
    name: f"hyperion.commands.{name}" for name in ("demo", "info", "bench", "serve", "fixtures", "t8n", "check")
}

#: errors that say what the user should fix: reported in one line
EXPECTED_ERRORS = (HyperionError, OSError, lmdb.Error)


def describe(exc: BaseException) -> str:
    """One line for an expected error."""
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    if isinstance(exc, lmdb.Error):
        return f"LMDB: {exc}"
    return str(exc) or type(exc).__name__


class HyperionGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx, name):
        module = COMMAND_MODULES.get(name)
        return importlib.import_module(module).command if module is not None else None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError:
            raise  # click's own message, with the usage line
        except BrokenPipeError:
            raise  # `hyperion ... | head`: click exits quietly
        except (click.ClickException, *EXPECTED_ERRORS) as exc:
            if ctx.params.get("verbose"):
                traceback.print_exception(exc, file=sys.stderr)
            click.secho(f"error: {describe(exc)}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=HyperionGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True,
              help="More log output (-vv for debug) and the traceback of an error.")
@click.version_option(__version__, "-V", "--version", prog_name="hyperion")
def main(verbose: int) -> None:
    """Hyperion: parallel execution engine for EVM chains."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


if __name__ == "__main__":  # pragma: no cover
    main()
