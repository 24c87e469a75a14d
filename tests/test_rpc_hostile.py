"""gRPC on hostile bytes and a busy port (issue #16, defect 7).

Request bytes that are not the method's message used to come back INTERNAL ("Exception
deserializing request!"); ``hyperion serve`` on a busy port used to write a genesis into a
new data directory before failing.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import grpc
import pytest

from hyperion.v1 import execution_pb2 as pb

from tests.rpc_support import running_server, small_alloc

SERVICE = "/hyperion.v1.Execution/"
#: not a protobuf message: wire type 7, an invalid tag, a truncated varint, a length past the end
GARBAGE = [b"\xff\xff\xff\xff", b"\x0f", b"\x08\x80\x80", b"\x0a\x05ab"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(str(tmp_path_factory.mktemp("rpc") / "data")) as (server, client):
        yield server, client


def _raw_unary(server, method: str, payload: bytes):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_unary(SERVICE + method, request_serializer=None, response_deserializer=None)
        return call(payload, timeout=30)


@pytest.mark.parametrize("method", ["ExecuteBatch", "Commit", "GetAccount", "GetProof", "Call", "EstimateGas"])
@pytest.mark.parametrize("payload", GARBAGE)
def test_undecodable_request_is_invalid_argument(server, method, payload):
    with pytest.raises(grpc.RpcError) as info:
        _raw_unary(server[0], method, payload)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert "not a valid protobuf message" in info.value.details()


def test_undecodable_stream_message_is_invalid_argument(server):
    with grpc.insecure_channel(f"127.0.0.1:{server[0].port}") as channel:
        call = channel.stream_stream(SERVICE + "ExecuteStream", request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as info:
            list(call(iter([GARBAGE[0]]), timeout=30))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, info.value.details()


def test_the_server_serves_after_garbage(server):
    raw = _raw_unary(server[0], "GetHead", pb.GetHeadRequest().SerializeToString())
    assert pb.GetHeadResponse.FromString(raw).head.number == 0
    assert server[1].get_head().head.number == 0


def test_serve_on_a_busy_port_fails_before_writing_a_genesis(tmp_path):
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(small_alloc()))
    data_dir = tmp_path / "fresh"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-c", "from hyperion.cli import main; main()", "serve", "--data-dir", str(data_dir),
             "--listen", f"127.0.0.1:{port}", "--genesis", str(genesis)],
            capture_output=True, text=True, timeout=300)
    assert completed.returncode != 0
    assert "already in use" in completed.stderr, completed.stderr
    assert not os.path.exists(data_dir), os.listdir(data_dir)
