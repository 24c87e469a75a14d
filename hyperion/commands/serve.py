"""``hyperion serve``: the gRPC execution service on a data directory.

    hyperion serve --data-dir ./hyperion-data --listen 127.0.0.1:50051 [--workers N] [--scheduler S]

On a fresh data directory it first writes the default genesis (the demo's: the Hyperion
chain configuration, 1,000 funded wallets and the ERC-20 token), or ``--genesis
alloc.json``.  SIGTERM / SIGINT drain the server: in-flight calls finish (or are
discarded once ``--grace`` runs out), held executions are dropped and the store is
closed cleanly.  A second signal exits at once; the store is still consistent (every
block commit is one LMDB transaction).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

import click

from hyperion.chain import ChainConfig
from hyperion.commands.jsoninput import parse_json
from hyperion.commands.options import data_dir_option, open_engine, scheduler_option, workers_option

GENESIS_TIME = 1_700_000_000
DEMO_ACCOUNTS = 1000
#: the largest --genesis file read (an alloc of a few million accounts; the file is parsed in memory)
MAX_GENESIS_BYTES = 1 << 30


def _load_genesis(path: str):
    """An alloc JSON (``{address: {balance, nonce, code, storage}}``), or a genesis file
    holding one under ``alloc`` (with an optional ``timestamp``); at most
    ``MAX_GENESIS_BYTES``, nested at most ``JSON_DEPTH`` deep."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_GENESIS_BYTES + 1)
    except OSError as exc:
        raise click.ClickException(f"--genesis {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_GENESIS_BYTES:
        raise click.ClickException(f"--genesis {path}: larger than {MAX_GENESIS_BYTES >> 20} MiB")
    data = parse_json(raw, f"--genesis {path}", click.ClickException)
    if not isinstance(data, dict):
        raise click.ClickException(f"--genesis {path}: expected a JSON object of address -> account")
    if "alloc" in data and isinstance(data["alloc"], dict):
        timestamp = data.get("timestamp", GENESIS_TIME)
        try:
            return data["alloc"], int(timestamp, 0) if isinstance(timestamp, str) else int(timestamp)
        except (TypeError, ValueError):
            raise click.ClickException(f"--genesis {path}: timestamp {timestamp!r} is not an integer") from None
    return data, GENESIS_TIME


def _read_token(token_file):
    if token_file:
        try:
            with open(token_file) as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise click.ClickException(f"--token-file {token_file}: {exc.strerror}") from None
        if not token:
            raise click.ClickException(f"--token-file {token_file} is empty")
        return token
    token = os.environ.get("HYPERION_RPC_TOKEN", "").strip()
    return token or None


@click.command("serve")
@data_dir_option
@click.option("--listen", default="127.0.0.1:50051", show_default=True,
              help="HOST:PORT to listen on (port 0 picks a free one). Non-loopback needs TLS and a token.")
@scheduler_option
@workers_option
@click.option("--genesis", "genesis_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Alloc JSON for a fresh data directory (default: the demo genesis).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), help="Server certificate chain (PEM).")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="Server private key (PEM).")
@click.option("--tls-client-ca", type=click.Path(dir_okay=False, exists=True),
              help="CA (PEM) for client certificates; clients must then present one.")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True),
              help="File holding the bearer token calls must carry (else $HYPERION_RPC_TOKEN, else none).")
@click.option("--metrics", "metrics_listen", default=None, metavar="HOST:PORT",
              help="Serve Prometheus metrics here, e.g. 127.0.0.1:9464.")
@click.option("--max-message-bytes", type=click.IntRange(1 << 20, 2**31 - 1), default=64 << 20, show_default=True,
              help="Largest gRPC message received or sent.")
@click.option("--max-batch-txs", type=click.IntRange(1), default=100_000, show_default=True,
              help="Most transactions in one ExecuteBatch.")
@click.option("--max-batch-gas", type=click.IntRange(1), default=1_000_000_000, show_default=True,
              help="Largest block gas limit one ExecuteBatch may ask for.")
@click.option("--max-batch-bytes", type=click.IntRange(1), default=32 << 20, show_default=True,
              help="Most transaction bytes in one ExecuteBatch.")
