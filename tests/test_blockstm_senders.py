"""Block-STM's senders recovered ahead: the coordinator's recovery helper publishes them to the
workers through the record log (docs/design.md §15, hyperion/scheduler/blockstm/publish.py)."""
from __future__ import annotations

import pytest

from hyperion import Engine
from hyperion.evm import senders
from hyperion.evm.accountdb import WriteSet
from hyperion.evm.processor import TxOutcome
from hyperion.scheduler.blockstm import protocol as p
from hyperion.scheduler.blockstm import shared as core
from hyperion.scheduler.blockstm.fold import InOrderFold
from hyperion.scheduler.blockstm.publish import SenderPublisher
from hyperion.tools import workloads
from hyperion.types import TxStatus

from tests.test_pertx import ACCOUNTS, CONFIG, ENV, _batch

SENDER = b"\x5e" * 20


def test_recovered_senders_travel_as_the_coordinators_record():
    record = p.RecoveredSenders(256, (SENDER, None, b"\x01" * 20))
    raw = p.encode_record(record, p.COORDINATOR_WRITER)
    assert p.record_writer(raw) == p.COORDINATOR_WRITER
    assert p.decode_record(raw) == record and p.decode_record(raw, outcome=False) == record
    # no worker index can be taken for the coordinator's
    assert p.COORDINATOR_WRITER >= p.MAX_WRITERS
    with pytest.raises(ValueError, match="workers must be between"):
        from hyperion.scheduler.blockstm.coordinator import ParallelScheduler
        ParallelScheduler(workers=p.MAX_WRITERS + 1)


class FakeScheduler:
    """The two calls the publisher makes: the execution index, and appends to the log."""

    def __init__(self, execution_index: int = 0, capacity: int = 10**9) -> None:
        self.execution_index = execution_index
        self.capacity = capacity
        self.log: list = []

    def header(self, index: int) -> int:
        assert index == core.H_EXECUTION_IDX
        return self.execution_index

    def append(self, payload: bytes) -> int:
        if len(self.log) >= self.capacity:
            return -1
        self.log.append(payload)
        return len(self.log)


def _published(scheduler: FakeScheduler) -> list:
    return [p.decode_record(raw) for raw in scheduler.log]


def test_the_publisher_passes_on_arrived_chunks_beyond_the_workers():
    recovering = senders.Recovering(10)
    scheduler = FakeScheduler(execution_index=3)
    publish = SenderPublisher(recovering, scheduler)
    publish()
    assert scheduler.log == [] and recovering.position == 3  # nothing arrived; the feeder skips 0..2
    recovering.senders[0:4] = [SENDER, SENDER, None, SENDER]
    recovering.arrived.append((0, 4))
    publish()
    # transactions 0..2 were handed out already: only 3 is worth publishing
    assert _published(scheduler) == [p.RecoveredSenders(3, (SENDER,))]
    recovering.senders[4:10] = [SENDER, None] * 3
    recovering.arrived.append((4, 10))
    scheduler.execution_index = 1  # a re-execution lowers the index; what was passed stays passed
    publish()
    assert _published(scheduler)[1] == p.RecoveredSenders(4, (SENDER, None) * 3)
    assert recovering.position == 3
    assert (publish.records, publish.published) == (2, 4)
    publish()  # each chunk once
    assert publish.records == 2


def test_the_publisher_stops_when_the_log_is_full():
    recovering = senders.Recovering(4)
    recovering.senders[:] = [SENDER] * 4
    recovering.arrived += [(0, 2), (2, 4)]
    scheduler = FakeScheduler(capacity=0)
    publish = SenderPublisher(recovering, scheduler)
    publish()
    assert publish.recovering is None and publish.records == 0
    SenderPublisher(None, scheduler)()  # no helper (a small block, or recovery ahead off): nothing to do


def test_the_fold_skips_the_coordinators_records():
    class Log:
        def __init__(self, records):
            self.records = records

        def read_records(self, position, wait=True):
            return self.records[position:], len(self.records)

    outcome = TxOutcome(status=TxStatus.SUCCESS, gas_used=21000, sender=SENDER)
    execution = p.ExecutionRecord(p.TxVersion(0, 0), WriteSet({}, {}, set(), {}, 0), {}, outcome, SENDER)
    fold = InOrderFold.__new__(InOrderFold)
    fold.scheduler = Log([p.encode_record(p.RecoveredSenders(0, (SENDER,)), p.COORDINATOR_WRITER),
                          p.encode_record(execution, 0)])
    fold._position, fold._latest = 0, {}
    fold._collect()
    assert list(fold._latest) == [0] and fold._latest[0].version == p.TxVersion(0, 0)


