"""Over gRPC: a call whose deadline passes (or that the client cancels) stops its execution
and frees the writer at once, keeping nothing; a refused RevertTo changes nothing."""
from __future__ import annotations

import time

import grpc
import pytest

from hyperion import ChainConfig, Engine, TxStatus, UnsignedTx
from hyperion.tools import workloads
from hyperion.errors import DeadlineExceededError, ExecutionCancelled
from hyperion.rpc import Client, DeadlineExceeded, FailedPrecondition

from tests.rpc_support import GENESIS_TIME, env, running_server
from tests.test_engine_deadlines import BIG_BLOCK, LOOP, SLACK, deadline_alloc, loop_tx, transfers

ALICE = workloads.wallet(0)
#: the server's Call / EstimateGas gas cap is 50M by default: several seconds of looping
BIG_GAS_CALL = 50_000_000


@pytest.fixture
def rpc(tmp_path):
    engine = Engine.open(str(tmp_path / "data"))
    engine.init_genesis(deadline_alloc(), chain_config=ChainConfig.hyperion_default(), timestamp=GENESIS_TIME)
    try:
        with running_server(str(tmp_path / "data"), engine=engine) as (server, client):
            yield server, client
    finally:
        engine.close()


def record_outcomes(engine: Engine, name: str) -> list:
    """Wrap ``engine.<name>`` to record (exception type or None, when it returned)."""
    outcomes = []
    real = getattr(engine, name)

    def wrapper(*args, **kwargs):
        try:
            result = real(*args, **kwargs)
        except BaseException as exc:
            outcomes.append((type(exc), time.monotonic()))
            raise
        outcomes.append((None, time.monotonic()))
        return result

    setattr(engine, name, wrapper)
    return outcomes


def wait_for(outcomes: list, timeout: float) -> tuple:
    deadline = time.monotonic() + timeout
    while not outcomes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert outcomes, f"the execution was still running {timeout}s later"
    return outcomes[0]


def assert_writer_free_and_nothing_kept(server, client: Client) -> None:
    assert server.engine.pending_blocks() == [] and client.get_head().held_execution_ids == ()
    assert client.head.number == 0 and client.get_nonce(ALICE.address) == 0
    # the single writer is free: a block executes and commits within a short deadline
    result = client.execute(env(1), transfers(1), mode="commit", timeout=SLACK + 2)
    assert result.state == "committed" and result.tx_results[0].status is TxStatus.SUCCESS


def test_an_expired_execute_batch_stops_its_execution(rpc):
    server, client = rpc
    outcomes = record_outcomes(server.engine, "execute")
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        client.execute(env(1, gas_limit=BIG_BLOCK), [loop_tx()], timeout=1.0)
    error, ended = wait_for(outcomes, 1.0 + SLACK)
    assert error is DeadlineExceededError and ended - started < 1.0 + SLACK
    assert_writer_free_and_nothing_kept(server, client)


def test_a_cancelled_execute_batch_stops_its_execution(rpc):
    server, client = rpc
    outcomes = record_outcomes(server.engine, "execute")
    future = client.stub.ExecuteBatch.future(client.batch_request(env(1, gas_limit=BIG_BLOCK), [loop_tx()]),
                                             timeout=600)
    time.sleep(0.5)
    cancelled_at = time.monotonic()
    future.cancel()
    error, ended = wait_for(outcomes, SLACK)
    assert error is ExecutionCancelled and ended - cancelled_at < SLACK
    with pytest.raises(grpc.FutureCancelledError):
        future.result()
    assert_writer_free_and_nothing_kept(server, client)


@pytest.mark.parametrize("method", ["call", "estimate_gas", "simulate"])
def test_expired_reads_stop_their_execution(rpc, method):
    server, client = rpc
    outcomes = record_outcomes(server.engine, "simulate")
    call = UnsignedTx(sender=ALICE.address, nonce=None, gas=BIG_GAS_CALL, to=LOOP)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        if method == "simulate":
            client.simulate(env(1, gas_limit=BIG_BLOCK), [loop_tx()], timeout=1.0)
        else:
            getattr(client, method)(call, timeout=1.0)
    error, ended = wait_for(outcomes, 1.0 + SLACK)
    assert error is DeadlineExceededError and ended - started < 1.0 + SLACK
    assert_writer_free_and_nothing_kept(server, client)


def test_a_refused_revert_to_keeps_the_held_executions(rpc):
    server, client = rpc
    client.execute(env(1), transfers(1), mode="commit")
    held = client.execute(env(2), transfers(1, start=1))
    child = client.execute(env(3), transfers(1, start=2), parent=held)
    for target in (1001, 3):
        with pytest.raises(FailedPrecondition, match="cannot revert"):
            client.revert_to(target)
        assert client.get_head().held_execution_ids == (held.id, child.id)
    assert client.commit(held).number == 2
    assert client.commit(child).number == 3
    assert client.head.state_root == child.state_root
