"""What the Block-STM coordinator and its workers say to each other, typed (docs/design.md §15).

Two channels, one encoder/decoder pair each; they are the only code that knows wire
positions, everything else works on the dataclasses below:

* The shared record log (``hyperion.scheduler.blockstm.shared``): a worker appends one
  :class:`ExecutionRecord` per finished incarnation and one :class:`EstimateRecord` per
  incarnation it aborted; every worker applies the log to its multi-version memory replica,
  and the coordinator folds the final records.  The coordinator appends too: the senders
  its recovery helper found ahead (:class:`RecoveredSenders`).  :func:`encode_record` /
  :func:`decode_record`.
* The socket between the coordinator and each worker: :class:`BlockMessage`,
  :class:`WarmUp` and :class:`Stop` one way, :class:`Ready`, :class:`Warm`, :class:`Done`
  and :class:`Failed` the other.  :func:`encode_message` / :func:`decode_message`
  (:func:`encode_block_messages` is the block message for several workers at once).

Records are on the hot path -- one per incarnation, decoded by every worker -- so the wire
is a flat tuple pickled by :func:`encode_record`, not the dataclasses themselves, and
:func:`decode_record` skips the outcome unless asked for it (workers never need it).
Measured on the records of a 120-transaction mixed block: encode + decode about 4.7 us a
record (the bare tuples: 3.9 us); pickling the instances instead, about 19 us and 2.4 times
the bytes.  The record classes are not frozen for the same reason: a frozen dataclass's
``__init__`` costs about a microsecond more per record.

Names follow pevm: a transaction is a :data:`TxIdx` in the block, each execution of it an
incarnation (:data:`TxIncarnation`), the pair a :class:`TxVersion`; an incarnation has a
:data:`ReadSet` and a :class:`WriteSet`.
"""
from __future__ import annotations

import enum
import pickle
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Iterable, List, Optional, Tuple, Union

from hyperion.evm.accountdb import WriteSet
from hyperion.evm.processor import TxOutcome
from hyperion.types import BlockEnv, Log, TxStatus

__all__ = [
    "TxIdx", "TxIncarnation", "TxVersion", "Location", "ReadSet", "WriteSet", "ExecutionRecord", "EstimateRecord",
    "SenderRecord", "RecoveredSenders",
    "Record", "encode_record", "decode_record", "record_writer", "MAX_WRITERS", "COORDINATOR_WRITER", "reads_match", "BlockTask", "LmdbBase", "MemoryBase", "StoreBase",
    "WorkerStats", "MessageKind", "BlockMessage", "WarmUp", "Stop", "Ready", "Warm", "Done", "Failed", "Message",
    "encode_message", "decode_message", "encode_block_messages", "ProtocolError",
]

#: a transaction's position in the block
TxIdx = int
#: how many times the transaction has been executed before (0 for the first execution)
TxIncarnation = int

#: A location in the multi-version memory (see ``mvmemory_py``): an address (the account),
#: ``(address, slot)`` (a storage value), or ``(b"h", address, excluded slots)`` ("does the
#: address have storage besides these slots", asked when a contract is created).
Location = Union[bytes, Tuple[bytes, int], Tuple[bytes, bytes, Tuple[int, ...]]]
#: what one incarnation read: location -> the value the read returned
ReadSet = Dict[Location, Any]

_PICKLE = pickle.HIGHEST_PROTOCOL


class ProtocolError(RuntimeError):
    """A record or message that does not decode (a bug, or mismatched code versions)."""


@dataclass(slots=True)
class TxVersion:
    tx_idx: TxIdx
    tx_incarnation: TxIncarnation


# -- the record log ---------------------------------------------------------------------------
@dataclass(slots=True)
class ExecutionRecord:
    """A finished incarnation: what it wrote, what it read, and its outcome.

    ``outcome`` is None when the record was decoded with ``outcome=False``; ``sender``
    (the outcome's sender, None if it could not be recovered) is there either way, so
    that a worker re-executing the transaction need not recover it again.
    """

    version: TxVersion
    write_set: WriteSet
    reads: ReadSet
    outcome: Optional[TxOutcome]
    sender: Optional[bytes] = None


