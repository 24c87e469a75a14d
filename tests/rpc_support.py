"""Helpers of the gRPC tests: a real server on a free loopback port, with the real client."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator, List, Optional

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads
from hyperion.rpc import Client, RpcServer, ServerConfig, ServiceLimits

ACCOUNTS = 20
GENESIS_TIME = 1_700_000_000
COINBASE = b"\xc0" + b"\x00" * 18 + b"\x01"
#: a contract returning balance(A) + balance(B) of the first two wallets (one snapshot)
SUM_CONTRACT = bytes.fromhex("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a")


def sum_contract_code() -> bytes:
    a, b = workloads.wallet(0).address, workloads.wallet(1).address
    # PUSH20 a BALANCE PUSH20 b BALANCE ADD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    return (b"\x73" + a + b"\x31" + b"\x73" + b + b"\x31" + b"\x01" + bytes.fromhex("600052") + bytes.fromhex("60206000f3"))


def small_alloc() -> dict:
    alloc = workloads.genesis_alloc(ACCOUNTS)
    alloc["0x" + SUM_CONTRACT.hex()] = {"balance": "0x0", "code": "0x" + sum_contract_code().hex()}
    return alloc


def new_engine(data_dir: str) -> Engine:
    engine = Engine.open(data_dir)
    if engine.head.number < 0:
        engine.init_genesis(small_alloc(), chain_config=ChainConfig.hyperion_default(), timestamp=GENESIS_TIME)
    return engine


def env(number: int, base_fee: int = workloads.GWEI, **kwargs) -> BlockEnv:
    return BlockEnv(number=number, timestamp=GENESIS_TIME + 12 * number, coinbase=COINBASE, base_fee=base_fee,
                    parent_beacon_block_root=number.to_bytes(32, "big"), **kwargs)


@contextlib.contextmanager
def running_server(data_dir: str, *, token: Optional[str] = None, engine: Optional[Engine] = None,
                   **options) -> Iterator[tuple]:
    """Yields (server, client) for a fresh server on 127.0.0.1:<free port>."""
    limit_names = set(ServiceLimits.__dataclass_fields__) - {"max_message_bytes"}  # set via ServerConfig
    limits = ServiceLimits(**{k: v for k, v in options.items() if k in limit_names})
    config_options = {k: v for k, v in options.items() if k not in limit_names}
    own = engine is None
    engine = engine or new_engine(data_dir)
    server = RpcServer(engine, ServerConfig(listen="127.0.0.1:0", token=token, limits=limits, grace=5,
                                            **config_options))
    try:
        port = server.start()
        client = Client(f"127.0.0.1:{port}", token=token, timeout=60)
        try:
            yield server, client
        finally:
            client.close()
    finally:
        server.stop(grace=5)
        if own:
            engine.close()


class ServeProcess:
    """``hyperion serve`` in a subprocess; stderr (JSON logs) collected by a thread."""

    def __init__(self, data_dir: str, *args: str, env_vars: Optional[dict] = None, new_session: bool = False) -> None:
        cmd = [sys.executable, "-c", "from hyperion.cli import main; main()", "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
               "--log-format", "json", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, **(env_vars or {})), start_new_session=new_session)
        self.stderr_lines: List[str] = []
        self.stdout_lines: List[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines), daemon=True).start()
        self.port: Optional[int] = None

    def _pump(self, pipe, lines) -> None:
        for line in pipe:
            with self._cond:
                lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, predicate, lines: List[str], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and seen == len(lines)):
                    raise AssertionError(f"no {what} within {timeout}s (exit {self.proc.poll()}):\n"
                                         + "\n".join(self.stdout_lines + self.stderr_lines[-30:]))
                self._cond.wait(min(remaining, 0.5))

    def wait_listening(self, timeout: float = 180.0) -> int:
        line = self.wait_for(lambda l: "listening on" in l, self.stdout_lines, timeout, "'listening on' line")
        self.port = int(line.split("listening on ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])
        return self.port

    def client(self, **kwargs) -> Client:
        return Client(f"127.0.0.1:{self.port}", **kwargs)

    def terminate(self, sig=signal.SIGTERM, timeout: float = 120.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """Last resort cleanup: the server (and, in its own session, its workers)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
