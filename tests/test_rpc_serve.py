"""``hyperion serve`` as a process: start-up checks, TLS, SIGTERM drain and restart."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading

import pytest
from click.testing import CliRunner

from hyperion import Engine, TxStatus
from hyperion.tools import workloads
from hyperion.rpc import Client, RpcError, RpcServer, ServerConfig, ServerConfigError, Unavailable

from tests.rpc_support import ACCOUNTS, ServeProcess, env, new_engine, small_alloc

ALICE, BOB = workloads.wallet(0), workloads.wallet(1)


# -- start-up refusals (in-process CLI: nothing is started) ------------------------------------
@pytest.mark.parametrize("listen", ["0.0.0.0:50051", "[::]:0", "192.0.2.1:50051", "example.com:50051"])
def test_non_loopback_without_tls_and_token_is_refused(tmp_path, listen):
    from hyperion.cli import main

    data_dir = tmp_path / "data"
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(data_dir), "--listen", listen])
    assert result.exit_code != 0
    assert "refusing to listen" in result.output and "TLS" in result.output and "token" in result.output
    assert not data_dir.exists()  # refused before touching anything


def test_server_config_checks():
    ServerConfig(listen="127.0.0.1:0").check()
    ServerConfig(listen="[::1]:0").check()
    ServerConfig(listen="localhost:0").check()
    with pytest.raises(ServerConfigError, match="bearer token"):
        ServerConfig(listen="0.0.0.0:1", tls_cert="c", tls_key="k").check()
    with pytest.raises(ServerConfigError, match="TLS"):
        ServerConfig(listen="0.0.0.0:1", token="t").check()
    ServerConfig(listen="0.0.0.0:1", tls_cert="c", tls_key="k", token="t").check()
    with pytest.raises(ServerConfigError, match="both"):
        ServerConfig(tls_cert="c").check()


def test_a_busy_port_is_reported(tmp_path):
    engine = new_engine(str(tmp_path / "data"))
    try:
        first = RpcServer(engine, ServerConfig(listen="127.0.0.1:0"))
        port = first.start()
        try:
            with pytest.raises(ServerConfigError, match="cannot listen"):
                RpcServer(engine, ServerConfig(listen=f"127.0.0.1:{port}")).start()
        finally:
            first.stop(grace=1)
    finally:
        engine.close()


# -- TLS with client certificates --------------------------------------------------------------
def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=hyperion-test-ca", cwd=d)
    for name, san in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"), ("client", "subjectAltName=DNS:client")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        (d / f"{name}.ext").write_text(san + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d


def test_tls_with_client_certificates_and_token(tmp_path, certificates):
    d = certificates
    engine = new_engine(str(tmp_path / "data"))
    config = ServerConfig(listen="127.0.0.1:0", tls_cert=str(d / "server.pem"), tls_key=str(d / "server.key"),
                          tls_client_ca=str(d / "ca.pem"), token="tls-token", grace=1)
    server = RpcServer(engine, config)
    try:
        port = server.start()
        ca = (d / "ca.pem").read_bytes()
        target = f"localhost:{port}"
        with Client(target, token="tls-token", root_certificates=ca, client_certificate=(d / "client.pem").read_bytes(),
                    client_key=(d / "client.key").read_bytes(), timeout=30) as client:
            assert client.get_head().head.number == 0
            result = client.execute(env(1), [workloads.sign_tx(ALICE, 0, BOB.address, value=1)], mode="commit")
            assert result.head.number == 1
        with Client(target, token="tls-token", root_certificates=ca, timeout=10) as no_cert:
            with pytest.raises(RpcError):
                no_cert.get_head()
        with Client(f"127.0.0.1:{port}", token="tls-token", timeout=10) as plaintext:
            with pytest.raises(Unavailable):
                plaintext.get_head()
    finally:
        server.stop(grace=1)
        engine.close()


# -- the real process ---------------------------------------------------------------------------
def _write_genesis(tmp_path) -> str:
    path = tmp_path / "alloc.json"
    path.write_text(json.dumps(small_alloc()))
    return str(path)


@pytest.mark.parametrize("grace, committed", [("60", True), ("0", False)], ids=["drained", "cancelled"])
def test_sigterm_with_a_batch_in_flight_then_restart(tmp_path, grace, committed):
    """SIGTERM while a COMMIT-mode batch executes: with time to drain it finishes and
    commits; with --grace 0 the call is cancelled and the block discarded.  Either way
    the store holds whole blocks only, and a restart serves the last committed head."""
    data_dir = str(tmp_path / "data")
    genesis = _write_genesis(tmp_path)
    serve = ServeProcess(data_dir, "--genesis", genesis, "--grace", grace, "--hold-timeout", "600")
    try:
        port = serve.wait_listening()
        with Client(f"127.0.0.1:{port}", timeout=120) as client:
            nonces = {}
            first = client.execute(env(1), workloads.transfer_batch(4, ACCOUNTS, nonces), mode="commit")
            assert first.head.number == 1
            held = client.execute(env(2), workloads.transfer_batch(2, ACCOUNTS, dict(nonces)))  # dropped at exit
            assert held.state == "held"
            # the in-flight batch: block 2 on the head, committed if it finishes in time
            batch = workloads.transfer_batch(60, ACCOUNTS, nonces) + workloads.erc20_batch(60, ACCOUNTS, nonces)
            outcome = {}

            def run():
                try:
                    outcome["result"] = client.execute(env(2), batch, mode="commit")
                except RpcError as exc:
                    outcome["error"] = exc

            thread = threading.Thread(target=run)
            thread.start()
            serve.wait_for(lambda l: '"execute.start"' in l and '"number": 2' in l and '"mode": "commit"' in l,
                           serve.stderr_lines, 120, "in-flight execute.start")
            serve.proc.send_signal(signal.SIGTERM)
            thread.join(180)
            assert not thread.is_alive()
        assert serve.proc.wait(180) == 0, "\n".join(serve.stderr_lines[-20:])
    finally:
        serve.kill()
    events = [json.loads(line) for line in serve.stderr_lines if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "server.signal" in names and "server.draining" in names and names[-1] == "server.stopped"
    # the held execution went: as a sibling of the committed in-flight block, or at shutdown
    dropped = [i for e in events if e["event"] == "shutdown.dropped_held" for i in e["execution_ids"]]
    dropped += [i for e in events if e["event"] == "commit.done" for i in e["dropped"]]
    assert held.id in dropped

    # what the store holds: the in-flight block entirely, or not at all
    assert ("result" in outcome) == committed, outcome
    assert ("execute.abandoned" in names) == (not committed)
    with Engine.open(data_dir) as engine:
        head = engine.head
        if committed:
            assert outcome["result"].state == "committed"
            assert head.number == 2 and head.state_root == outcome["result"].state_root
        else:
            assert head.number == 1 and head.state_root == first.state_root
        nonce_sum = sum(engine.get_nonce(w.address) for w in workloads.wallets(ACCOUNTS))
        assert nonce_sum == (4 + 120 if head.number == 2 else 4)
        assert engine.pending_blocks() == []

    # restart: the server shows the last committed head and carries on
    serve = ServeProcess(data_dir)
    try:
        port = serve.wait_listening()
        with Client(f"127.0.0.1:{port}", timeout=120) as client:
            assert client.head == head
            nonces = {w.index: client.get_nonce(w.address) for w in workloads.wallets(4)}
            more = client.execute(env(head.number + 1), workloads.transfer_batch(4, 4, nonces), mode="commit")
            assert [r.status for r in more.tx_results] == [TxStatus.SUCCESS] * 4
        assert serve.terminate(signal.SIGINT) == 0
    finally:
        serve.kill()


def test_blockstm_workers_survive_ctrl_c_while_the_server_drains(tmp_path):
    """Ctrl-C in a terminal sends SIGINT to the whole process group: the Block-STM workers
    must not die of it; the server drains, the in-flight block runs to its end on them."""
    serve = ServeProcess(str(tmp_path / "data"), "--genesis", _write_genesis(tmp_path), "--scheduler", "blockstm",
                         "--workers", "2", new_session=True)
    try:
        port = serve.wait_listening()
        with Client(f"127.0.0.1:{port}", timeout=300) as client:
            nonces = {}
            batch = workloads.transfer_batch(100, ACCOUNTS, nonces) + workloads.erc20_batch(100, ACCOUNTS, nonces)
            outcome = {}
            thread = threading.Thread(target=lambda: outcome.update(r=client.execute(env(1), batch, mode="commit")))
            thread.start()
            serve.wait_for(lambda l: '"execute.start"' in l, serve.stderr_lines, 120, "execute.start")
            os.killpg(serve.proc.pid, signal.SIGINT)
            thread.join(300)
        assert serve.proc.wait(180) == 0
    finally:
        if serve.proc.poll() is None:
            os.killpg(serve.proc.pid, signal.SIGKILL)
        serve.kill()
    result = outcome["r"]
    assert result.state == "committed" and result.stats.scheduler == "blockstm"
    assert "KeyboardInterrupt" not in (result.stats.fallback or ""), result.stats.fallback
    assert result.stats.worker_restarts == 0
    assert not any("KeyboardInterrupt" in line for line in serve.stderr_lines)