@dataclass(slots=True)
class EstimateRecord:
    """Incarnation ``version`` failed validation: its writes become ESTIMATE markers."""

    version: TxVersion


@dataclass(slots=True)
class SenderRecord:
    """The sender of transaction ``tx_idx``, recovered by an incarnation that stopped on a
    read dependency before it had an :class:`ExecutionRecord` (which carries the sender)
    to publish: whichever worker resumes the transaction does not recover it again."""

    tx_idx: TxIdx
    sender: bytes


@dataclass(slots=True)
class RecoveredSenders:
    """Senders of transactions ``first``, ``first + 1``, ... that the coordinator's recovery
    helper found ahead of the workers (docs/design.md §15); None where the helper recovered
    none (a bad signature: the worker's own path judges it and words the error).  Appended
    by the coordinator (:data:`COORDINATOR_WRITER`), one record per chunk the helper sends."""

    first: TxIdx
    senders: Tuple[Optional[bytes], ...]


Record = Union[ExecutionRecord, EstimateRecord, SenderRecord, RecoveredSenders]

# wire: one byte, the writer (the worker that appended the record, or COORDINATOR_WRITER),
#       then pickled
#       (_EXECUTION, tx, incarnation, accounts, storage, wiped, codes, coinbase delta, reads, sender,
#        outcome without its sender)
#    or (_ESTIMATE, tx, incarnation)
#    or (_SENDER, tx, sender)
#    or (_RECOVERED, first tx, senders)
_EXECUTION = 0
_ESTIMATE = 1
_SENDER = 2
_RECOVERED = 3
#: workers' indices fit the record's first byte; the last value is the coordinator's
MAX_WRITERS = 255
COORDINATOR_WRITER = 255


def encode_record(record: Record, writer: int = 0) -> bytes:
    """The bytes worker ``writer`` (or :data:`COORDINATOR_WRITER`) appends to the shared log.

    The writer's index travels outside the pickle so that a worker can skip its own
    records when it syncs (it installed them already) without unpickling them.
    """
    if type(record) is ExecutionRecord:
        version, writes = record.version, record.write_set
        outcome = record.outcome
        wire = (_EXECUTION, version.tx_idx, version.tx_incarnation, writes.accounts, writes.storage, writes.wiped,
                writes.codes, writes.coinbase_delta, record.reads, outcome.sender, _encode_outcome(outcome))
    elif type(record) is EstimateRecord:
        version = record.version
        wire = (_ESTIMATE, version.tx_idx, version.tx_incarnation)
    elif type(record) is SenderRecord:
        wire = (_SENDER, record.tx_idx, record.sender)
    elif type(record) is RecoveredSenders:
        wire = (_RECOVERED, record.first, record.senders)
    else:
        raise ProtocolError(f"not a record: {record!r}")
    return bytes((writer,)) + pickle.dumps(wire, protocol=_PICKLE)


def record_writer(raw: bytes) -> int:
    """Which worker (or :data:`COORDINATOR_WRITER`) appended the record ``raw`` (see
    :func:`encode_record`)."""
    return raw[0]


def decode_record(raw, outcome: bool = True) -> Record:
    """A record from the shared log; ``outcome=False`` skips decoding the outcome."""
    wire = pickle.loads(memoryview(raw)[1:])
    kind = wire[0]
    if kind == _EXECUTION:
        _, tx, incarnation, accounts, storage, wiped, codes, delta, reads, sender, encoded = wire
        return ExecutionRecord(TxVersion(tx, incarnation), WriteSet(accounts, storage, wiped, codes, delta), reads,
                               _decode_outcome(encoded, sender) if outcome else None, sender)
    if kind == _ESTIMATE:
        return EstimateRecord(TxVersion(wire[1], wire[2]))
    if kind == _SENDER:
        return SenderRecord(wire[1], wire[2])
    if kind == _RECOVERED:
        return RecoveredSenders(wire[1], wire[2])
    raise ProtocolError(f"unknown record kind {kind!r}")


