"""A program that uses a Block-STM engine exits cleanly, and a killed one is cleaned up after
(hyperion.scheduler.blockstm.pool): no ``Exception ignored ... BufferError`` at exit, with or
without ``close()``; a SIGKILLed coordinator's lock file and shared-memory segment are
removed by the next start, and its workers exit on their own."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hyperion.scheduler.blockstm import pool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: opens a Block-STM engine, runs one parallel block, reports its files and workers, then
#: closes the engine (argv[1] == "close"), exits without closing ("exit"), or waits to be
#: killed ("wait")
CHILD = """
import json, sys, time
from hyperion import ChainConfig, Engine
from tests.test_blockstm import block_env, build_batch, genesis
engine = Engine.in_memory(chain_config=ChainConfig(system_contracts=True), scheduler="blockstm", workers=1,
                          scheduler_options={"min_txs": 1})
engine.init_genesis(genesis())
result = engine.execute(block_env(), build_batch([("store", i, i, i) for i in range(4)], "low", ChainConfig().chain_id))
assert result.stats.fallback is None, result.stats.fallback
scheduler = engine.scheduler
print(json.dumps({"lock": scheduler._lock_path, "segment": scheduler._segment.name,
                  "workers": [w.process.pid for w in scheduler.pool.workers]}), flush=True)
if sys.argv[1] == "close":
    engine.close()
elif sys.argv[1] == "wait":
    time.sleep(120)
"""


def start_child(mode: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    return subprocess.Popen([sys.executable, "-c", CHILD, mode], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_gone(pids, timeout: float = 20.0) -> bool:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if all(gone(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("mode", ["close", "exit"])
def test_exit_is_quiet_and_leaves_nothing(mode):
    child = start_child(mode)
    try:
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 0, err
    assert "Exception ignored" not in err and "BufferError" not in err, err
    assert "Traceback" not in err, err
    report = json.loads(out.splitlines()[-1])
    assert not os.path.exists(report["lock"])
    assert not os.path.exists(os.path.join("/dev/shm", report["segment"]))
    assert wait_gone(report["workers"])


@pytest.mark.parametrize("frozen_worker", [False, True])
def test_a_killed_coordinator_is_cleaned_up_after(frozen_worker):
    """SIGKILL the coordinator: its workers exit (a frozen one is killed by the next start),
    and the next start removes its lock file and segment."""
    child = start_child("wait")
    try:
        report = json.loads(child.stdout.readline())
        if frozen_worker:  # a worker that cannot notice anything
            os.kill(report["workers"][0], signal.SIGSTOP)
        os.killpg(child.pid, signal.SIGKILL)  # the workers run in sessions of their own
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.stdout.close()
        child.stderr.close()
    try:
        if not frozen_worker:  # a live worker notices its socket closing and exits
            assert wait_gone(report["workers"])
        assert os.path.exists(report["lock"])  # left behind by the SIGKILL...
        removed = pool.remove_stale()  # ...until the next start
        assert report["lock"] in removed
        assert not os.path.exists(report["lock"])
        assert not os.path.exists(os.path.join("/dev/shm", report["segment"]))
        assert wait_gone(report["workers"])
    finally:
        for pid in report["workers"]:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_remove_stale_keeps_files_of_live_coordinators(tmp_path):
    live = tmp_path / f"{pool.NAME_PREFIX}{os.getpid()}-00000000.lock"
    dead_pid = _a_dead_pid()
    dead = tmp_path / f"{pool.NAME_PREFIX}{dead_pid}-00000000.lock"
    foreign = tmp_path / f"{pool.NAME_PREFIX}notapid.lock"
    for path in (live, dead, foreign):
        path.write_bytes(b"")
    assert pool.remove_stale(str(tmp_path)) == [str(dead)]
    assert live.exists() and foreign.exists() and not dead.exists()


def _a_dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_segment_names_carry_the_owner_pid():
    name = pool.new_segment_name()
    assert name.startswith(f"{pool.NAME_PREFIX}{os.getpid()}-")


def test_workers_import_the_coordinators_copy_whatever_the_working_directory(tmp_path):
    """Workers start with ``python -m``, which would put the working directory first on the
    path: a directory holding another ``hyperion`` must not shadow the coordinator's copy."""
    impostor = tmp_path / "hyperion"
    impostor.mkdir()
    (impostor / "__init__.py").write_text("raise SystemExit('the working directory copy was imported')\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    child = subprocess.run([sys.executable, "-P", "-c", CHILD, "close"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[-1])["workers"]
