"""Over gRPC: a refused RevertTo changes nothing."""
from __future__ import annotations

import pytest

from hyperion import ChainConfig, Engine, workloads
from hyperion.rpc import FailedPrecondition

from tests.rpc_support import GENESIS_TIME, env, running_server
from tests.test_engine_deadlines import deadline_alloc, transfers

ALICE = workloads.wallet(0)


@pytest.fixture
def rpc(tmp_path):
    engine = Engine.open(str(tmp_path / "data"))
    engine.init_genesis(deadline_alloc(), chain_config=ChainConfig.hyperion_default(), timestamp=GENESIS_TIME)
    try:
        with running_server(str(tmp_path / "data"), engine=engine) as (server, client):
            yield server, client
    finally:
        engine.close()


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
