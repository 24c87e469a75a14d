"""eth-tester's own backend test suite (``BaseTestBackendDirect``) run against HyperionBackend.

Tests that do not apply are listed in ``NOT_APPLICABLE`` with the reason (docs/web3.md);
everything else runs as eth-tester ships it.
"""
from __future__ import annotations

import pytest

pytest.importorskip("eth_tester", reason="the web3 extra (web3, eth-tester) is not installed")

from eth_tester import EthereumTester  # noqa: E402
from eth_tester.utils.backend_testing import BaseTestBackendDirect  # noqa: E402

from hyperion.ecosystem import HyperionBackend  # noqa: E402

#: eth-tester tests that check its py-evm backend's own choices, not the backend interface
NOT_APPLICABLE = {
    "test_get_fee_history": "asserts eth-tester's py-evm backend's fee-history layout (the newest block's "
                            "ancestors, newest first, oldest_block always 1); HyperionBackend answers as "
                            "JSON-RPC eth_feeHistory defines it (the blocks up to the newest, oldest first, "
                            "and the next block's base fee)",
}


@pytest.fixture
def eth_tester():
    backend = HyperionBackend()
    yield EthereumTester(backend=backend)
    backend.close()


class TestHyperionBackendDirect(BaseTestBackendDirect):
    @pytest.fixture(autouse=True)
    def _not_applicable(self, request):
        reason = NOT_APPLICABLE.get(request.node.originalname)
        if reason:
            pytest.xfail(reason)