def _encode_outcome(outcome: TxOutcome) -> tuple:
    return (
        outcome.status.value, outcome.gas_used, outcome.blob_gas_used,
        tuple((log.address, log.topics, log.data) for log in outcome.logs),
        outcome.return_data, outcome.contract_address, outcome.error, outcome.gas_limit,
        outcome.inference_records,
    )


# the coordinator decodes an outcome per transaction in its serial fold: a dict lookup is
# about 15 times cheaper than calling the enum
_STATUS_BY_VALUE = {status.value: status for status in TxStatus}


def _decode_outcome(wire: tuple, sender: Optional[bytes]) -> TxOutcome:
    status, gas_used, blob_gas_used, logs, return_data, contract, error, gas_limit, records = wire
    return TxOutcome(
        status=_STATUS_BY_VALUE[status], gas_used=gas_used, blob_gas_used=blob_gas_used,
        logs=tuple(Log(address=a, topics=t, data=d) for a, t, d in logs), return_data=return_data,
        contract_address=contract, error=error, sender=sender, gas_limit=gas_limit, inference_records=records,
    )


def reads_match(reads: ReadSet, reader) -> bool:
    """Does every value in ``reads`` equal what ``reader`` (a state view) holds now?"""
    for location, value in reads.items():
        if type(location) is bytes:
            current = reader.read_account(location)
        elif len(location) == 2:
            current = reader.read_storage(location[0], location[1])
        else:
            current = reader.has_storage(location[1], location[2])
        if current != value:
            return False
    return True


# -- what a block runs on ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BlockTask:
    """Everything a worker needs to run one block (pickled once for all workers)."""

    seq: int
    fork: str
    chain_id: int
    env: BlockEnv
    precompiles: Tuple[str, ...]
    ancestors: Dict[int, bytes]
    inputs: List[Any]
    head_root: bytes
    #: pending parents, then the pre-block system calls already in the overlay
    layers: List[Any]
    #: tests only: ``{"exit_at_tx": i}`` (see ``ParallelScheduler.fault_injection``)
    fault: Optional[Dict[str, int]] = None


@dataclass(frozen=True, slots=True)
class LmdbBase:
    """The worker opens (and keeps open) the LMDB store at ``path``."""

    path: str


@dataclass(frozen=True, slots=True)
class MemoryBase:
    """An in-memory store: ``tables`` is a full copy, sent once per worker and version."""

    generation: str
    tables: Optional[Any] = None


StoreBase = Union[LmdbBase, MemoryBase]


@dataclass(slots=True)
class WorkerStats:
    """One worker's work on one block; the ``*_seconds`` fields say where its time went."""

    executed: int = 0
    validated: int = 0
    #: transactions decoded
    decoded: int = 0
    #: transactions decoded without a sender known from another worker's record or from the
    #: coordinator's recovery helper (signed ones: their senders recovered here)
    recovered: int = 0
    #: transactions decoded with a sender the coordinator's recovery helper published
    recovered_ahead: int = 0
    seconds: float = 0.0
    setup_seconds: float = 0.0
    #: decoding + sender recovery
    prepare_seconds: float = 0.0
    #: applying the other workers' records to the local replica
    sync_seconds: float = 0.0
    #: waiting for a task
    idle_seconds: float = 0.0
    #: CPU time this worker process spent on the block (wall time on a busy machine is
    #: not a worker's cost: the worker may have waited for a core)
    cpu_seconds: float = 0.0

    def breakdown(self) -> Dict[str, float]:
        """What the coordinator adds up over the workers (``stats.extra["worker_<key>"]``):
        the time breakdown (without the total), the CPU time and the decoding counts."""
        return {"setup_seconds": self.setup_seconds, "prepare_seconds": self.prepare_seconds,
                "sync_seconds": self.sync_seconds, "idle_seconds": self.idle_seconds,
                "cpu_seconds": self.cpu_seconds, "decoded": self.decoded, "recovered": self.recovered,
                "recovered_ahead": self.recovered_ahead}


