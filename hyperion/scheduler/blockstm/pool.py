"""The Block-STM worker processes: start, heal, watch and stop them (docs/design.md §15).

A worker can die or freeze at any moment -- idle between blocks, starting, warming up,
in the middle of a block (holding a scheduler lock, or half-way through writing a
record).  None of that may reach the caller: the coordinator finishes the block
sequentially from the longest valid prefix, and this module puts the pool back together.

* :class:`WorkerPool` owns the processes.  :meth:`WorkerPool.ensure` (called before every
  block) replaces a worker found dead, brings replacements up (``Ready``, then the warm-up
  every worker has had) and retries one that dies while doing so; a slot that cannot be
  filled is left empty for that block and tried again before the next one.  No socket
  error escapes it.  A worker replaced after a block is started at once but waited for
  only before the next block, so its start-up overlaps the sequential rest of the block.
* :class:`BlockWatch` watches one block's parallel phase for the coordinator: the
  caller's deadline, and the watchdog.  The watchdog fires when the scheduler makes no
  progress (no incarnation, validation or record) for longer than the slowest
  still-unfinished transaction can take: its gas limit divided by a measured per-gas
  floor, plus a fixed slack.  The coordinator then stops the block and kills every
  worker that stays silent through the same bound.  Only *when* the block falls back
  depends on the clock; its result never does.
* :func:`remove_stale` deletes what a coordinator that was killed left behind: its lock
  file and shared-memory segment, whose names carry its pid.
"""
from __future__ import annotations

import glob
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import connection
from typing import Callable, List, Optional, Sequence

import hyperion
from hyperion.errors import ExecutionCancelled
from hyperion.scheduler.blockstm import shared as core
from hyperion.scheduler.blockstm.protocol import Ready, Stop, Warm, WarmUp, decode_message, encode_message

log = logging.getLogger("hyperion.blockstm")

#: prefix of the shared-memory segment and lock file; the coordinator's pid follows
NAME_PREFIX = "hyperion-blockstm-"
#: attempts to fill one slot before a block; a slot still empty runs the block without it
START_ATTEMPTS = 3
#: the slowest execution measured, in gas per second: a loop of 1-gas JUMPDESTs through
#: ``Engine.execute`` on a loaded 2-core machine ran at about 0.7 Mgas/s in pure-Python
#: mode (about 1 Mgas/s compiled); a fifth of the slower figure leaves room for a busier one
WATCHDOG_GAS_PER_SECOND = 120_000
#: fixed part of the watchdog bound: scheduling noise, a replica sync, a record decode
WATCHDOG_SLACK_SECONDS = 2.0
#: how long a worker may take to stop when the caller's deadline has passed before it is
#: killed: a stopped call must not keep a core busy
DEADLINE_GRACE_SECONDS = 0.2


@dataclass
class Worker:
    index: int
    process: subprocess.Popen
    conn: connection.Connection
    pid: int = 0
    #: "starting" (no Ready yet), "warming" (WarmUp sent), "ready"
    state: str = "starting"
    #: what this worker has warmed up (its reply received)
    warmed: tuple = ()

    def alive(self) -> bool:
        return self.process.poll() is None


def new_segment_name() -> str:
    """A segment name that says which process owns it (see :func:`remove_stale`)."""
    return f"{NAME_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"


def _owner_alive(name: str) -> bool:
    pid, _, token = name[len(NAME_PREFIX):].partition("-")
    if not (pid.isdigit() and len(token) == 8 and all(c in "0123456789abcdef" for c in token)):
        return True  # not a name new_segment_name() made: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _kill_orphaned_workers(name: str) -> None:
    """SIGKILL the workers of a dead coordinator still running (frozen, or spinning on a lock
    a dead peer held): they are the processes whose command line names its segment."""
    if not os.path.isdir("/proc"):
        return
    wanted = name.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"hyperion.scheduler.blockstm.worker" in argv and wanted in argv:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


def remove_stale(lock_dir: Optional[str] = None) -> List[str]:
    """Delete lock files and shared-memory segments of coordinators that no longer run.

    -> the names removed.  Only names whose embedded pid is not a live process are touched.
    """
    removed = []
    lock_dir = lock_dir or tempfile.gettempdir()
    names = {os.path.basename(path)[: -len(".lock")] for path in glob.glob(os.path.join(lock_dir, NAME_PREFIX + "*.lock"))}
    if os.path.isdir("/dev/shm"):  # also a segment whose lock file is already gone
        names.update(os.path.basename(path) for path in glob.glob(os.path.join("/dev/shm", NAME_PREFIX + "*")))
    for name in sorted(names):
        if _owner_alive(name):
            continue
        _kill_orphaned_workers(name)
        for leftover in (os.path.join(lock_dir, name + ".lock"), os.path.join("/dev/shm", name)):
            try:
                os.unlink(leftover)
                removed.append(leftover)
            except FileNotFoundError:
                pass
    if removed:
        log.info("removed what dead Block-STM coordinators left behind: %s", ", ".join(removed))
    return removed


