"""Every code block of README.md and docs/*.md that a reader would run, run.

- ```python blocks run as they stand, each in a fresh interpreter in an empty directory.
- ```python serve blocks talk to ``hyperion serve`` at 127.0.0.1:50051: they run against a
  server this test starts on a free port (the address is replaced, nothing else).
- ```bash blocks: every ``hyperion ...`` command line must parse with the real command line
  (command and option names; values are not checked, paths need not exist).
"""
from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import click
import pytest

from hyperion.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)```([^\n`]*)\n(.*?)^\1```", re.S | re.M)
SERVE_ADDRESS = "127.0.0.1:50051"


def blocks(kinds):
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in FENCE.finditer(text):
            info = match.group(2).split()
            if info and info[0] in kinds:
                line = text[: match.start()].count("\n") + 1
                code = "\n".join(l[len(match.group(1)):] for l in match.group(3).splitlines())
                found.append(pytest.param(info, code, id=f"{path.relative_to(ROOT)}:{line}"))
    return found


PYTHON = blocks({"python"})
SHELL = blocks({"bash", "sh", "shell"})


def test_every_python_block_is_marked_runnable_or_served():
    """Only two kinds: runs as is, or runs against a server. No block is left out."""
    assert PYTHON, "no python block found"
    for param in PYTHON:
        info = param.values[0]
        assert info in (["python"], ["python", "serve"]), (param.id, info)


def run_python(code: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=env)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """An in-process server on the demo genesis (what `hyperion serve` writes on a fresh
    data directory)."""
    from hyperion import ChainConfig, Engine
    from hyperion.rpc import RpcServer, ServerConfig
    from hyperion.tools import workloads

    engine = Engine.open(str(tmp_path_factory.mktemp("serve") / "data"))
    engine.init_genesis(workloads.genesis_alloc(10), chain_config=ChainConfig.hyperion_default(),
                        timestamp=1_700_000_000)
    server = RpcServer(engine, ServerConfig(listen="127.0.0.1:0", grace=5))
    try:
        yield f"127.0.0.1:{server.start()}"
    finally:
        server.stop(grace=5)
        engine.close()


@pytest.mark.parametrize("info,code", PYTHON)
def test_python_block_runs(info, code, tmp_path, request):
    if info[1:] == ["serve"]:
        assert SERVE_ADDRESS in code
        code = code.replace(SERVE_ADDRESS, request.getfixturevalue("demo_server"))
    run = run_python(code, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip(), "a documentation example should show its result"


def hyperion_command_lines(code: str):
    """Each ``hyperion ...`` command of a shell block (also after ``&&``): continuations
    joined, comments and redirections dropped."""
    for line in code.replace("\\\n", " ").splitlines():
        for part in line.split(" #", 1)[0].split(" < ", 1)[0].split("&&"):
            part = part.strip()
            if part.startswith("hyperion "):
                yield shlex.split(part)[1:]


def parse(args):
    """Parse ``args`` as `hyperion` would, down to the subcommand, without running it.

    Unknown commands and options raise ``click.UsageError``.  A value click refuses (a path
    that does not exist here) raises ``click.BadParameter`` only after every option name of
    that command was recognised, so it counts as parsed.
    """
    command, ctx = main, None
    while True:
        try:
            ctx = command.make_context(command.name, list(args), parent=ctx)
        except click.BadParameter:
            return None
        if not isinstance(command, click.Group):
            return ctx
        # click 8.2+ keeps the subcommand's name in _protected_args (protected_args is deprecated)
        args = list(getattr(ctx, "_protected_args", None) or ctx.protected_args) + ctx.args
        assert args, "a command group needs a subcommand"
        _name, command, args = command.resolve_command(ctx, args)


@pytest.mark.parametrize("info,code", SHELL)
def test_hyperion_commands_in_shell_blocks_parse(info, code):
    for args in hyperion_command_lines(code):
        try:
            parse(args)
        except click.UsageError as exc:
            pytest.fail(f"`hyperion {shlex.join(args)}`: {exc.format_message()}")


def test_shell_blocks_name_hyperion_commands():
    """The parser above is not vacuous: the docs show commands of every kind."""
    seen = {args[0] for param in SHELL for args in hyperion_command_lines(param.values[1])}
    assert {"demo", "serve", "bench", "fixtures", "t8n"} <= seen
    with pytest.raises(click.UsageError, match="No such option"):
        parse(["demo", "--no-such-option"])
    with pytest.raises(click.UsageError, match="No such command"):
        parse(["no-such-command"])
    assert parse(["fixtures", "/no/such/path", "--fork", "Cancun"]) is None  # a value, not a name
