"""The command line on plain mistakes: one line on stderr and a non-zero exit, the traceback
only with ``hyperion -v``; progress and tables as a user sees them."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from rich.console import Console

import hyperion
from hyperion.cli import main  # before hyperion.commands.* (the cli registers them)
from hyperion import ChainConfig, Engine
from hyperion.commands import display
from hyperion.tools import workloads

from tests.rpc_support import ServeProcess

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sequencer.py"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def error_lines(result) -> list:
    return [line for line in result.output.splitlines() if line.strip()]


@pytest.fixture
def not_a_directory(tmp_path) -> str:
    """A data directory that cannot be created: its parent is a regular file (root can
    write anywhere, so permissions would not do)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return str(blocker / "data")


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_uncreatable_data_dir_is_one_line(command, not_a_directory):
    result = invoke(command, "--data-dir", not_a_directory)
    assert result.exit_code == 1
    assert error_lines(result) == [f"error: cannot create or open the data directory {not_a_directory}: "
                                   "Not a directory"]


def test_verbose_shows_the_traceback(not_a_directory):
    result = invoke("-v", "demo", "--data-dir", not_a_directory)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output
    assert "NotADirectoryError" in result.output
    assert result.output.rstrip().endswith("Not a directory")


def test_not_an_lmdb_store_is_one_line(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "data.mdb").write_bytes(b"not lmdb" * 1000)
    for command in ("info", "demo", "serve"):
        result = invoke(command, "--data-dir", str(data_dir))
        assert result.exit_code == 1, (command, result.output)
        assert error_lines(result) == [f"error: cannot open the data directory {data_dir}: MDB_INVALID: File is "
                                       "not an LMDB file (is it a Hyperion data directory?)"], command


def test_info_on_a_missing_data_dir(tmp_path):
    result = invoke("info", "--data-dir", str(tmp_path / "nothing"))
    assert result.exit_code == 1
    assert error_lines(result) == [f"error: {tmp_path / 'nothing'} does not exist (run `hyperion demo` to create one)"]


def test_hyperion_error_is_one_line(tmp_path):
    """`demo --ai` on a chain without the AI precompiles: a ChainConfigError."""
    data_dir = str(tmp_path / "plain")
    with Engine.open(data_dir) as engine:
        engine.init_genesis(workloads.genesis_alloc(2), chain_config=ChainConfig())
    result = invoke("demo", "--ai", "--data-dir", data_dir)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.splitlines()[-1].startswith(f"error: {data_dir} holds chain 31337 (prague) without the AI "
                                                     "precompiles")


def test_serve_unsafe_listen_address_is_one_line(tmp_path):
    result = invoke("serve", "--data-dir", str(tmp_path / "d"), "--listen", "0.0.0.0:0")
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1 and error_lines(result)[0].startswith("error: ")
    assert not (tmp_path / "d").exists()  # refused before touching the data directory


def test_version_is_the_package_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"hyperion, version {hyperion.__version__}"


def test_help_texts_carry_no_internal_notes():
    for args in (["--help"], ["bench", "--help"], ["bench", "foundation", "--help"], ["bench", "parallel", "--help"],
                 ["demo", "--help"], ["serve", "--help"], ["info", "--help"]):
        result = invoke(*args)
        assert result.exit_code == 0, args
        assert not re.search(r"\bIssue \d", result.output), (args, result.output)


def test_demo_output_keeps_every_figure_at_80_columns(tmp_path):
    """Not a terminal: no progress display; the table fits 80 columns by cutting the state
    root, never a figure."""
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        main, ["demo", "--data-dir", str(tmp_path / "d"), "--blocks", "2", "--txs", "10"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if re.match(r"│\s+\d+ │", line)]
    assert len(rows) == 2
    for row in rows:
        assert len(row) <= 80
        cells = [cell.strip() for cell in row.strip("│").split("│")]
        block, txs, invalid, gas, seconds, rate, root = cells
        assert (txs, invalid) == ("10", "0")
        assert re.fullmatch(r"\d{1,3}(,\d{3})+", gas) and re.fullmatch(r"\d+\.\d{3}", seconds)
        assert re.fullmatch(r"[\d,]+", rate)
        assert re.fullmatch(r"0x[0-9a-f]{8,}…", root)
    assert "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ " not in result.output  # no progress bar


