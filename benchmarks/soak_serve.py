"""Soak: ``hyperion serve`` under continuous ExecuteBatch + Commit and concurrent reads.

    python benchmarks/soak_serve.py [--blocks 500] [--txs 50] [--readers 2] [--max-seconds 3600]
                                    [--scheduler sequential] [--workers N]

A real ``hyperion serve`` subprocess on a fresh data directory (the default genesis: 1,000
demo wallets and the ERC-20 token), listening on 127.0.0.1 only.  One writer executes
block after block (half ETH transfers, half ERC-20 transfers) with ExecuteBatch (HOLD)
and commits each with Commit (expecting its state root); ``--readers`` threads meanwhile
call GetAccount, GetStorage, Call (ERC-20 ``balanceOf``), GetHead and GetProof in turn.
The server's resident memory (``VmRSS`` of its process and its anonymous part
``RssAnon``, Linux /proc) is sampled after every block.

It stops by itself after ``--blocks`` blocks or ``--max-seconds``, whichever comes first,
and prints: blocks and transactions done, RSS at the end of the warm-up (the first
``--warmup`` blocks: caches fill, lazy imports load) and at the end, the RSS trend after
the warm-up (least-squares slope, MiB per 100 blocks), and p50 / p99 / max latency per
method as the client sees it.  Exit status 1 if any call failed.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hyperion import BlockEnv, UnsignedTx
from hyperion.tools import workloads
from hyperion.rpc import Client

# the default genesis of ``hyperion serve`` (hyperion.commands.serve)
ACCOUNTS = 1000
GENESIS_TIME = 1_700_000_000
COINBASE = b"\xc0" + b"\x00" * 18 + b"\x01"
MIB = 1024 * 1024


def block_env(number: int) -> BlockEnv:
    return BlockEnv(number=number, timestamp=GENESIS_TIME + 12 * number, coinbase=COINBASE, base_fee=workloads.GWEI,
                    gas_limit=60_000_000, parent_beacon_block_root=number.to_bytes(32, "big"))


def block_txs(number: int, txs: int, nonces: dict) -> list:
    half = txs // 2
    offset = (number * txs) % ACCOUNTS
    return (workloads.transfer_batch(half, ACCOUNTS, nonces, offset=offset)
            + workloads.erc20_batch(txs - half, ACCOUNTS, nonces, offset=offset + half))


def rss_bytes(pid: int) -> tuple:
    """(resident set size, its anonymous part) of process ``pid`` in bytes; (0, 0) if it
    is gone.  The rest is file pages: LMDB's memory map grows with the data directory."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "RssAnon"):
                    found[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return found.get("VmRSS", 0), found.get("RssAnon", 0)


def percentile(values: List[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def slope(xs: List[float], ys: List[float]) -> float:
    """Least-squares slope of ys over xs (0 with fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


class Server:
    """``hyperion serve`` on ``data_dir``, loopback only, on a free port."""

    def __init__(self, data_dir: str, scheduler: str, workers: Optional[int], start_timeout: float) -> None:
        cmd = [sys.executable, "-c", "from hyperion.cli import main; main()", "serve", "--data-dir", data_dir,
               "--listen", "127.0.0.1:0", "--log-format", "json", "--scheduler", scheduler]
        if workers:
            cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = self._wait_listening(start_timeout)
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def _wait_listening(self, timeout: float) -> int:
        found: List[str] = []

        def read() -> None:
            for line in self.proc.stdout:
                if "listening on" in line:
                    found.append(line)
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(f"hyperion serve did not start within {timeout}s (exit {self.proc.poll()})")
        return int(found[0].split("listening on ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


@dataclass
class SoakResult:
    blocks: int = 0
    transactions: int = 0
    seconds: float = 0.0
    #: (block number, server RSS, its anonymous part) in bytes after each block
    rss: List[tuple] = field(default_factory=list)
    warmup: int = 0
    latencies: Dict[str, List[float]] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)
    stopped_by: str = "blocks"

    def _after_warmup(self) -> List[tuple]:
        return [s for s in self.rss if s[0] >= self.warmup] or self.rss[:1]

    @property
    def rss_start(self) -> int:
        """RSS once the warm-up blocks ran (or the first sample)."""
        return self._after_warmup()[0][1] if self.rss else 0

    @property
    def rss_end(self) -> int:
        return self.rss[-1][1] if self.rss else 0

    @property
    def anon_start(self) -> int:
        return self._after_warmup()[0][2] if self.rss else 0

    @property
    def anon_end(self) -> int:
        return self.rss[-1][2] if self.rss else 0

    @property
    def rss_max(self) -> int:
        return max((s[1] for s in self.rss), default=0)

    def rss_trend(self, anon: bool = False) -> float:
        """MiB per 100 blocks after the warm-up (least squares) of the RSS or its anonymous part."""
        after = self._after_warmup()
        return slope([s[0] for s in after], [s[2 if anon else 1] / MIB for s in after]) * 100

    def record(self, method: str, seconds: float) -> None:
        self.latencies.setdefault(method, []).append(seconds)

    def report(self) -> str:
        lines = [
            f"blocks {self.blocks} ({self.transactions} transactions) in {self.seconds:.1f}s, stopped by {self.stopped_by}",
            f"server RSS: {self.rss_start / MIB:.1f} MiB after the {self.warmup}-block warm-up, "
            f"{self.rss_end / MIB:.1f} MiB at the end (max {self.rss_max / MIB:.1f} MiB; "
            f"trend {self.rss_trend():+.2f} MiB per 100 blocks)",
            f"  of which anonymous (heap): {self.anon_start / MIB:.1f} -> {self.anon_end / MIB:.1f} MiB "
            f"(trend {self.rss_trend(anon=True):+.2f} MiB per 100 blocks); the rest is file-backed (shared libraries, the LMDB map)",
            f"{'method':<14}{'calls':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}",
        ]
        for method in sorted(self.latencies):
            values = self.latencies[method]
            lines.append(f"{method:<14}{len(values):>8}{percentile(values, 50) * 1000:>10.2f}"
                         f"{percentile(values, 99) * 1000:>10.2f}{max(values) * 1000:>10.2f}")
        lines.append(f"errors: {len(self.errors)}" + "".join(f"\n  {e}" for e in self.errors[:10]))
        return "\n".join(lines)


def _reader(client: Client, result: SoakResult, stop: threading.Event, lock: threading.Lock, seed: int) -> None:
    rng = random.Random(seed)
    wallets = [workloads.wallet(i).address for i in range(ACCOUNTS)]
    token = workloads.TOKEN_ADDRESS
    calls = [
        ("GetAccount", lambda w: client.get_account(w)),
        ("GetStorage", lambda w: client.get_storage(token, workloads.token_balance_slot(w))),
        ("Call", lambda w: client.call(UnsignedTx(sender=w, nonce=None, gas=0, to=token,
                                                  data=workloads.erc20_balance_of_data(w)))),
        ("GetHead", lambda w: client.get_head()),
        ("GetProof", lambda w: client.get_proof(w)),
    ]
    turn = 0
    while not stop.is_set():
        method, fn = calls[turn % len(calls)]
        turn += 1
        started = time.perf_counter()
        try:
            fn(rng.choice(wallets))
        except Exception as exc:  # a soak reports every failure and carries on
            with lock:
                result.errors.append(f"{method}: {type(exc).__name__}: {exc}")
            continue
        with lock:
            result.record(method, time.perf_counter() - started)


def soak(blocks: int = 500, txs: int = 50, readers: int = 2, max_seconds: float = 3600.0,
         scheduler: str = "sequential", workers: Optional[int] = None, warmup: Optional[int] = None,
         start_timeout: float = 300.0, progress=None) -> SoakResult:
    """Run the soak; returns its :class:`SoakResult` (never raises for a failed call)."""
    workdir = tempfile.mkdtemp(prefix="hyperion-soak-")
    result = SoakResult(warmup=min(blocks, 10) if warmup is None else warmup)
    server = Server(os.path.join(workdir, "data"), scheduler, workers, start_timeout)
    lock = threading.Lock()
    stop = threading.Event()
    clients: List[Client] = []
    threads: List[threading.Thread] = []
    try:
        client = Client(f"127.0.0.1:{server.port}", timeout=120)
        clients.append(client)
        client.wait_ready(60)
        for i in range(readers):  # each reader its own channel, like separate services
            reader_client = Client(f"127.0.0.1:{server.port}", timeout=120)
            clients.append(reader_client)
            threads.append(threading.Thread(target=_reader, args=(reader_client, result, stop, lock, i), daemon=True))
        for thread in threads:
            thread.start()
        nonces: dict = {}
        started = time.monotonic()
        for number in range(1, blocks + 1):
            if time.monotonic() - started > max_seconds:
                result.stopped_by = f"--max-seconds {max_seconds:g}"
                break
            batch = block_txs(number, txs, nonces)  # signed outside the timed calls
            try:
                t0 = time.perf_counter()
                executed = client.execute(block_env(number), batch)
                t1 = time.perf_counter()
                client.commit(executed, expected_state_root=executed.state_root)
                t2 = time.perf_counter()
            except Exception as exc:
                with lock:
                    result.errors.append(f"block {number}: {type(exc).__name__}: {exc}")
                result.stopped_by = "a failed write"
                break
            with lock:
                result.record("ExecuteBatch", t1 - t0)
                result.record("Commit", t2 - t1)
                result.blocks = number
                result.transactions += len(batch)
                result.rss.append((number, *rss_bytes(server.proc.pid)))
            if progress is not None and number % 50 == 0:
                progress(f"block {number}: RSS {result.rss[-1][1] / MIB:.1f} MiB, {time.monotonic() - started:.0f}s")
        result.seconds = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        for c in clients:
            c.close()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=500)
    parser.add_argument("--txs", type=int, default=50, help="transactions per block")
    parser.add_argument("--readers", type=int, default=2, help="reader threads (each its own channel)")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop after this long in any case")
    parser.add_argument("--warmup", type=int, default=None, help="blocks before the RSS baseline (default 10)")
    parser.add_argument("--scheduler", default="sequential", choices=["sequential", "blockstm"])
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    result = soak(args.blocks, args.txs, args.readers, args.max_seconds, args.scheduler, args.workers, args.warmup,
                  progress=lambda line: print(line, flush=True))
    print(result.report())
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
