"""The gRPC execution service end to end: a real server on a loopback port, the real client."""
from __future__ import annotations

import time
import urllib.request

import grpc
import pytest

from hyperion import TxStatus, UnsignedTx
from hyperion.tools import workloads
from hyperion.rpc import (
    Client,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
    Unimplemented,
)
from hyperion.v1 import execution_pb2 as pb
from hyperion.v1 import types_pb2 as tpb

from tests.rpc_support import ACCOUNTS, env, running_server

ALICE, BOB, CAROL = workloads.wallet(0), workloads.wallet(1), workloads.wallet(2)


@pytest.fixture
def rpc(tmp_path):
    with running_server(str(tmp_path / "data")) as (server, client):
        yield server, client


def transfer(sender, nonce, to=None, value=1000, **kwargs):
    return workloads.sign_tx(sender, nonce, (to or CAROL).address if hasattr(to or CAROL, "address") else to,
                             value=value, **kwargs)


# -- round trips ----------------------------------------------------------------------------
def test_execute_commit_round_trip(rpc):
    server, client = rpc
    info = client.get_head()
    assert info.head.number == 0 and info.chain_id == 31337 and info.held_execution_ids == ()
    nonces = {}
    txs = workloads.transfer_batch(3, ACCOUNTS, nonces) + workloads.erc20_batch(3, ACCOUNTS, nonces, offset=3)
    result = client.execute(env(1), txs, include_state_diff=True)
    assert result.state == "held" and result.id > 0 and result.expires_in > 0
    assert [r.status for r in result.tx_results] == [TxStatus.SUCCESS] * 6
    assert result.receipts[-1].cumulative_gas_used == result.gas_used
    assert len(result.tx_results[3].logs) == 1  # ERC-20 Transfer event
    assert result.diff.accounts and result.diff.storage  # state diff on request
    assert client.get_head().held_execution_ids == (result.id,)
    assert client.head.number == 0  # nothing written before Commit

    # the engine in-process gives the same block
    engine = server.engine
    head = client.commit(result, expected_state_root=result.state_root)
    assert head.number == 1 and head.state_root == result.state_root == engine.head.state_root
    assert client.get_nonce(workloads.wallet(0).address) == 1
    token_slot = workloads.token_balance_slot((0xBEEF000000 + 3).to_bytes(20, "big"))
    assert client.get_storage(workloads.TOKEN_ADDRESS, token_slot) == 1
    assert client.get_code(workloads.TOKEN_ADDRESS) == workloads.token_runtime()
    assert client.get_account(b"\x99" * 20) is None


def test_commit_mode_and_simulate_mode(rpc):
    _, client = rpc
    simulated = client.execute(env(1), [transfer(ALICE, 0)], mode="simulate")
    assert simulated.state == "simulated" and simulated.id == 0
    assert client.head.number == 0 and client.get_head().held_execution_ids == ()
    committed = client.execute(env(1), [transfer(ALICE, 0)], mode="commit")
    assert committed.state == "committed" and committed.head.number == 1
    assert committed.state_root == simulated.state_root
    assert client.head.state_root == committed.state_root


def test_retried_commit_is_idempotent(rpc):
    _, client = rpc
    result = client.execute(env(1), [transfer(ALICE, 0)])
    head = client.commit(result)
    response = client.stub.Commit(pb.CommitRequest(execution_id=result.id))
    assert response.already_committed and response.head.number == head.number


def test_invalid_transactions_are_reported_not_refused(rpc):
    _, client = rpc
    txs = [transfer(ALICE, 0), transfer(ALICE, 5), b"\x02garbage", transfer(BOB, 0)]
    result = client.execute(env(1), txs)
    statuses = [r.status for r in result.tx_results]
    assert statuses == [TxStatus.SUCCESS, TxStatus.INVALID, TxStatus.INVALID, TxStatus.SUCCESS]
    assert "nonce too high" in result.tx_results[1].error
    assert "malformed" in result.tx_results[2].error
    assert result.tx_results[3].receipt_index == 1  # no gaps
    with pytest.raises(InvalidArgument, match="transaction 1 is invalid"):
        client.execute(env(1), txs, strict=True)


