"""The call tracer, ``Engine.trace`` and the gRPC ``TraceTransaction``.

The call tracer's frames are checked against what the test's contracts must do (types,
addresses, inputs, outputs, revert reason, logs), its top frame's gas against the receipt
of an untraced run, and its inner frames' gas against the EIP-3155 trace of the same
transaction (which tests/test_trace_eip3155.py checks against the execution specs).
"""
from __future__ import annotations

import json

import grpc
import pytest
import rlp
from eth_hash.auto import keccak

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.errors import InvalidTransactionError
from hyperion.rpc.client import RpcError
from hyperion.trace import CallTracer, TraceOptions, TraceSession
from hyperion.trace.calltracer import revert_reason
from hyperion.types import UnsignedTx
from tests import rpc_support
from tests.evm_asm import asm, call, create, deploy_code, log, mstore_bytes

SENDER = bytes.fromhex("5e4de40000000000000000000000000000000001")
PARENT = bytes.fromhex("a100000000000000000000000000000000000001")
CHILD = bytes.fromhex("c100000000000000000000000000000000000001")
IDENTITY = (4).to_bytes(20, "big")
NOPE = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (4).to_bytes(32, "big") + b"nope".ljust(32, b"\0")
#: logs a word, then reverts with Error("nope")
CHILD_CODE = log([], 7).code + mstore_bytes(NOPE) + asm(len(NOPE), 0, "REVERT")
RUNTIME = b"\x00"
#: logs, calls CHILD (which reverts), STATICCALLs the identity precompile, creates a contract
PARENT_CODE = (log([0xAA], 1).code + call(CHILD, 0, 50_000, 0).code + call(IDENTITY, 0, 10_000, 1, "STATICCALL").code
               + create(deploy_code(RUNTIME), 0, 2).code + asm("STOP"))
GAS = 300_000


def hexa(address: bytes) -> str:
    return "0x" + address.hex()


@pytest.fixture
def engine():
    engine = Engine.in_memory(chain_config=ChainConfig())
    engine.init_genesis({hexa(SENDER): {"balance": hex(10**20)},
                         hexa(PARENT): {"balance": "0x0", "nonce": "0x1", "code": "0x" + PARENT_CODE.hex()},
                         hexa(CHILD): {"balance": "0x0", "code": "0x" + CHILD_CODE.hex()}})
    yield engine
    engine.close()


def block(engine) -> BlockEnv:
    return BlockEnv(number=1, timestamp=12, base_fee=10**9,
                    parent_beacon_block_root=b"\1" * 32)


def transactions(count: int = 1):
    return [UnsignedTx(sender=SENDER, nonce=n, gas=GAS, to=PARENT, max_fee_per_gas=2 * 10**9,
                       max_priority_fee_per_gas=1) for n in range(count)]


def test_call_frames(engine):
    env, txs = block(engine), transactions()
    receipt = engine.simulate(env, txs).tx_results[0]
    (traced,) = engine.trace(env, txs, 0, tracer="call")
    root = traced.tracer.result()
    created = keccak(rlp.encode([PARENT, 1]))[12:]
    assert [key for key in root] == ["type", "from", "gas", "gasUsed", "to", "input", "calls", "logs", "value"]
    assert (root["type"], root["from"], root["to"], root["value"]) == ("CALL", hexa(SENDER), hexa(PARENT), "0x0")
    assert (root["gas"], root["gasUsed"]) == (hex(GAS), hex(receipt.gas_used))
    assert root["logs"] == [{"address": hexa(PARENT), "topics": ["0x" + (0xAA).to_bytes(32, "big").hex()],
                             "data": "0x" + (1).to_bytes(32, "big").hex(), "position": "0x0"}]
    reverted, static, made = root["calls"]
    assert (reverted["type"], reverted["from"], reverted["to"]) == ("CALL", hexa(PARENT), hexa(CHILD))
    assert reverted["input"] == "0x" + bytes(64).hex()
    assert (reverted["error"], reverted["revertReason"], reverted["output"]) == ("execution reverted", "nope",
                                                                                  "0x" + NOPE.hex())
    assert "logs" not in reverted  # a reverted frame's logs are gone
    assert (static["type"], static["to"], static["output"]) == ("STATICCALL", hexa(IDENTITY), "0x" + bytes(64).hex())
    assert "value" not in static and "error" not in static
    assert (made["type"], made["to"], made["output"], made["value"]) == ("CREATE", hexa(created), "0x00", "0x0")
    assert made["input"] == "0x" + deploy_code(RUNTIME).hex()

    # inner frames' gas: what the EIP-3155 trace shows the child frame start with
    (struct,) = engine.trace(env, txs, 0)
    lines = struct.tracer.records()
    child_lines = [line for line in lines[:-1] if line.get("depth") == 2]
    assert int(reverted["gas"], 16) == int(child_lines[0]["gas"], 16)
    last = [line for line in child_lines if line["opName"] == "REVERT"][0]
    assert int(reverted["gasUsed"], 16) == int(reverted["gas"], 16) - int(last["gas"], 16) + int(last["gasCost"], 16)


