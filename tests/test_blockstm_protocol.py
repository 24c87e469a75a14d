"""The Block-STM wire (hyperion.scheduler.blockstm.protocol): every record and message kind
survives encode -> (pickle over a socket) -> decode, and malformed input is refused."""
from __future__ import annotations

import pickle

import pytest

from hyperion.evm.accountdb import WriteSet
from hyperion.evm.processor import TxOutcome
from hyperion.scheduler.blockstm import protocol as p
from hyperion.types import BlockEnv, Log, TxStatus

A = bytes.fromhex("aa" * 20)
B = bytes.fromhex("bb" * 20)
CODE_HASH = bytes.fromhex("cc" * 32)


def sample_write_set() -> WriteSet:
    return WriteSet(
        accounts={A: (3, 10**18, CODE_HASH), B: None},
        storage={A: {1: 7, 2**255: 0}},
        wiped={B},
        codes={CODE_HASH: b"\x60\x00"},
        coinbase_delta=21_000 * 10**9,
    )


def sample_reads() -> p.ReadSet:
    return {A: (2, 10**18 + 5, CODE_HASH), (A, 1): 6, (b"h", B, (1, 2)): False, B: None}


def sample_outcome() -> TxOutcome:
    return TxOutcome(
        status=TxStatus.REVERTED, gas_used=50_123, blob_gas_used=131072,
        logs=(Log(address=A, topics=(CODE_HASH, b"\x01" * 32), data=b"log data"), Log(address=B, topics=(), data=b"")),
        return_data=b"\x08\xc3\x79\xa0", contract_address=B, error="execution reverted", sender=A, gas_limit=90_000,
        inference_records=(("model", b"input", b"output"),),
    )


def assert_same_write_set(got: WriteSet, expected: WriteSet) -> None:
    assert (got.accounts, got.storage, got.wiped, got.codes, got.coinbase_delta) == (
        expected.accounts, expected.storage, expected.wiped, expected.codes, expected.coinbase_delta)


def test_execution_record_round_trip():
    record = p.ExecutionRecord(p.TxVersion(17, 3), sample_write_set(), sample_reads(), sample_outcome())
    raw = p.encode_record(record)
    assert isinstance(raw, bytes)
    decoded = p.decode_record(raw)
    assert type(decoded) is p.ExecutionRecord
    assert decoded.version == p.TxVersion(17, 3)
    assert_same_write_set(decoded.write_set, record.write_set)
    assert decoded.reads == record.reads
    assert decoded.outcome == record.outcome
    assert decoded.outcome.status is TxStatus.REVERTED and type(decoded.outcome.logs[0]) is Log


def test_execution_record_without_its_outcome():
    """Workers decode records without the outcome (they never use it)."""
    record = p.ExecutionRecord(p.TxVersion(0, 0), sample_write_set(), {}, sample_outcome())
    decoded = p.decode_record(p.encode_record(record), outcome=False)
    assert decoded.outcome is None
    assert decoded.sender == record.outcome.sender == A  # kept for a re-execution elsewhere
    assert decoded.version == record.version
    assert_same_write_set(decoded.write_set, record.write_set)


def test_estimate_record_round_trip():
    decoded = p.decode_record(p.encode_record(p.EstimateRecord(p.TxVersion(5, 2))))
    assert decoded == p.EstimateRecord(p.TxVersion(5, 2))


def test_records_travel_as_flat_tuples_not_pickled_dataclasses():
    """The hot-path wire is compact: no class of this module is pickled per record."""
    record = p.ExecutionRecord(p.TxVersion(1, 0), sample_write_set(), sample_reads(), sample_outcome())
    for raw in (p.encode_record(record), p.encode_record(p.EstimateRecord(p.TxVersion(1, 0)))):
        wire = pickle.loads(raw[1:])  # after the writer byte
        assert type(wire) is tuple
        assert b"hyperion" not in raw


def test_a_record_names_its_writer_outside_the_pickle():
    """A worker skips its own records by the first byte, without unpickling them."""
    record = p.ExecutionRecord(p.TxVersion(4, 1), sample_write_set(), sample_reads(), sample_outcome())
    for writer in (0, 7, p.MAX_WRITERS - 1):
        raw = p.encode_record(record, writer)
        assert p.record_writer(raw) == writer
        assert p.decode_record(raw).version == record.version
    assert p.record_writer(p.encode_record(p.EstimateRecord(p.TxVersion(1, 0)), 5)) == 5
    # the one value above every worker's index is the coordinator's (senders recovered ahead)
    assert p.COORDINATOR_WRITER == p.MAX_WRITERS
    assert p.record_writer(p.encode_record(p.RecoveredSenders(0, (None,)), p.COORDINATOR_WRITER)) == 255
    with pytest.raises(ValueError):
        p.encode_record(record, p.COORDINATOR_WRITER + 1)