def test_unsigned_transactions_with_explicit_sender(rpc):
    _, client = rpc
    tx = UnsignedTx(sender=ALICE.address, nonce=0, gas=21_000, to=BOB.address, value=7,
                    max_fee_per_gas=2 * workloads.GWEI, max_priority_fee_per_gas=workloads.GWEI)
    result = client.execute(env(1), [tx])
    assert result.tx_results[0].status is TxStatus.SUCCESS
    assert result.tx_results[0].sender == ALICE.address


# -- pipelining -----------------------------------------------------------------------------
def test_pipelined_held_executions_commit_in_order(rpc):
    _, client = rpc
    first = client.execute(env(1), [transfer(ALICE, 0)])
    second = client.execute(env(2), [transfer(ALICE, 1)], parent=first)
    assert second.parent_id == first.id
    # reads and calls at a held execution see its state, the head does not
    assert client.get_nonce(ALICE.address, at=second) == 2
    assert client.get_nonce(ALICE.address, at=first) == 1
    assert client.get_nonce(ALICE.address) == 0
    with pytest.raises(FailedPrecondition, match="commit that one first"):
        client.commit(second)
    client.commit(first)
    head = client.commit(second)
    assert head.number == 2 and head.state_root == second.state_root


def test_discard_cascades_to_descendants(rpc):
    _, client = rpc
    a = client.execute(env(1), [transfer(ALICE, 0)])
    b = client.execute(env(2), [transfer(ALICE, 1)], parent=a)
    c = client.execute(env(3), [transfer(ALICE, 2)], parent=b)
    assert sorted(client.discard(a)) == sorted([a.id, b.id, c.id])
    assert client.get_head().held_execution_ids == ()
    with pytest.raises(NotFound, match="ancestor execution"):
        client.commit(c)
    with pytest.raises(NotFound, match="was discarded"):
        client.discard(a)
    with pytest.raises(FailedPrecondition, match="unknown parent"):
        client.execute(env(2), [transfer(ALICE, 1)], parent=a)
    assert client.head.number == 0


def test_committing_a_sibling_drops_the_others(rpc):
    _, client = rpc
    a = client.execute(env(1), [transfer(ALICE, 0)])
    b = client.execute(env(1), [transfer(BOB, 0)])
    response = client.stub.Commit(pb.CommitRequest(execution_id=b.id))
    assert list(response.dropped_ids) == [a.id]
    with pytest.raises(NotFound, match="committed on the same parent"):
        client.commit(a)


def test_expiry_of_undecided_held_executions(tmp_path):
    with running_server(str(tmp_path / "data"), hold_timeout=0.4) as (server, client):
        a = client.execute(env(1), [transfer(ALICE, 0)])
        b = client.execute(env(2), [transfer(ALICE, 1)], parent=a)
        time.sleep(1.2)
        with pytest.raises(NotFound, match="expired"):
            client.commit(a)
        with pytest.raises(NotFound, match=r"ancestor \(execution \d+\) expired"):
            client.commit(b)
        with pytest.raises(FailedPrecondition, match="expired"):
            client.execute(env(2), [transfer(ALICE, 1)], parent=a)
        with pytest.raises(NotFound, match="expired"):
            client.get_account(ALICE.address, at=a)
        assert server.engine.pending_blocks() == []
        assert client.get_head().held_execution_ids == ()
        # a decision in time is unaffected
        c = client.execute(env(1), [transfer(ALICE, 0)])
        assert client.commit(c).number == 1


def test_stale_parent_is_refused(rpc):
    _, client = rpc
    with pytest.raises(FailedPrecondition, match="does not follow its parent"):
        client.execute(env(5), [transfer(ALICE, 0)])
    held = client.execute(env(1), [transfer(ALICE, 0)])
    with pytest.raises(FailedPrecondition, match="does not follow its parent"):
        client.execute(env(3), [transfer(ALICE, 1)], parent=held)
    with pytest.raises(FailedPrecondition, match="unknown parent"):
        client.execute(env(2), [transfer(ALICE, 1)], parent=12345)
    with pytest.raises(FailedPrecondition, match="COMMIT mode"):
        client.execute(env(2), [transfer(ALICE, 1)], parent=held, mode="commit")
    # the head moved under a held execution built on the old head: its child is stale
    child = client.execute(env(2), [transfer(ALICE, 1)], parent=held)
    client.execute(env(1), [transfer(BOB, 0)], mode="commit")
    with pytest.raises((FailedPrecondition, NotFound)):
        client.commit(child)
    with pytest.raises(FailedPrecondition):
        client.execute(env(3), [transfer(ALICE, 2)], parent=child)


