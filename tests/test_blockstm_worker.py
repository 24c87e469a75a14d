"""The Block-STM worker's per-transaction economies (docs/design.md §15): a sender travels
in the record log, so a transaction re-executed on another worker is not recovered again."""
from __future__ import annotations

import pytest
from eth_keys import keys

from hyperion.evm import transactions
from hyperion.evm.accountdb import WriteSet
from hyperion.evm.forks import get_fork
from hyperion.evm.processor import TxOutcome
from hyperion.scheduler.blockstm import protocol as p
from hyperion.scheduler.blockstm.mvmemory import MVMemory
from hyperion.scheduler.blockstm.worker import install
from hyperion.types import TxStatus

from tests import txgen

KEY = keys.PrivateKey(b"\x07" * 32)
SENDER = KEY.public_key.to_canonical_address()
TO = b"\x02" * 20


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_a_known_sender_decodes_like_a_recovery_without_recovering(monkeypatch, tx_type):
    fork = get_fork("prague")
    raw = txgen.sign("prague", KEY, nonce=3, to=TO, value=5, data=b"\x01\x00", gas=50_000, tx_type=tx_type,
                     chain_id=1, eip155=True)
    recovered = transactions.decode_signed(fork, raw, 1, 4)
    assert recovered.error is None and recovered.sender == SENDER

    def no_recovery(*args):
        raise AssertionError("the sender was recovered again")

    monkeypatch.setattr(transactions.senders, "recover", no_recovery)
    transactions.senders.CACHE.clear()  # the sender must come from the argument, not the cache
    reused = transactions.prepare_one(fork, raw, 1, 4, sender=recovered.sender)
    assert (reused.sender, reused.tx.sender, reused.hash, reused.encoded, reused.type, reused.error, reused.index) == (
        recovered.sender, recovered.sender, recovered.hash, recovered.encoded, recovered.type, None, 4)
    assert reused.tx.signing_hash == recovered.tx.signing_hash


def test_a_known_sender_does_not_excuse_a_static_error():
    fork = get_fork("prague")
    raw = txgen.sign("prague", KEY, nonce=0, to=TO, gas=20_000, tx_type=2, chain_id=1)  # below 21,000
    recovered = transactions.decode_signed(fork, raw, 1)
    reused = transactions.decode_signed(fork, raw, 1, sender=recovered.sender)
    assert reused.error == recovered.error and reused.error.startswith("intrinsic gas too low")


def test_install_notes_the_sender_of_another_workers_record():
    memory = MVMemory(3, b"\xc0" * 20)
    senders = {}
    outcome = TxOutcome(status=TxStatus.SUCCESS, gas_used=21_000, sender=SENDER, gas_limit=21_000)
    writes = WriteSet({SENDER: (1, 5, transactions.keccak(b""))}, {}, set(), {}, 7)
    raw = p.encode_record(p.ExecutionRecord(p.TxVersion(2, 0), writes, {SENDER: None}, outcome, SENDER), 1)
    install(memory, p.decode_record(raw, outcome=False), senders)
    assert senders == {2: SENDER}
    assert memory.latest_below(SENDER, 3) == (2, (1, 5, transactions.keccak(b"")))
    install(memory, p.decode_record(p.encode_record(p.EstimateRecord(p.TxVersion(2, 0)), 1)), senders)
    assert senders == {2: SENDER}  # an aborted incarnation's sender is still the transaction's sender


def test_a_sender_record_reaches_the_other_workers():
    memory = MVMemory(4, b"\xc0" * 20)
    senders = {}
    raw = p.encode_record(p.SenderRecord(3, SENDER), 1)
    assert p.record_writer(raw) == 1 and p.decode_record(raw) == p.SenderRecord(3, SENDER)
    assert install(memory, p.decode_record(raw, outcome=False), senders) is False
    assert senders == {3: SENDER} and memory.latest_below(SENDER, 4) is None


def test_every_sender_is_recovered_once_per_block_across_the_workers():
    """Every transaction calls one counter and half of them share a sender: incarnations
    stop on read dependencies and resume on either worker, yet each signature is
    recovered once, and the result is the sequential one."""
    from hyperion import ChainConfig, Engine
    from tests.test_blockstm import block_env, build_batch, genesis

    config = ChainConfig(system_contracts=True)
    txs = build_batch([("counter", i, 0, 1) for i in range(40)], "high", config.chain_id)
    with Engine.in_memory(chain_config=config) as sequential, Engine.in_memory(
        chain_config=config, scheduler="blockstm", workers=2,
        scheduler_options={"min_txs": 1, "contention_probe": 10**9, "check": True},
    ) as parallel:
        sequential.init_genesis(genesis())
        parallel.init_genesis(genesis())
        expected = sequential.execute(block_env(), txs)
        # whether incarnations conflict depends on the workers' timing: run the block until
        # one run really re-executed transactions (each run must be exact either way)
        for _attempt in range(8):
            got = parallel.execute(block_env(), txs)
            assert got.stats.fallback is None, got.stats.fallback
            assert got.state_root == expected.state_root and got.tx_results == expected.tx_results
            assert all(r.status.value == "success" for r in got.tx_results)
            assert got.stats.extra["worker_recovered"] == len(txs)
            assert got.stats.extra["worker_decoded"] >= len(txs)
            parallel.discard(got)
            if got.stats.incarnations > len(txs):
                break
    assert got.stats.incarnations > len(txs), "no run re-executed a transaction"


class CountingReader:
    def __init__(self):
        self.calls = 0

    def read_account(self, address):
        self.calls += 1
        return None if address == TO else (1, 2, transactions.keccak(b""))

    def read_storage(self, address, slot):
        self.calls += 1
        return slot * 3

    def read_code(self, code_hash):
        self.calls += 1
        return b"\x60\x00"

    def has_storage(self, address, excluded=()):
        self.calls += 1
        return bool(excluded)


def test_the_block_base_answers_each_location_once():
    """Validation re-reads what execution read: the second answer comes from the block base."""
    from hyperion.scheduler.blockstm.worker import BlockBase

    reader = CountingReader()
    base = BlockBase(reader)
    for _ in range(3):
        assert base.read_account(TO) is None  # a missing account is kept too
        assert base.read_account(SENDER) == (1, 2, transactions.keccak(b""))
        assert base.read_storage(SENDER, 0) == 0 and base.read_storage(SENDER, 5) == 15
        assert base.read_code(b"\x01" * 32) == b"\x60\x00"
    assert reader.calls == 5
    assert base.has_storage(SENDER, (1,)) is True and base.has_storage(SENDER) is False
    assert reader.calls == 7  # asked with different exclusions each time: passed through
