"""The ``hyperion`` command line.  Every command takes ``--data-dir`` (default
``./hyperion-data``); each command lives in its own module under ``hyperion.commands``."""
from __future__ import annotations

import importlib
import logging
import sys

import click

from hyperion.errors import HyperionError

#: command modules; each defines ``command`` (a click command)
COMMAND_MODULES = (
    "hyperion.commands.demo",
    "hyperion.commands.info",
    "hyperion.commands.bench",
    "hyperion.commands.serve",
    "hyperion.commands.fixtures",
    "hyperion.commands.t8n",
    "hyperion.commands.check",
)


class HyperionGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HyperionError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=HyperionGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="hyperion-evm")
def main(verbose: int) -> None:
    """Hyperion: parallel execution engine for EVM chains."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for _name in COMMAND_MODULES:
    main.add_command(importlib.import_module(_name).command)


if __name__ == "__main__":  # pragma: no cover
    main()
