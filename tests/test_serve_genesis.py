"""``hyperion serve --genesis``: a file too deep, too large or not JSON is refused in one line,
before the data directory is touched."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from hyperion.cli import main  # before hyperion.commands.* (the cli registers them)
from hyperion.commands import serve


def serve_with_genesis(tmp_path, content: bytes):
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(content)
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:0",
                                       "--scheduler", "sequential", "--genesis", str(genesis)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error: --genesis "), result.output
    assert not (tmp_path / "d").exists()  # refused before the data directory was created
    return lines[0]


@pytest.mark.parametrize("content, message", [
    (b"[" * 200_000, "JSON nested too deeply"),
    (b'{"alloc": {"0x01": {"balance": "0x1"}}, "timestamp": "soon"}', "timestamp 'soon' is not an integer"),
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b'{"0x01": ', "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
])
def test_bad_genesis_is_one_line(tmp_path, content, message):
    assert message in serve_with_genesis(tmp_path, content)


def test_genesis_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "MAX_GENESIS_BYTES", 1 << 20)
    assert "larger than 1 MiB" in serve_with_genesis(tmp_path, b" " * ((1 << 20) + 1) + b"{}")