def test_revert_to(rpc):
    _, client = rpc
    one = client.execute(env(1), [transfer(ALICE, 0)], mode="commit")
    client.execute(env(2), [transfer(ALICE, 1)], mode="commit")
    held = client.execute(env(3), [transfer(ALICE, 2)])
    response = client.stub.RevertTo(pb.RevertToRequest(block_number=1))
    assert response.head.number == 1 and response.head.state_root == one.state_root
    assert list(response.dropped_ids) == [held.id]
    assert client.get_nonce(ALICE.address) == 1
    with pytest.raises(NotFound, match="reverted"):
        client.commit(held)
    with pytest.raises(FailedPrecondition, match="cannot revert"):
        client.revert_to(7)


# -- streams --------------------------------------------------------------------------------
def test_execute_stream_pipelines_consecutive_blocks(rpc):
    _, client = rpc
    blocks = 4
    with client.stream() as stream:
        stream.execute(env(1), [transfer(ALICE, 0)])
        for n in range(2, blocks + 1):
            stream.execute(env(n), [transfer(ALICE, n - 1)], parent_is_previous=True)
        held = []
        for _ in range(blocks):
            reply = stream.next().unwrap()
            assert reply.kind == "executed" and reply.result.state == "held"
            held.append(reply.result)
        assert [h.number for h in held] == [1, 2, 3, 4]
        assert [h.parent_id for h in held[1:]] == [h.id for h in held[:-1]]
        stream.commit(held[1])  # out of order: an error reply, the stream carries on
        for h in held:
            stream.commit(h)
        error = stream.next()
        assert error.kind == "error" and isinstance(error.error, FailedPrecondition)
        heads = [stream.next().unwrap().head for _ in held]
        assert [h.number for h in heads] == [1, 2, 3, 4]
        # commit mode on the stream, chained on the (now committed) previous block
        stream.execute(env(5), [transfer(ALICE, 4)], parent_is_previous=True, mode="commit")
        assert stream.next().unwrap().result.head.number == 5
    assert client.head.state_root == client.get_head().head.state_root
    assert client.get_nonce(ALICE.address) == 5


def test_stream_reports_errors_per_request(rpc):
    _, client = rpc
    with client.stream() as stream:
        stream.discard(4242)
        stream.execute(env(9), [transfer(ALICE, 0)])
        stream.execute(env(1), [transfer(ALICE, 0)], mode="commit")
        assert isinstance(stream.next().error, NotFound)
        assert isinstance(stream.next().error, FailedPrecondition)
        assert stream.next().unwrap().result.state == "committed"


# -- calls ----------------------------------------------------------------------------------
def test_call_and_estimate_gas(rpc):
    _, client = rpc
    balance_of = Client.call_message(workloads.TOKEN_ADDRESS, workloads.erc20_balance_of_data(ALICE.address))
    call = client.call(balance_of)
    assert call.success and int.from_bytes(call.return_data, "big") == 10**24
    transfer_data = workloads.erc20_transfer_data(b"\x42" * 20, 5)
    message = Client.call_message(workloads.TOKEN_ADDRESS, transfer_data, sender=ALICE.address)
    estimate = client.estimate_gas(message)
    assert client.head.number == 0 and client.get_head().held_execution_ids == ()
    # the estimate is the least gas that works
    ok = client.execute(env(1), [workloads.sign_tx(ALICE, 0, workloads.TOKEN_ADDRESS, data=transfer_data,
                                                   gas=estimate)], mode="simulate")
    short = client.execute(env(1), [workloads.sign_tx(ALICE, 0, workloads.TOKEN_ADDRESS, data=transfer_data,
                                                      gas=estimate - 1)], mode="simulate")
    assert ok.tx_results[0].status is TxStatus.SUCCESS
    assert short.tx_results[0].status is not TxStatus.SUCCESS
    # a call that reverts says so (too many tokens)
    too_much = Client.call_message(workloads.TOKEN_ADDRESS, workloads.erc20_transfer_data(BOB.address, 10**30),
                                   sender=ALICE.address)
    assert client.call(too_much).status is TxStatus.REVERTED
    from hyperion.rpc import EstimateGasError

    with pytest.raises(EstimateGasError):
        client.estimate_gas(too_much)


