"""Crash harness: SIGKILL a process that executes and commits blocks, reopen, check, go on.

A child (tests/crash_child.py) runs blocks on an LMDB engine; the parent kills it at seeded
random points -- any time, while it executes a block, or right as it commits one -- then
checks the store (``hyperion.state.check``, read-only), checks that the head is the last
block the child committed (or the one whose commit it had started), and starts the next
child, which carries on from that head.  At the end a crash-free in-memory replay of as
many blocks must give the same state root.

CI runs a handful of kill points; the long run (``python tests/run.py --long``, or
``-m long_run``) runs ``HYPERION_CRASH_KILLS`` (default 120).  The counts reached are
printed (``-s``) as ``crash harness: ...``.
"""
from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List

import pytest

from hyperion.state.check import check_store
from hyperion.state.store import Store

from tests import crash_child

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ("anytime", "exec", "commit")
CHILD_TIMEOUT = 300.0


class Child:
    def __init__(self, path: str, scheduler: str, log) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.crash_child", path, scheduler], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        self.lines: List[str] = []
        # a child that never prints what the parent waits for is killed, not waited on for ever
        self.watchdog = threading.Timer(CHILD_TIMEOUT, self.proc.kill)
        self.watchdog.start()

    def read_until(self, *words: str) -> List[str]:
        """Read the child's lines up to the first that starts with ``words``."""
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"the child exited (code {self.proc.wait()}) before printing {words}")
            self.lines.append(line.strip())
            if tuple(line.split()[:len(words)]) == words:
                return line.split()

    def kill(self) -> None:
        self.watchdog.cancel()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.lines.extend(line.strip() for line in self.proc.stdout.read().splitlines())
        self.proc.stdout.close()


def _head(path: str):
    store = Store.open_lmdb(path, readonly=True)
    try:
        return store.head()
    finally:
        store.close()


def run_harness(path: str, kills: int, seed: int, scheduler: str = "sequential", log=None) -> dict:
    rng = random.Random(seed)
    roots: Dict[int, str] = {}  # block -> the state root the child reported for it
    phases = collections.Counter()  # what the child was doing when it was killed
    for _ in range(kills):
        child = Child(path, scheduler, log)
        try:
            _, number, root = child.read_until("ready")
            assert roots.get(int(number), root) == root, f"block {number} has another root after the restart"
            mode = rng.choice(MODES)
            if mode == "anytime":
                time.sleep(rng.uniform(0.0, 0.6))
            else:
                child.read_until(mode, str(int(number) + rng.randint(1, 3)))
                time.sleep(rng.uniform(0.0, 0.004 if mode == "commit" else 0.05))
        finally:
            child.kill()
        done = committing = int(number)
        for line in child.lines:
            verb, *rest = line.split()
            if verb in ("commit", "done"):
                roots[int(rest[0])] = rest[1]
                if verb == "done":
                    done = int(rest[0])
                else:
                    committing = int(rest[0])
        last = child.lines[-1].split()[0]
        phases["during commit" if last == "commit" else "while executing" if last == "exec" else
               "between blocks" if last in ("done", "ready") else last] += 1
        report = check_store(path)
        assert report.ok, report.problems
        head = _head(path)
        assert head.number in (done, committing), (head.number, done, committing)
        assert head.state_root.hex() == roots.get(head.number, head.state_root.hex())
    head = _head(path)
    assert crash_child.replay(head.number) == head.state_root, "a crash-free replay gives another chain"
    outcome = {"kills": kills, "blocks": head.number, **phases}
    print(f"crash harness ({scheduler}, seed {seed}): {outcome}")
    return outcome


def test_crash_harness_ci(tmp_path):
    with open(tmp_path / "child.log", "w") as log:
        outcome = run_harness(str(tmp_path / "data"), kills=10, seed=16, log=log)
    assert outcome["kills"] == 10 and outcome["blocks"] > 0


@pytest.mark.long_run
@pytest.mark.parametrize("scheduler, share", [("sequential", 1.0), ("blockstm", 0.2)])
def test_crash_harness_long(tmp_path, scheduler, share):
    kills = max(1, int(int(os.environ.get("HYPERION_CRASH_KILLS", "120")) * share))
    with open(tmp_path / "child.log", "w") as log:
        outcome = run_harness(str(tmp_path / "data"), kills=kills, seed=1600, scheduler=scheduler, log=log)
    assert outcome["kills"] == kills
