"""Engine.simulate: a full execution that registers nothing."""
from __future__ import annotations

import threading

import pytest

from hyperion import ChainConfig, Engine, UnknownBlockError, UnsignedTx
from hyperion.tools import workloads

from tests.rpc_support import env, small_alloc


@pytest.fixture
def engine(tmp_path):
    engine = Engine.open(str(tmp_path / "data"))
    engine.init_genesis(small_alloc(), chain_config=ChainConfig.hyperion_default(), timestamp=1_700_000_000)
    yield engine
    engine.close()


def test_simulate_matches_execute_and_keeps_nothing(engine):
    nonces = {}
    txs = workloads.transfer_batch(4, 20, nonces) + workloads.erc20_batch(4, 20, nonces, offset=4)
    simulated = engine.simulate(env(1), txs)
    assert engine.pending_blocks() == []
    with pytest.raises(UnknownBlockError):
        engine.commit(simulated)
    executed = engine.execute(env(1), txs)
    for name in ("state_root", "receipts_root", "transactions_root", "logs_bloom", "gas_used", "block_hash"):
        assert getattr(simulated, name) == getattr(executed, name), name
    assert simulated.diff == executed.diff
    assert [r.status for r in simulated.tx_results] == [r.status for r in executed.tx_results]


def test_simulate_on_a_pending_parent(engine):
    alice, bob = workloads.wallet(0), workloads.wallet(1)
    first = engine.execute(env(1), [workloads.sign_tx(alice, 0, bob.address, value=5)])
    call = UnsignedTx(sender=alice.address, nonce=1, gas=30_000, to=bob.address, value=1, type=0, gas_price=0)
    result = engine.simulate(env(2, base_fee=0), [call], parent=first)
    assert result.tx_results[0].status.value == "success"
    assert result.parent_id == first.id
    assert [p.id for p in engine.pending_blocks()] == [first.id]
    # the head is untouched, the pending parent can still be committed
    engine.commit(first)
    assert engine.head.number == 1


def test_reads_do_not_wait_for_the_writer_lock(engine):
    """Readers use a snapshot; a running execute (holding the lock) does not block them."""
    address = workloads.wallet(0).address
    done = threading.Event()
    with engine._lock:  # what a long execute holds
        thread = threading.Thread(target=lambda: (engine.get_account(address), done.set()))
        thread.start()
        assert done.wait(10), "get_account waited for the writer lock"
    thread.join()