def test_call_at_a_held_execution(rpc):
    _, client = rpc
    transfer_data = workloads.erc20_transfer_data(BOB.address, 10**24)  # all of Alice's tokens
    held = client.execute(env(1), [workloads.sign_tx(ALICE, 0, workloads.TOKEN_ADDRESS, data=transfer_data,
                                                     gas=80_000)])
    balance_of = Client.call_message(workloads.TOKEN_ADDRESS, workloads.erc20_balance_of_data(ALICE.address))
    assert int.from_bytes(client.call(balance_of).return_data, "big") == 10**24
    assert int.from_bytes(client.call(balance_of, at=held).return_data, "big") == 0


def test_get_proof_verifies_against_the_state_root(rpc):
    server, client = rpc
    if not hasattr(server.engine, "get_proof"):
        with pytest.raises(Unimplemented, match="Engine.get_proof"):
            client.get_proof(ALICE.address, [0])
        return
    import rlp
    from eth_hash.auto import keccak
    from trie import HexaryTrie

    held = client.execute(env(1), [transfer(ALICE, 0)])
    slot = workloads.token_balance_slot(ALICE.address)
    for at, root in ((None, client.head.state_root), (held, held.state_root)):
        proof = client.get_proof(workloads.TOKEN_ADDRESS, [slot], at=at)
        assert proof.state_root == root
        nodes = lambda raw: [rlp.decode(node) for node in raw]  # noqa: E731  (py-trie takes decoded nodes)
        account = HexaryTrie.get_from_proof(root, keccak(workloads.TOKEN_ADDRESS), nodes(proof.account_proof))
        nonce, balance, storage_root, code_hash = rlp.decode(account)
        assert storage_root == proof.storage_hash and code_hash == proof.code_hash
        entry = proof.storage_proof[0]
        assert int.from_bytes(entry.key, "big") == slot and int.from_bytes(entry.value, "big") == 10**24
        value = HexaryTrie.get_from_proof(storage_root, keccak(entry.key), nodes(entry.proof))
        assert rlp.decode(value) == (10**24).to_bytes(10, "big")
    alice = client.get_proof(ALICE.address, at=held)
    assert int.from_bytes(alice.balance, "big") == client.get_balance(ALICE.address, at=held) and alice.nonce == 1


def test_get_proof_is_wired_to_engine_get_proof(rpc):
    server, client = rpc
    calls = []

    def fake_get_proof(address, slots, at=None):
        calls.append((address, slots, at))
        return {"address": address, "accountProof": [b"\x01", b"\x02"], "balance": 5, "nonce": 1,
                "codeHash": b"\x11" * 32, "storageHash": b"\x22" * 32,
                "storageProof": [{"key": 3, "value": 4, "proof": [b"\x03"]}]}

    server.engine.get_proof = fake_get_proof
    try:
        proof = client.get_proof(ALICE.address, [3])
    finally:
        del server.engine.get_proof
    assert calls == [(ALICE.address, [3], None)]
    assert list(proof.account_proof) == [b"\x01", b"\x02"] and proof.nonce == 1 and proof.balance == b"\x05"
    assert int.from_bytes(proof.storage_proof[0].value, "big") == 4


# -- bad input, limits, deadlines, auth --------------------------------------------------------
def raw_execute(client, request, timeout=30):
    return client.stub.ExecuteBatch(request, timeout=timeout, metadata=client._metadata)