def test_narrow_tables_wrap_headers_before_cutting_figures():
    console = Console(width=80, file=open(os.devnull, "w"))
    columns = ("block", "txs", "gas used", "time (s)", "classified ok", "retrieved ok", "records", "verify")
    row = ("5", "200", "10,547,944", "0.514", "100/100", "100/100", "200", "ok")
    with console.capture() as captured:
        console.print(display.table(console, "hyperion demo --ai", columns, [row]))
    lines = captured.get().splitlines()
    assert max(len(line) for line in lines) <= 80
    body = next(line for line in lines if line.startswith("│"))
    assert [cell.strip() for cell in body.strip("│").split("│")] == list(row)


def test_progress_only_on_a_terminal():
    assert display.show_progress(Console(force_terminal=True), quiet=False)
    assert not display.show_progress(Console(force_terminal=True), quiet=True)
    assert not display.show_progress(Console(file=open(os.devnull, "w")), quiet=False)


def test_demo_interrupted_says_how_many_blocks_were_committed(tmp_path, monkeypatch):
    """Ctrl-C during the third block: the two committed blocks are shown and counted."""
    commit = Engine.commit
    calls = []

    def interrupt_third(self, result):
        calls.append(result.number)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return commit(self, result)

    monkeypatch.setattr(Engine, "commit", interrupt_third)
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(tmp_path / "d"), "--blocks", "5", "--txs", "4"])
    assert result.exit_code == 130, result.output
    assert "interrupted: 2 blocks committed (head is block 2)" in result.output
    assert len([line for line in result.output.splitlines() if re.match(r"│\s+\d+ │", line)]) == 2
    monkeypatch.setattr(Engine, "commit", commit)
    with Engine.open(str(tmp_path / "d")) as engine:
        assert engine.head.number == 2


# -- examples/sequencer.py --------------------------------------------------------------------

def run_example(*args: str, **kwargs):
    return subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, timeout=300,
                          **kwargs)


def test_sequencer_help_and_bad_arguments(tmp_path):
    run = run_example("--help", cwd=tmp_path)
    assert run.returncode == 0 and "--target" in run.stdout
    run = run_example("--token-file", str(tmp_path / "missing"), cwd=tmp_path)
    assert run.returncode == 2
    assert "No such file or directory" in run.stderr and "Traceback" not in run.stderr


def test_sequencer_reports_a_server_that_drains_mid_stream(tmp_path):
    serve = ServeProcess(str(tmp_path / "data"), "--grace", "1")
    try:
        port = serve.wait_listening()
        proc = subprocess.Popen([sys.executable, str(EXAMPLE), "--target", f"127.0.0.1:{port}", "--blocks", "10000",
                                 "--txs-per-block", "4", "--accounts", "50"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            deadline = time.monotonic() + 240
            committed = 0
            while committed < 3 and time.monotonic() < deadline:  # a few blocks went through
                line = proc.stdout.readline()
                if re.match(r"\s+\d+\s+4\s+0 ", line):
                    committed += 1
            assert committed == 3
            assert serve.terminate() == 0  # SIGTERM: the server drains
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    finally:
        serve.kill()
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()  # one line, no traceback
    assert len(lines) == 1 and re.match(r"stopped after \d+ of 10000 blocks \(\d+ transactions committed\): ",
                                        lines[0]), err
    assert int(lines[0].split()[2]) >= 3


def test_bench_commands_run_and_quiet_means_quiet():
    """Tiny runs of both benchmarks (not a measurement): the report, and per-run lines only
    without --quiet."""
    args = ("bench", "parallel", "--txs", "16", "--rounds", "1", "--workload", "eth", "--workers", "1")
    loud = invoke(*args)
    assert loud.exit_code == 0, loud.output
    row = r"^eth\s+0\s+blockstm-1\s"
    assert "eth contention 0: round 1/1" in loud.output and re.search(row, loud.output, re.M)
    quiet = invoke(*args, "--quiet")
    assert quiet.exit_code == 0 and "round 1/1" not in quiet.output and re.search(row, quiet.output, re.M)
    args = ("bench", "foundation", "--txs", "10", "--rounds", "1", "--workload", "eth")
    loud = invoke(*args)
    assert loud.exit_code == 0, loud.output
    row = r"^eth\s+sequential\s+[\d.]+"
    assert "eth contention 0: round 1/1" in loud.output and re.search(row, loud.output, re.M)  # stderr: not a tty
    quiet = invoke(*args, "--quiet")
    assert quiet.exit_code == 0 and "round 1/1" not in quiet.output and re.search(row, quiet.output, re.M)