# -- socket messages --------------------------------------------------------------------------
class MessageKind(enum.IntEnum):
    BLOCK = 1
    WARM_UP = 2
    STOP = 3
    READY = 4
    WARM = 5
    DONE = 6
    FAILED = 7


@dataclass(frozen=True, slots=True)
class BlockMessage:
    """Coordinator -> worker: run ``task`` on ``base``."""

    KIND: ClassVar[MessageKind] = MessageKind.BLOCK
    task: BlockTask
    base: StoreBase


@dataclass(frozen=True, slots=True)
class WarmUp:
    """Coordinator -> worker: build these ``(fork name, precompile names)`` state classes now."""

    KIND: ClassVar[MessageKind] = MessageKind.WARM_UP
    specs: Tuple[Tuple[str, Tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Stop:
    """Coordinator -> worker: exit."""

    KIND: ClassVar[MessageKind] = MessageKind.STOP


@dataclass(frozen=True, slots=True)
class Ready:
    """Worker -> coordinator, once: started (``seconds`` after its first line)."""

    KIND: ClassVar[MessageKind] = MessageKind.READY
    pid: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Warm:
    """Worker -> coordinator: the :class:`WarmUp` is done."""

    KIND: ClassVar[MessageKind] = MessageKind.WARM


@dataclass(frozen=True, slots=True)
class Done:
    """Worker -> coordinator: block ``seq`` is finished on this worker."""

    KIND: ClassVar[MessageKind] = MessageKind.DONE
    seq: int
    stats: WorkerStats = field(default_factory=WorkerStats)


@dataclass(frozen=True, slots=True)
class Failed:
    """Worker -> coordinator: block ``seq`` raised ``error`` (first line: type and message)."""

    KIND: ClassVar[MessageKind] = MessageKind.FAILED
    seq: int
    error: str


Message = Union[BlockMessage, WarmUp, Stop, Ready, Warm, Done, Failed]
_MESSAGES = {cls.KIND: cls for cls in (BlockMessage, WarmUp, Stop, Ready, Warm, Done, Failed)}

# wire: (kind, *fields in declaration order); a BlockMessage carries its task pickled once
# for every worker: (BLOCK, pickled task, base)


def encode_message(message: Message) -> tuple:
    """What ``Connection.send`` carries for ``message``."""
    if type(message) is BlockMessage:
        return next(iter(encode_block_messages(message.task, [message.base])))
    if _MESSAGES.get(getattr(message, "KIND", None)) is not type(message):
        raise ProtocolError(f"not a message: {message!r}")
    return (int(message.KIND), *(getattr(message, name) for name in message.__match_args__))


def encode_block_messages(task: BlockTask, bases: Iterable[StoreBase]) -> List[tuple]:
    """The wire form of ``BlockMessage(task, base)`` for each base, the task pickled once."""
    payload = pickle.dumps(task, protocol=_PICKLE)
    return [(int(MessageKind.BLOCK), payload, base) for base in bases]


def decode_message(wire) -> Message:
    """The message ``Connection.recv`` returned."""
    try:
        cls = _MESSAGES[wire[0]]
    except (KeyError, IndexError, TypeError):
        raise ProtocolError(f"not a message: {wire!r:.200}") from None
    if cls is BlockMessage:
        _, payload, base = wire
        return BlockMessage(pickle.loads(payload), base)
    if len(wire) != 1 + len(cls.__match_args__):
        raise ProtocolError(f"{cls.__name__} with {len(wire) - 1} fields: {wire!r:.200}")
    return cls(*wire[1:])