def status_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def good_request(**changes):
    request = Client.batch_request(env(1), [transfer(ALICE, 0)])
    for key, value in changes.items():
        setattr(request, key, value)
    return request


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.ClearField("env"), "env is required"),
    (lambda r: setattr(r.env, "coinbase", b"\x01" * 5), "env.coinbase"),
    (lambda r: setattr(r.env, "base_fee", b"\x01" * 33), "env.base_fee"),
    (lambda r: setattr(r.env, "prev_randao", b"\x01" * 31), "env.prev_randao"),
    (lambda r: r.env.withdrawals.add(address=b"\x01"), r"env.withdrawals\[0\].address"),
    (lambda r: r.transactions.add(), r"transactions\[1\]: set either"),
    (lambda r: r.transactions.add(unsigned=tpb.UnsignedTransaction(sender=b"\x01" * 20, gas=21000)),
     r"transactions\[1\].unsigned.nonce"),
    (lambda r: r.transactions.add(unsigned=tpb.UnsignedTransaction(sender=b"\x01" * 3, nonce=0, gas=1)),
     r"transactions\[1\].unsigned.sender"),
    (lambda r: r.transactions.add(unsigned=tpb.UnsignedTransaction(sender=b"\x01" * 20, nonce=0, gas=1, type=3)),
     r"transactions\[1\].unsigned.type"),
    (lambda r: setattr(r, "expected_state_root", b"\x01"), "expected_state_root"),
    (lambda r: setattr(r, "parent_is_previous", True), "parent_is_previous"),
])
def test_undecodable_input_is_invalid_argument(rpc, mutate, field):
    _, client = rpc
    request = good_request()
    mutate(request)
    code, details = status_of(lambda: raw_execute(client, request))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    import re

    assert re.search(field, details), details


def test_undecodable_read_input_is_invalid_argument(rpc):
    _, client = rpc
    with pytest.raises(InvalidArgument, match="address"):
        client.get_account(b"\x01" * 19)
    with pytest.raises(InvalidArgument, match="slot"):
        client.get_storage(ALICE.address, b"\x01" * 33)
    assert status_of(lambda: client.stub.Call(pb.CallRequest())) == (
        grpc.StatusCode.INVALID_ARGUMENT, "transaction is required")
    assert status_of(lambda: client.stub.Commit(pb.CommitRequest())) == (
        grpc.StatusCode.INVALID_ARGUMENT, "execution_id is required")


def test_unknown_execution_ids_are_not_found(rpc):
    _, client = rpc
    with pytest.raises(NotFound, match="unknown"):
        client.commit(777)
    with pytest.raises(NotFound):
        client.discard(777)
    with pytest.raises(NotFound):
        client.get_account(ALICE.address, at=777)
    with pytest.raises(NotFound):
        client.call(Client.call_message(BOB.address), at=777)


def test_oversized_batches_are_resource_exhausted(tmp_path):
    with running_server(str(tmp_path / "data"), max_batch_txs=3, max_batch_bytes=2000, max_batch_gas=40_000_000,
                        max_message_bytes=1 << 20) as (_, client):
        with pytest.raises(ResourceExhausted, match="--max-batch-txs"):
            client.execute(env(1), [transfer(ALICE, n) for n in range(4)])
        with pytest.raises(ResourceExhausted, match="--max-batch-bytes"):
            client.execute(env(1), [transfer(ALICE, 0, data=b"\x01" * 3000, gas=100_000)])
        with pytest.raises(ResourceExhausted, match="--max-batch-gas"):
            client.execute(env(1, gas_limit=50_000_000), [transfer(ALICE, 0)])
        # over the gRPC message limit: refused by gRPC itself, same code
        with pytest.raises(ResourceExhausted):
            client.execute(env(1), [b"\x02" + b"\x00" * (2 << 20)])
        assert client.execute(env(1), [transfer(ALICE, 0)]).state == "held"
        # a result over the message limit (1 MiB of revert data) is refused, nothing kept
        big_revert = UnsignedTx(sender=BOB.address, nonce=0, gas=3_000_000, to=None,
                                data=bytes.fromhex("62100000" "6000" "fd"), max_fee_per_gas=2 * workloads.GWEI)
        with pytest.raises(ResourceExhausted, match="--max-message-bytes"):
            client.execute(env(1), [big_revert])
        assert len(client.get_head().held_execution_ids) == 1