def _execute(txs, fault=None, **scheduler):
    senders.CACHE.clear()  # this process's cache must not stand in for recovery
    with Engine.in_memory(chain_config=CONFIG, **scheduler) as engine:
        engine.init_genesis(workloads.genesis_alloc(ACCOUNTS))
        if fault is not None:
            engine.warm_up()
            engine.scheduler.fault_injection = fault
        return engine.execute(ENV, txs)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_use_published_senders_and_broken_signatures_still_fail_alike(monkeypatch, workers):
    """Transfers and token calls, one signature that recovers no key and one unfunded sender:
    with senders published ahead the block equals sequential execution, the broken signature
    fails with the same text, and the workers decoded with published senders (the helper's
    answers are all in before the workers get the block, so the stat cannot be timing's luck)."""
    txs = _batch()
    assert len(txs) >= senders.PIPELINE_MIN_TXS
    expected = _execute(txs)
    submit = senders.RecoveryStage.submit

    def submit_and_wait(self, inputs):
        recovering = submit(self, inputs)
        self.wait()
        return recovering
    monkeypatch.setattr(senders.RecoveryStage, "submit", submit_and_wait)
    got = _execute(txs, scheduler="blockstm", workers=workers,
                   scheduler_options={"min_txs": 1, "recover_ahead": True})
    assert got.stats.fallback is None, got.stats.fallback
    assert (got.state_root, got.receipts_root, got.logs_bloom, got.gas_used) == (
        expected.state_root, expected.receipts_root, expected.logs_bloom, expected.gas_used)
    assert got.tx_results == expected.tx_results
    assert got.tx_results[7].error.startswith("invalid signature")
    extra = got.stats.extra
    # every sender but the broken one was published; the broken one is recovered in place
    assert extra["senders_published"] == len(txs) - 1
    assert extra["worker_recovered_ahead"] >= len(txs) // 2
    assert extra["worker_recovered"] >= 1
    # each transaction's first decoding took one or the other (a later one may take another worker's record)
    assert extra["worker_recovered_ahead"] + extra["worker_recovered"] >= len(txs)


def test_recovery_ahead_by_default_only_where_a_core_is_left_for_the_helper(monkeypatch):
    from hyperion.scheduler.blockstm import coordinator

    monkeypatch.setattr(coordinator, "default_workers", lambda: 2)
    assert coordinator.ParallelScheduler(workers=1).recover_ahead
    assert not coordinator.ParallelScheduler(workers=2).recover_ahead
    assert coordinator.ParallelScheduler(workers=2, recover_ahead=True).recover_ahead
    monkeypatch.setattr(coordinator, "default_workers", lambda: 4)
    assert coordinator.ParallelScheduler(workers=3).recover_ahead
    assert not coordinator.ParallelScheduler(workers=3, recover_ahead=False).recover_ahead


def test_recovery_ahead_can_be_turned_off():
    txs = _batch()
    got = _execute(txs, scheduler="blockstm", workers=2, scheduler_options={"min_txs": 1, "recover_ahead": False})
    assert got.stats.extra["senders_published"] == 0 and got.stats.extra["worker_recovered_ahead"] == 0
    assert got.stats.extra["worker_recovered"] == len(txs)


def test_the_sequential_rest_after_a_dead_worker_takes_the_helpers_senders_too():
    """A worker dies at transaction 3: the rest, the broken signature at 7 included, runs
    sequentially with the senders recovered ahead, and equals sequential execution."""
    txs = _batch()
    expected = _execute(txs)
    got = _execute(txs, fault={"exit_at_tx": 3}, scheduler="blockstm", workers=1,
                   scheduler_options={"min_txs": 1, "recover_ahead": True})
    assert "executed sequentially" in got.stats.fallback
    assert got.stats.extra["parallel_prefix"] <= 3
    assert (got.state_root, got.receipts_root, got.gas_used) == (
        expected.state_root, expected.receipts_root, expected.gas_used)
    assert got.tx_results == expected.tx_results
    assert got.tx_results[7].error.startswith("invalid signature")