class WorkerPool:
    """``size`` worker processes on one shared segment; see the module docstring."""

    def __init__(self, size: int, worker_args: Sequence[str], start_timeout: float) -> None:
        #: the worker's command-line arguments after the socket fd (segment, sizes, lock path)
        self.worker_args = tuple(worker_args)
        self.start_timeout = start_timeout
        self.slots: List[Optional[Worker]] = [None] * size
        #: (fork name, precompile sets) every worker has warmed up, for replacements
        self.warmed: List[tuple] = []
        #: workers replaced since the pool started
        self.restarts = 0
        #: tests only: faults the next spawned workers take, in order ("start": exit before
        #: Ready, "warm-up": exit on WarmUp)
        self.spawn_faults: List[str] = []

    @property
    def workers(self) -> List[Worker]:
        """The workers that are up (ready for a block)."""
        return [w for w in self.slots if w is not None and w.state == "ready"]

    def _spawn(self, index: int) -> Worker:
        parent, child = socket.socketpair()
        env = dict(os.environ)
        # the worker imports this very copy of hyperion, installed or not
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(hyperion.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        # -P: ``-m`` would put the working directory first on the path, ahead of that copy
        # (another checkout in the directory the caller runs from would be imported instead)
        args = [sys.executable, "-P", "-m", "hyperion.scheduler.blockstm.worker", str(child.fileno()),
                *self.worker_args, str(index)]
        if self.spawn_faults:
            args.append(self.spawn_faults.pop(0))
        # own session: Ctrl-C in a terminal signals the foreground process group, and it is
        # the coordinator's to handle; a worker stops when told or when its socket closes
        process = subprocess.Popen(args, pass_fds=[child.fileno()], env=env, close_fds=True, start_new_session=True)
        child.close()
        return Worker(index=index, process=process, conn=connection.Connection(parent.detach()))

    @staticmethod
    def _discard(worker: Worker) -> None:
        """Kill ``worker`` (if it still runs), reap it and close its socket."""
        if worker.alive():
            worker.process.kill()
        worker.process.wait()
        worker.conn.close()

    def ensure(self) -> List[str]:
        """Bring every slot up (started and warmed up); -> what went wrong, for the stats."""
        problems: List[str] = []
        for _ in range(START_ATTEMPTS):
            pending = [i for i, w in enumerate(self.slots) if w is None or w.state != "ready" or not w.alive()]
            if not pending:
                break
            for i in pending:
                worker = self.slots[i]
                if worker is not None and not worker.alive():
                    state = "idle" if worker.state == "ready" else worker.state
                    problems.append(f"worker {i} (pid {worker.process.pid}) died while {state}")
                    log.error("Block-STM worker %d (pid %d) died while %s; replacing it", i, worker.process.pid, state)
                    self._discard(worker)
                    worker = self.slots[i] = None
                    self.restarts += 1
                if worker is None:
                    self.slots[i] = self._spawn(i)
            for i in pending:
                worker = self.slots[i]
                if not self._bring_up(worker):
                    problems.append(f"worker {i} died while {worker.state}")
                    log.error("Block-STM worker %d died while %s; replacing it", i, worker.state)
                    self._discard(worker)
                    self.slots[i] = None
                    self.restarts += 1
        missing = [i for i, w in enumerate(self.slots) if w is None or w.state != "ready"]
        if missing:
            problems.append(f"workers {missing} could not be started; this block runs without them")
        return problems

    def _bring_up(self, worker: Worker) -> bool:
        """Wait for ``worker``'s Ready and warm it up; False if it died (or hung) doing so."""
        try:
            if worker.state == "starting":
                if not worker.conn.poll(self.start_timeout):
                    log.error("Block-STM worker %d did not start within %ss", worker.index, self.start_timeout)
                    return False
                message = decode_message(worker.conn.recv())
                if type(message) is not Ready:
                    raise RuntimeError(f"Block-STM worker {worker.index} sent {message!r} instead of Ready")
                worker.pid = message.pid
                worker.state = "warming"
            if worker.state == "warming":
                if tuple(self.warmed) != worker.warmed:
                    worker.conn.send(encode_message(WarmUp(tuple(self.warmed))))
                    if not self._warm_reply(worker):
                        return False
                worker.state = "ready"
        except (EOFError, OSError):  # its end of the socket closed: it died
            return False
        return True

    def _warm_reply(self, worker: Worker) -> bool:
        if not worker.conn.poll(self.start_timeout):
            return False
        message = decode_message(worker.conn.recv())
        if type(message) is not Warm:
            raise RuntimeError(f"Block-STM worker {worker.index} sent {message!r} instead of Warm")
        worker.warmed = tuple(self.warmed)
        return True

    def warm_up(self, specs: Sequence[tuple]) -> List[str]:
        """Build fork state classes (and compile precompile kernels) in every worker."""
        self.warmed.extend(spec for spec in specs if spec not in self.warmed)
        for worker in self.workers:
            worker.state = "warming"  # ensure() sends the WarmUp and waits for its reply
        return self.ensure()

    def send(self, worker: Worker, wire: bytes) -> bool:
        """Send one message; False if the worker is gone (the block notices it by EOF)."""
        try:
            worker.conn.send(wire)
        except OSError:
            return False
        return True

    def replace(self, indexes) -> None:
        """Kill the workers at ``indexes`` (and any found dead) and start their replacements;
        they are waited for in the next :meth:`ensure`."""
        for i, worker in enumerate(self.slots):
            if worker is not None and (i in indexes or not worker.alive()):
                self._discard(worker)
                self.slots[i] = self._spawn(i)
                self.restarts += 1

    def close(self, timeout: float = 5.0) -> None:
        """Stop every worker (tell it, then wait, then kill) and close the sockets."""
        live = [w for w in self.slots if w is not None]
        self.slots = [None] * len(self.slots)
        for worker in live:
            try:
                worker.conn.send(encode_message(Stop()))
            except OSError:
                pass
        for worker in live:
            try:
                worker.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.conn.close()


class BlockWatch:
    """One block's parallel phase, watched: the deadline and the watchdog.

    :meth:`poll` is called from the coordinator's wait loop; it returns a reason to stop
    the block, once.  :attr:`grace` is then how long the workers get to stop.
    """

    def __init__(self, scheduler, gas_limit_of: Callable[[int], int], n: int,
                 deadline=None, *, gas_per_second: int = WATCHDOG_GAS_PER_SECOND,
                 slack: float = WATCHDOG_SLACK_SECONDS) -> None:
        self.scheduler = scheduler
        self.gas_limit_of = gas_limit_of
        self.n = n
        self.deadline = deadline
        self.gas_per_second = gas_per_second
        self.slack = slack
        #: seconds without progress that count as a stall (raised once the stuck transactions are known)
        self.bound = slack
        self.grace = slack
        self._progress = -1
        self._quiet_since = time.monotonic()
        self._bounded = False
        self.fired: Optional[str] = None  # "watchdog" or "deadline"
        #: records the coordinator appended itself (senders recovered ahead): not the workers' progress
        self.own_records: Callable[[], int] = lambda: 0

    def _progress_now(self) -> int:
        header = self.scheduler.header
        return (header(core.H_INCARNATIONS) + header(core.H_VALIDATIONS) + header(core.H_RECORDS)
                - self.own_records())

    def _running_gas(self) -> int:
        """The largest gas limit among the transactions a worker is executing now: only a
        running transaction can keep the workers quiet legitimately (one waiting to run
        would be taken by an idle worker, which counts as progress).  Never more than one
        per worker, so decoding their gas limits is cheap."""
        status = self.scheduler.status
        running = [tx for tx in range(self.n) if status(tx)[1] == core.EXECUTING]
        return max((self.gas_limit_of(tx) for tx in running), default=0)

    def poll(self) -> Optional[str]:
        if self.fired:
            return None
        if self.deadline is not None:
            try:
                self.deadline.check()
            except ExecutionCancelled as exc:
                self.fired, self.grace = "deadline", DEADLINE_GRACE_SECONDS
                return str(exc)
        now = time.monotonic()
        progress = self._progress_now()
        if progress != self._progress:
            self._progress, self._quiet_since, self._bounded, self.bound = progress, now, False, self.slack
            return None
        quiet = now - self._quiet_since
        if quiet <= self.bound:
            return None
        if not self._bounded:  # first time past the slack: is a long transaction still running?
            self._bounded = True
            self.bound = self.grace = self.slack + self._running_gas() / self.gas_per_second
            if quiet <= self.bound:
                return None
        self.fired = "watchdog"
        return f"watchdog: no progress for {quiet:.1f}s (bound {self.bound:.1f}s)"