@click.option("--hold-timeout", type=click.FloatRange(0.01), default=60.0, show_default=True,
              help="Seconds a held execution may wait for Commit or Discard before it expires.")
@click.option("--call-timeout", type=click.FloatRange(0.01), default=300.0, show_default=True,
              help="Deadline (seconds) of a call that brings none; caps the ones that do.")
@click.option("--grace", type=click.FloatRange(0), default=30.0, show_default=True,
              help="Seconds in-flight calls get to finish on SIGTERM / SIGINT.")
@click.option("--threads", type=click.IntRange(2, 1024), default=32, show_default=True,
              help="gRPC handler threads (each open ExecuteStream holds one).")
@click.option("--log-format", type=click.Choice(["json", "text"]), default="json", show_default=True,
              help="Structured log lines on stderr.")
def command(data_dir, listen, scheduler, workers, genesis_path, tls_cert, tls_key, tls_client_ca, token_file,
            metrics_listen, max_message_bytes, max_batch_txs, max_batch_gas, max_batch_bytes, hold_timeout,
            call_timeout, grace, threads, log_format) -> None:
    """Serve the gRPC execution API (hyperion.v1.Execution) on a data directory."""
    from hyperion.tools import workloads
    from hyperion.rpc import logs
    from hyperion.rpc.server import RpcServer, ServerConfig
    from hyperion.rpc.service import ServiceLimits

    logs.configure(log_format, logging.getLogger().level if logging.getLogger().level < logging.INFO else logging.INFO)
    log = logging.getLogger("hyperion.rpc")
    config = ServerConfig(
        listen=listen, tls_cert=tls_cert, tls_key=tls_key, tls_client_ca=tls_client_ca, token=_read_token(token_file),
        max_message_bytes=max_message_bytes, threads=threads, grace=grace, metrics=metrics_listen,
        limits=ServiceLimits(max_batch_txs=max_batch_txs, max_batch_gas=max_batch_gas,
                             max_batch_bytes=max_batch_bytes, hold_timeout=hold_timeout, call_timeout=call_timeout),
    )
    config.check()  # refuse an unsafe listen address before touching the data directory
    genesis = _load_genesis(genesis_path) if genesis_path else None  # and a bad genesis file

    # A signal during start-up (genesis, workers) stops the server as soon as it is up.
    stop = threading.Event()
    signals = {"count": 0}

    def on_signal(signum, frame):
        signals["count"] += 1
        if signals["count"] > 1:
            logs.log_event(log, logging.WARNING, "server.forced_exit", signal=signal.Signals(signum).name)
            os._exit(130)
        logs.log_event(log, logging.INFO, "server.signal", signal=signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    # The engine (and the parallel scheduler's worker processes) before any gRPC object.
    try:
        engine = open_engine(data_dir, scheduler=scheduler, workers=workers)
    except BaseException:
        for s, handler in previous.items():
            signal.signal(s, handler)
        raise
    try:
        if engine.head.number < 0:
            started = time.perf_counter()
            if genesis:
                alloc, timestamp = genesis
                what = f"{len(alloc)} accounts from {genesis_path}"
            else:
                alloc, timestamp = workloads.genesis_alloc(DEMO_ACCOUNTS), GENESIS_TIME
                what = f"{DEMO_ACCOUNTS} funded demo wallets and an ERC-20 token"
            engine.init_genesis(alloc, chain_config=ChainConfig.hyperion_default(), timestamp=timestamp)
            logs.log_event(log, logging.INFO, "genesis.created", data_dir=data_dir, accounts=what,
                           seconds=time.perf_counter() - started)
        elif genesis_path:
            logs.log_event(log, logging.WARNING, "genesis.ignored", data_dir=data_dir, head=engine.head.number,
                           reason="the data directory already holds a chain")
        server = RpcServer(engine, config, close_engine=True)
        # Block-STM workers run in their own session, so a terminal's Ctrl-C reaches only
        # the server, which decides when they stop.
        engine.warm_up()
        port = server.start()
    except BaseException:
        engine.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
        raise

    host = server.address
    click.echo(f"hyperion serve: listening on {host} (data dir {data_dir}, head {engine.head.number}, "
               f"chain id {engine.chain_config.chain_id})", err=False)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    click.echo(f"hyperion serve: stopped (port {port})")
