"""Crash harness for ``hyperion serve``: SIGKILL the server at random points while a client
executes and commits blocks over gRPC, then ``hyperion check`` the data directory, check
that the head is the last block committed (or the one whose Commit was in flight) with the
root a crash-free in-memory replay gives, restart the server and go on.

CI runs a handful of kills (the Block-STM scheduler, so that its workers are killed with
the server too); the long run (``python tests/run.py --long``) runs
``HYPERION_CRASH_SERVE_KILLS`` (default 100) with each scheduler.  The counts are printed
(``-s``) as ``serve crash harness: ...``.
"""
from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading

import pytest

from hyperion import ChainConfig, Engine
from hyperion.rpc import RpcError
from hyperion.state.store import Store
from hyperion.tools import workloads

from tests.crash_child import ACCOUNTS, GENESIS_TIME, block_txs, env
from tests.rpc_support import ServeProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: a kill lands this long (uniform, seconds) after the server is listening
KILL_WINDOW = 2.5


class Reference:
    """The same chain, in memory and crash-free: the root each block must have."""

    def __init__(self) -> None:
        self.engine = Engine.in_memory()
        self.engine.init_genesis(workloads.genesis_alloc(ACCOUNTS), chain_config=ChainConfig.hyperion_default(),
                                 timestamp=GENESIS_TIME)
        self.nonces = {i: 0 for i in range(ACCOUNTS)}
        self.txs = {}  # block number -> its transactions (the nonces advance once per block)

    def block(self, number: int) -> list:
        while number not in self.txs:
            self.txs[len(self.txs) + 1] = block_txs(len(self.txs) + 1, self.nonces)
        return self.txs[number]

    def root(self, number: int) -> bytes:
        while self.engine.head.number < number:
            following = self.engine.head.number + 1
            self.engine.commit(self.engine.execute(env(following), self.block(following)))
        assert self.engine.head.number == number
        return self.engine.head.state_root


def hyperion_check(data_dir: str) -> subprocess.CompletedProcess:
    env_vars = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    return subprocess.run([sys.executable, "-c", "from hyperion.cli import main; main()", "check", "--data-dir",
                           data_dir], env=env_vars, capture_output=True, text=True, timeout=300)


def store_head(data_dir: str):
    store = Store.open_lmdb(data_dir, readonly=True)
    try:
        return store.head()
    finally:
        store.close()


def drive(server: ServeProcess, head: int, reference: Reference, rng: random.Random,
          phases: collections.Counter) -> tuple:
    """Execute and commit blocks on ``head`` until the server is killed; -> (last block
    committed, last block whose Commit was sent)."""
    client = server.client(timeout=60)
    killer = threading.Timer(rng.uniform(0.0, KILL_WINDOW), os.killpg, (server.proc.pid, signal.SIGKILL))
    done = sent = head
    phase = "between calls"
    killer.start()
    try:
        while True:
            number = done + 1
            phase = "during ExecuteBatch"
            result = client.execute(env(number), reference.block(number))
            phase, sent = "during Commit", number
            client.commit(result, expected_state_root=result.state_root)
            phase, done = "between calls", number
    except RpcError:
        pass  # the server is gone
    finally:
        killer.join()
        client.close()
    phases[phase] += 1
    return done, sent


def run_harness(tmp_path, kills: int, seed: int, scheduler: str) -> dict:
    data_dir = str(tmp_path / "data")
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps({"alloc": workloads.genesis_alloc(ACCOUNTS), "timestamp": GENESIS_TIME}))
    rng = random.Random(seed)
    reference = Reference()
    phases = collections.Counter()
    args = ["--scheduler", scheduler, "--genesis", str(genesis)] + (["--workers", "2"] if scheduler != "sequential"
                                                                    else [])
    head = 0  # the server writes the genesis on its first start
    for _ in range(kills):
        server = ServeProcess(data_dir, *args, new_session=True)  # its workers die with it
        try:
            server.wait_listening()
            done, sent = drive(server, head, reference, rng, phases)
        finally:
            if server.proc.poll() is None:
                os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(30)
        checked = hyperion_check(data_dir)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        stored = store_head(data_dir)
        assert stored.number in (done, sent), (stored.number, done, sent)
        assert stored.state_root == reference.root(stored.number)
        head = stored.number
    outcome = {"kills": kills, "blocks": store_head(data_dir).number, **phases}
    print(f"serve crash harness ({scheduler}, seed {seed}): {outcome}")
    return outcome


def test_serve_crash_harness_ci(tmp_path):
    outcome = run_harness(tmp_path, kills=3, seed=16, scheduler="blockstm")
    assert outcome["kills"] == 3 and outcome["blocks"] > 0


@pytest.mark.long_run
@pytest.mark.parametrize("scheduler", ["sequential", "blockstm"])
def test_serve_crash_harness_long(tmp_path, scheduler):
    kills = int(os.environ.get("HYPERION_CRASH_SERVE_KILLS", "100"))
    outcome = run_harness(tmp_path, kills=kills, seed=1600, scheduler=scheduler)
    assert outcome["kills"] == kills
