"""examples/sequencer.py against a server: the README's walk-through."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

from hyperion import ChainConfig, Engine
from hyperion.tools import workloads
from hyperion.commands.demo import DEMO_ACCOUNTS, GENESIS_TIME, demo_block

from tests.rpc_support import ServeProcess

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sequencer.py"


def load_example():
    spec = importlib.util.spec_from_file_location("sequencer_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def demo_roots(blocks: int, txs: int) -> list:
    """State roots `hyperion demo` gets for the same blocks, in-process."""
    engine = Engine.in_memory()
    try:
        engine.init_genesis(workloads.genesis_alloc(DEMO_ACCOUNTS), chain_config=ChainConfig.hyperion_default(),
                            timestamp=GENESIS_TIME)
        example = load_example()
        nonces, roots = {}, []
        for number in range(1, blocks + 1):
            result = engine.execute(example.block_env(number), demo_block(engine, number, txs, nonces))
            engine.commit(result)
            roots.append(result.state_root)
        return roots
    finally:
        engine.close()


def test_sequencer_against_a_fresh_hyperion_serve(tmp_path):
    """`hyperion serve` on a fresh data directory (default genesis, token from the
    environment), then the example: the same state roots as `hyperion demo`."""
    blocks, txs = 3, 20
    serve = ServeProcess(str(tmp_path / "fresh"), env_vars={"HYPERION_RPC_TOKEN": "from-env"})
    try:
        port = serve.wait_listening()
        run = subprocess.run(
            [sys.executable, str(EXAMPLE), "--target", f"127.0.0.1:{port}", "--blocks", str(blocks),
             "--txs-per-block", str(txs)],
            capture_output=True, text=True, timeout=600, env=dict(os.environ, HYPERION_RPC_TOKEN="from-env"),
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert serve.terminate() == 0
    finally:
        serve.kill()
    assert any('"genesis.created"' in line for line in serve.stderr_lines)
    out = run.stdout
    assert f"{blocks} blocks, {blocks * txs} transactions" in out and "tx/s end to end over gRPC" in out
    head_root = re.search(r"head 3, state root 0x([0-9a-f]{64})", out).group(1)
    assert bytes.fromhex(head_root) == demo_roots(blocks, txs)[-1]


def test_sequencer_funds_accounts_on_another_genesis(tmp_path, monkeypatch, capsys):
    """Without the demo wallets, --funder-key deploys the token and funds them first."""
    from hyperion.rpc import RpcServer, ServerConfig

    funder = workloads.wallet(5000)
    engine = Engine.open(str(tmp_path / "data"))
    engine.init_genesis({"0x" + funder.address.hex(): {"balance": hex(10**24)}},
                        chain_config=ChainConfig.hyperion_default(), timestamp=GENESIS_TIME)
    server = RpcServer(engine, ServerConfig(listen="127.0.0.1:0", grace=5))
    try:
        port = server.start()
        example = load_example()
        with pytest.raises(SystemExit, match="--funder-key"):
            example.main(["--target", f"127.0.0.1:{port}", "--blocks", "1", "--accounts", "8"])
        code = example.main(["--target", f"127.0.0.1:{port}", "--blocks", "2", "--txs-per-block", "8",
                             "--accounts", "8", "--funder-key", funder.key.to_hex()])
        assert code == 0
        out = capsys.readouterr().out
        assert "funded 8 wallets" in out and "2 blocks, 16 transactions" in out
        assert engine.head.number == 4  # two funding blocks, two sequenced blocks
    finally:
        server.stop(grace=5)
        engine.close()