def test_deadline_exceeded_while_waiting_for_the_writer(rpc):
    server, client = rpc
    with server.service._writer:  # another write in progress
        with pytest.raises(DeadlineExceeded):
            client.execute(env(1), [transfer(ALICE, 0)], timeout=0.5)
        with pytest.raises(DeadlineExceeded):
            client.commit(1, timeout=0.5)
    time.sleep(0.2)
    assert server.engine.pending_blocks() == [] and client.head.number == 0


def test_execution_past_its_deadline_is_discarded(rpc):
    server, client = rpc
    engine = server.engine
    real_execute = engine.execute

    def slow_execute(*args, **kwargs):
        time.sleep(1.0)
        return real_execute(*args, **kwargs)

    engine.execute = slow_execute
    try:
        with pytest.raises(DeadlineExceeded):
            client.execute(env(1), [transfer(ALICE, 0)], timeout=0.3)
        with server.service._writer:  # the handler has finished
            pass
    finally:
        del engine.execute
    deadline = time.monotonic() + 10
    while engine.pending_blocks() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.pending_blocks() == [] and client.get_head().held_execution_ids == ()


def test_bearer_token_is_required(tmp_path):
    with running_server(str(tmp_path / "data"), token="s3cret") as (server, client):
        assert client.head.number == 0  # the client sends the token
        target = f"127.0.0.1:{server.port}"
        with Client(target) as anonymous:
            with pytest.raises(Unauthenticated, match="missing bearer token"):
                anonymous.get_head()
            with pytest.raises(Unauthenticated):
                anonymous.execute(env(1), [transfer(ALICE, 0)])
            with pytest.raises(Unauthenticated):
                with anonymous.stream() as stream:
                    stream.execute(env(1), [transfer(ALICE, 0)])
                    stream.next()
        with Client(target, token="wrong") as intruder:
            with pytest.raises(Unauthenticated, match="wrong bearer token"):
                intruder.commit(1)
        # health checks need no token (probers)
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="hyperion.v1.Execution"))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert server.engine.pending_blocks() == []


# -- standard services, metrics --------------------------------------------------------------
def test_health_and_reflection(rpc):
    server, client = rpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    health = health_pb2_grpc.HealthStub(client.channel)
    assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    database = ProtoReflectionDescriptorDatabase(client.channel)
    services = set(database.get_services())
    assert {"hyperion.v1.Execution", "grpc.health.v1.Health"} <= services
    descriptor = database.FindFileContainingSymbol("hyperion.v1.Execution")
    assert descriptor.name == "hyperion/v1/execution.proto"


def test_prometheus_metrics(tmp_path):
    with running_server(str(tmp_path / "data"), metrics="127.0.0.1:0") as (server, client):
        held = client.execute(env(1), [transfer(ALICE, 0), transfer(ALICE, 9)])
        client.commit(held)
        client.execute(env(2), [transfer(ALICE, 1)])
        with pytest.raises(NotFound):
            client.commit(999)
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values["hyperion_blocks_committed_total"] == 1
    assert values['hyperion_blocks_executed_total{mode="hold"}'] == 2
    assert values['hyperion_transactions_total{status="success"}'] == 2
    assert values['hyperion_transactions_total{status="invalid"}'] == 1
    assert values["hyperion_gas_used_total"] == 42_000
    assert values["hyperion_held_executions"] == 1
    assert values["hyperion_head_block"] == 1
    assert values['hyperion_rpc_requests_total{code="NOT_FOUND",method="Commit"}'] == 1
    assert values['hyperion_rpc_latency_seconds_count{method="ExecuteBatch"}'] == 2
    assert "hyperion_blockstm_aborts_total" in values and "hyperion_blockstm_reexecutions_total" in values


def test_stop_drops_held_executions_and_refuses_new_calls(tmp_path):
    from hyperion.rpc import Unavailable

    with running_server(str(tmp_path / "data")) as (server, client):
        held = client.execute(env(1), [transfer(ALICE, 0)])
        committed = client.execute(env(1), [transfer(BOB, 0)], mode="commit")
        child = client.execute(env(2), [transfer(BOB, 1)])
        server.stop(grace=1)
        assert server.engine.pending_blocks() == []
        assert server.engine.head.state_root == committed.state_root
        with pytest.raises(Unavailable):
            client.execute(env(2), [transfer(ALICE, 0)], timeout=5)
    assert held.id and child.id
