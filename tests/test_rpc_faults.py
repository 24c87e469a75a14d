"""The gRPC service under faults: a block environment the fork cannot run is the caller's
mistake (INVALID_ARGUMENT), not a server precondition."""
from __future__ import annotations

import pytest

from hyperion.rpc import InvalidArgument

from tests.rpc_support import env, running_server


def test_block_env_the_fork_refuses_is_invalid_argument(tmp_path):
    """A Prague block without a base fee: the block processor's BlockEnvError maps to
    INVALID_ARGUMENT, and the server goes on."""
    with running_server(str(tmp_path / "data")) as (server, client):
        with pytest.raises(InvalidArgument, match="base fee"):
            client.execute(env(1, base_fee=None), [])
        assert client.execute(env(1), []).state == "held"
