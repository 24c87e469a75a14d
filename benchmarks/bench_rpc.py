"""What gRPC adds: ExecuteBatch + Commit of 1,000-transaction blocks over loopback versus
the same blocks executed and committed in-process, side by side in one run.

    python benchmarks/bench_rpc.py [--blocks 6] [--txs 1000] [--scheduler sequential]
    python -m pytest benchmarks/test_bench_rpc.py       # the pytest-benchmark version

Both sides start from the same genesis (the demo's: 1,000 wallets and the ERC-20 token)
on their own LMDB data directory and get byte-identical signed batches (half ETH
transfers, half ERC-20 ``transfer``; senders recovered from the signatures on both sides,
docs/design.md §12).  The server is a real ``hyperion serve`` subprocess on 127.0.0.1; the
client calls ExecuteBatch (HOLD) and then Commit — two round trips per block.  Blocks
alternate which side runs first, so load from other processes hits both alike, and both
processes are warmed up alike first (block 1 simulated once).  Every block's state root
must agree.

Columns: in-process = ``engine.execute`` + ``engine.commit``; gRPC = the two calls as the
client sees them; server = the engine time inside the server (execute + commit), so
gRPC - server is what the transport, encoding and decoding cost.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional

import hyperion.cli  # noqa: F401  (hyperion.commands.* import hyperion.cli first)
from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads
from hyperion.commands.demo import DEMO_ACCOUNTS, GENESIS_TIME, demo_block
from hyperion.rpc import Client

COINBASE = b"\xc0" + b"\x00" * 18 + b"\x01"


def block_env(number: int) -> BlockEnv:
    return BlockEnv(number=number, timestamp=GENESIS_TIME + 12 * number, coinbase=COINBASE, base_fee=workloads.GWEI,
                    gas_limit=60_000_000, parent_beacon_block_root=number.to_bytes(32, "big"))


def make_blocks(engine: Engine, blocks: int, txs: int) -> List[list]:
    nonces: dict = {}
    return [demo_block(engine, number, txs, nonces) for number in range(1, blocks + 1)]


class Server:
    """``hyperion serve`` on a fresh data directory (default genesis) on a free port."""

    def __init__(self, data_dir: str, scheduler: str = "sequential") -> None:
        cmd = [sys.executable, "-c", "from hyperion.cli import main; main()", "serve", "--data-dir", data_dir,
               "--listen", "127.0.0.1:0", "--log-format", "json", "--scheduler", scheduler]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = ""
        for line in self.proc.stdout:
            if "listening on" in line:
                break
        else:
            raise RuntimeError(f"hyperion serve did not start (exit {self.proc.wait()})")
        self.port = int(line.split("listening on ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux /proc)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Row:
    number: int
    txs: int
    local: float
    local_exec: float
    remote: float
    remote_server: float
    remote_exec: float
    first: str
    local_cpu: float = float("nan")
    remote_cpu: float = float("nan")

    @property
    def overhead(self) -> float:
        return self.remote / self.local - 1


@dataclass
class Bench:
    """Both sides, ready to run block after block."""

    blocks: List[list]
    engine: Engine
    client: Client
    server: Optional[Server]
    workdir: str
    rows: List[Row] = field(default_factory=list)
    next_number: int = 1
    last_cpu: float = 0.0

    def run_local(self, number: int):
        txs = self.blocks[number - 1]
        cpu = time.process_time()
        started = time.perf_counter()
        result = self.engine.execute(block_env(number), txs)
        self.engine.commit(result)
        self.last_cpu = time.process_time() - cpu
        return time.perf_counter() - started, result

    def run_remote(self, number: int):
        txs = self.blocks[number - 1]
        cpu, server_cpu = time.process_time(), self.server.cpu_seconds()
        started = time.perf_counter()
        result = self.client.execute(block_env(number), txs)
        self.client.commit(result)
        elapsed = time.perf_counter() - started
        self.last_cpu = time.process_time() - cpu + self.server.cpu_seconds() - server_cpu
        return elapsed, result

    def run_block(self) -> Row:
        number = self.next_number
        self.next_number += 1
        if number % 2:
            local, lres = self.run_local(number)
            local_cpu = self.last_cpu
            remote, rres = self.run_remote(number)
            remote_cpu = self.last_cpu
        else:
            remote, rres = self.run_remote(number)
            remote_cpu = self.last_cpu
            local, lres = self.run_local(number)
            local_cpu = self.last_cpu
        if lres.state_root != rres.state_root:
            raise AssertionError(f"block {number}: state roots differ between in-process and gRPC")
        row = Row(number, len(self.blocks[number - 1]), local, lres.stats.total_seconds, remote,
                  rres.stats.total_seconds + rres.stats.commit_seconds, rres.stats.total_seconds,
                  "local" if number % 2 else "gRPC", local_cpu, remote_cpu)
        self.rows.append(row)
        return row

    def close(self) -> None:
        self.client.close()
        if self.server is not None:
            self.server.stop()
        self.engine.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def setup(blocks: int, txs: int, scheduler: str = "sequential") -> Bench:
    workdir = tempfile.mkdtemp(prefix="hyperion-bench-rpc-")
    server = None
    engine = Engine.open(os.path.join(workdir, "local"), scheduler=scheduler)
    try:
        server = Server(os.path.join(workdir, "remote"), scheduler)  # writes its genesis meanwhile
        engine.init_genesis(workloads.genesis_alloc(DEMO_ACCOUNTS), chain_config=ChainConfig.hyperion_default(),
                            timestamp=GENESIS_TIME)
        batches = make_blocks(engine, blocks, txs)
        client = Client(f"127.0.0.1:{server.port}", timeout=600)
        client.wait_ready(60)
        if client.head.state_root != engine.head.state_root:
            raise AssertionError("the two genesis states differ")
        # warm both processes alike (lazy imports, py-evm caches): simulate block 1 once
        engine.simulate(block_env(1), batches[0])
        client.simulate(block_env(1), batches[0])
        return Bench(batches, engine, client, server, workdir)
    except BaseException:
        if server is not None:
            server.stop()
        engine.close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def summary(rows: List[Row]) -> dict:
    local = sum(r.local for r in rows)
    remote = sum(r.remote for r in rows)
    server = sum(r.remote_server for r in rows)
    return {
        "local": local, "remote": remote, "server": server,
        "overhead_total": remote / local - 1,
        "overhead_median": statistics.median(r.overhead for r in rows),
        "transport_ms": statistics.median((r.remote - r.remote_server) * 1000 for r in rows),
        "transport_share": statistics.median((r.remote - r.remote_server) / r.remote for r in rows),
        "txs": sum(r.txs for r in rows),
        "local_cpu": sum(r.local_cpu for r in rows),
        "remote_cpu": sum(r.remote_cpu for r in rows),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--txs", type=int, default=1000)
    parser.add_argument("--scheduler", default="sequential", choices=["sequential", "blockstm"])
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 132))
    started = time.perf_counter()
    bench = setup(args.blocks, args.txs, args.scheduler)
    console.print(f"set up in {time.perf_counter() - started:.1f}s: {args.blocks} blocks of {args.txs} signed txs, "
                  f"server pid {bench.server.proc.pid} on 127.0.0.1:{bench.server.port}, load "
                  f"{os.getloadavg()[0]:.2f}")
    try:
        table = Table(title=f"ExecuteBatch + Commit, {args.txs}-tx blocks: in-process vs gRPC over loopback")
        for column in ("block", "first", "in-process s", "gRPC s", "gRPC overhead", "server engine s",
                       "gRPC - server ms", "in-process CPU s", "gRPC CPU s", "CPU overhead"):
            table.add_column(column, justify="right")
        for _ in range(args.blocks):
            r = bench.run_block()
            table.add_row(str(r.number), r.first, f"{r.local:.3f}", f"{r.remote:.3f}", f"{r.overhead:+.1%}",
                          f"{r.remote_server:.3f}", f"{(r.remote - r.remote_server) * 1000:.1f}",
                          f"{r.local_cpu:.2f}", f"{r.remote_cpu:.2f}", f"{r.remote_cpu / r.local_cpu - 1:+.1%}")
        console.print(table)
        s = summary(bench.rows)
        console.print(
            f"total: in-process {s['local']:.2f}s ({s['txs'] / s['local']:,.0f} tx/s), gRPC {s['remote']:.2f}s "
            f"({s['txs'] / s['remote']:,.0f} tx/s): gRPC adds {s['overhead_total']:+.1%} end to end "
            f"(median per block {s['overhead_median']:+.1%}; goal <= +10%)")
        console.print(
            f"transport + encoding (gRPC wall time - server engine time): median {s['transport_ms']:.1f} ms per "
            f"block = {s['transport_share']:.1%} of the gRPC time")
        console.print(
            f"CPU time (less sensitive to other load): in-process {s['local_cpu']:.2f}s, gRPC client + server "
            f"{s['remote_cpu']:.2f}s: {s['remote_cpu'] / s['local_cpu'] - 1:+.1%}"
            + (" (coordinators only: Block-STM worker processes are not counted)" if args.scheduler != "sequential"
               else "") + f"; load average now {os.getloadavg()[0]:.2f}")
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