def test_malformed_records_are_refused():
    with pytest.raises(p.ProtocolError):
        p.decode_record(b"\x00" + pickle.dumps((9, 1, 2)))
    with pytest.raises(p.ProtocolError):
        p.encode_record(("not", "a", "record"))


def sample_task() -> p.BlockTask:
    env = BlockEnv(number=7, timestamp=1_700_000_084, coinbase=B, base_fee=10**9, gas_limit=30_000_000)
    return p.BlockTask(seq=4, fork="cancun", chain_id=1, env=env, precompiles=("ai.matmul",),
                       ancestors={6: b"\x06" * 32}, inputs=[b"\x02raw-tx", b"\xf8legacy"], head_root=b"\x11" * 32,
                       layers=[{"a": 1}], fault={"exit_at_tx": 3})


SAMPLE_MESSAGES = [
    p.BlockMessage(sample_task(), p.LmdbBase("/tmp/hyperion-data")),
    p.BlockMessage(sample_task(), p.MemoryBase("1:2", tables={"accounts": {A: b"x"}})),
    p.BlockMessage(sample_task(), p.MemoryBase("1:2")),
    p.WarmUp((("cancun", ("ai.matmul",)), ("prague", ()))),
    p.Stop(),
    p.Ready(pid=4242, seconds=0.25),
    p.Warm(),
    p.Done(seq=4, stats=p.WorkerStats(executed=10, validated=12, decoded=9, seconds=1.5, setup_seconds=0.1,
                                      prepare_seconds=0.2, sync_seconds=0.3, idle_seconds=0.4)),
    p.Failed(seq=4, error="ValueError: boom\nTraceback ..."),
]


def test_every_message_kind_has_a_sample():
    assert {message.KIND for message in SAMPLE_MESSAGES} == set(p.MessageKind)


@pytest.mark.parametrize("message", SAMPLE_MESSAGES, ids=lambda m: type(m).__name__)
def test_message_round_trip(message):
    wire = p.encode_message(message)
    # what a multiprocessing Connection does to it on the way
    decoded = p.decode_message(pickle.loads(pickle.dumps(wire, protocol=pickle.HIGHEST_PROTOCOL)))
    assert type(decoded) is type(message)
    assert decoded == message


def test_block_messages_share_one_pickled_task():
    bases = [p.LmdbBase("/data"), p.MemoryBase("1:2"), p.MemoryBase("1:2", tables={})]
    wires = p.encode_block_messages(sample_task(), bases)
    assert len(wires) == 3
    assert wires[0][1] is wires[1][1] is wires[2][1]
    assert [p.decode_message(wire) for wire in wires] == [p.BlockMessage(sample_task(), base) for base in bases]


def test_worker_stats_breakdown_has_every_figure_but_the_total():
    stats = p.WorkerStats(seconds=9.0, setup_seconds=1.0, prepare_seconds=2.0, sync_seconds=3.0, idle_seconds=4.0,
                          cpu_seconds=8.5, decoded=12, recovered=10, recovered_ahead=2)
    assert stats.breakdown() == {"setup_seconds": 1.0, "prepare_seconds": 2.0, "sync_seconds": 3.0,
                                 "idle_seconds": 4.0, "cpu_seconds": 8.5, "decoded": 12, "recovered": 10,
                                 "recovered_ahead": 2}


@pytest.mark.parametrize("wire", [(), ("done", 1, {}), (99,), (int(p.MessageKind.READY), 1), None,
                                  (int(p.MessageKind.STOP), "extra")])
def test_malformed_messages_are_refused(wire):
    with pytest.raises(p.ProtocolError):
        p.decode_message(wire)


def test_encode_refuses_what_is_not_a_message():
    with pytest.raises(p.ProtocolError):
        p.encode_message(("stop",))


def test_reads_match_against_a_reader():
    class Reader:
        def read_account(self, address):
            return {A: (2, 10**18 + 5, CODE_HASH)}.get(address)

        def read_storage(self, address, slot):
            return 6 if (address, slot) == (A, 1) else 0

        def has_storage(self, address, excluded):
            return False

    reads = sample_reads()
    assert p.reads_match(reads, Reader())
    assert not p.reads_match({**reads, (A, 1): 5}, Reader())
    assert not p.reads_match({**reads, (b"h", B, ()): True}, Reader())