def test_revert_reason_needs_a_whole_error_string():
    assert revert_reason(NOPE) == "nope"
    assert revert_reason(NOPE[:40]) is None
    assert revert_reason(b"\x4e\x48\x7b\x71" + bytes(32)) is None  # Panic(uint256) is not Error(string)
    assert revert_reason(NOPE[:4] + (32).to_bytes(32, "big") + (10**6).to_bytes(32, "big")) is None


def test_trace_one_transaction_of_a_block(engine):
    env, txs = block(engine), transactions(3)
    traces = engine.trace(env, txs, 1)
    assert [t.index for t in traces] == [1]
    everything = engine.trace(env, txs)
    assert [t.index for t in everything] == [0, 1, 2]
    assert everything[1].tracer.jsonl() == traces[0].tracer.jsonl()
    assert traces[0].tx_hash == engine.simulate(env, txs).tx_results[1].tx_hash
    summary = json.loads(traces[0].tracer.jsonl().splitlines()[-1])
    assert set(summary) == {"output", "gasUsed"}


def test_an_invalid_transaction_has_no_trace(engine):
    env = block(engine)
    bad = UnsignedTx(sender=SENDER, nonce=5, gas=GAS, to=PARENT, max_fee_per_gas=2 * 10**9)
    with pytest.raises(InvalidTransactionError, match="transaction 1 is invalid"):
        engine.trace(env, [transactions()[0], bad], 1)
    with pytest.raises(IndexError):
        engine.trace(env, transactions(), 3)
    with pytest.raises(ValueError, match="unknown tracer"):
        engine.trace(env, transactions(), 0, tracer="prestate")


def test_tracing_changes_no_result(engine):
    env, txs = block(engine), transactions(3)
    plain = engine.simulate(env, txs)
    session = TraceSession(lambda tx: CallTracer())
    traced = engine.simulate(env, txs, trace=session)
    assert len(session.traces) == 3
    assert traced.state_root == plain.state_root and traced.receipts_root == plain.receipts_root
    assert traced.diff == plain.diff


def test_memory_stack_and_line_limit(engine):
    env, txs = block(engine), transactions()
    (full,) = engine.trace(env, txs, 0, options=TraceOptions(memory=True, stack=False, return_data=True))
    records = full.tracer.records()
    assert all("stack" not in line and "returnData" in line for line in records[:-1])
    assert any("memory" in line for line in records[:-1])
    (cut,) = engine.trace(env, txs, 0, max_lines=5)
    assert cut.tracer.truncated and len(cut.tracer.records()) == 6  # five lines and the summary


def test_grpc_trace_transaction(tmp_path, monkeypatch):
    engine = rpc_support.new_engine(str(tmp_path / "data"))
    env = rpc_support.env(1)
    wallet = rpc_support.workloads.wallet(0)
    tx = UnsignedTx(sender=wallet.address, nonce=0, gas=100_000, to=rpc_support.SUM_CONTRACT,
                    max_fee_per_gas=2 * 10**9, max_priority_fee_per_gas=1)
    with rpc_support.running_server(str(tmp_path / "data"), engine=engine) as (_, client):
        (local,) = engine.trace(env, [tx], 0, options=TraceOptions(memory=True))
        lines = list(client.trace_transaction(env, [tx], 0, memory=True))
        assert lines == local.tracer.jsonl().splitlines()
        (frame,) = client.trace_transaction(env, [tx], 0, tracer="call")
        assert json.loads(frame)["to"] == hexa(rpc_support.SUM_CONTRACT)
        with pytest.raises(RpcError) as bad_index:
            list(client.trace_transaction(env, [tx], 1))
        assert bad_index.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(RpcError) as invalid:
            list(client.trace_transaction(env, [UnsignedTx(sender=wallet.address, nonce=9, gas=100_000,
                                                           to=rpc_support.SUM_CONTRACT)], 0))
        assert invalid.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        monkeypatch.setattr("hyperion.rpc.trace.DEFAULT_LINE_LIMIT", 4)
        received = []
        with pytest.raises(RpcError) as too_long:
            for line in client.trace_transaction(env, [tx], 0):
                received.append(line)
        assert too_long.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert received == local.tracer.jsonl().splitlines()[:4] + [received[-1]]
    engine.close()


def test_a_deadline_stops_a_long_trace():
    """A trace of a 10M-gas loop stops at its deadline (a traced frame runs the engine's
    checking opcodes too), keeping nothing."""
    import time

    from hyperion.errors import DeadlineExceededError

    loop = bytes.fromhex("c100000000000000000000000000000000000009")
    engine = Engine.in_memory(chain_config=ChainConfig())
    engine.init_genesis({hexa(SENDER): {"balance": hex(10**20)},
                         hexa(loop): {"code": "0x" + asm(("label", "top"), ("ref", "top"), "JUMP").hex()}})
    tx = UnsignedTx(sender=SENDER, nonce=0, gas=10_000_000, to=loop, max_fee_per_gas=2 * 10**9)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        engine.trace(block(engine), [tx], 0, deadline=time.monotonic() + 0.5, max_lines=1000)
    assert time.monotonic() - started < 10
    engine.close()
