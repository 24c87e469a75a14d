"""The ``hyperion.v1.Execution`` servicer: the engine behind gRPC.

Concurrency (one :class:`ExecutionService` per engine):

- *Writers* — ExecuteBatch (hold / commit), Commit, Discard, RevertTo and the expiry of
  held executions — take ``_writer`` one at a time, waiting no longer than the call's
  deadline.  So a block is executed, committed or reverted by one call at a time.
- *Readers* — GetAccount, GetStorage, GetCode, GetProof, GetHead, Call, EstimateGas and
  ExecuteBatch in SIMULATE mode — never take ``_writer``: they read an LMDB snapshot (plus
  the diffs of held parents), so they run while a block executes and never see a
  half-committed one.
- ``_state`` guards the bookkeeping dicts (held executions, why an id is gone).

Held executions are the engine's pending blocks; the service adds their expiry and
remembers, for a bounded number of ids, why an id is no longer usable, so an error can
say "expired after 60 s undecided" rather than "unknown".
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import grpc

from hyperion.engine import Engine
from hyperion.errors import (
    BatchTooLargeError,
    ChainConfigError,
    GenesisError,
    HyperionError,
    InvalidBlockError,
    InvalidTransactionError,
    RevertError,
    StaleParentError,
    StoreError,
    UnknownBlockError,
)
from hyperion.rpc import convert
from hyperion.rpc.convert import BadInput
from hyperion.rpc.logs import log_event
from hyperion.rpc.metrics import Metrics
from hyperion.types import BlockEnv, BlockResult, TxStatus, UnsignedTx
from hyperion.v1 import execution_pb2 as pb
from hyperion.v1 import execution_pb2_grpc as pb_grpc
from hyperion.v1 import types_pb2 as tpb

log = logging.getLogger("hyperion.rpc")

SERVICE_NAME = "hyperion.v1.Execution"
MODE_NAMES = {pb.EXECUTION_MODE_HOLD: "hold", pb.EXECUTION_MODE_COMMIT: "commit",
              pb.EXECUTION_MODE_SIMULATE: "simulate"}
#: how many decided ids the service remembers, to explain a later use
REMEMBERED_IDS = 100_000


@dataclass
class ServiceLimits:
    """What one call may ask for (``hyperion serve`` options of the same names)."""

    max_batch_txs: int = 100_000
    #: cap on a batch's block gas limit (the work one call can demand)
    max_batch_gas: int = 1_000_000_000
    #: transaction payload per batch (signed bytes, unsigned calldata)
    max_batch_bytes: int = 32 * 1024 * 1024
    #: gas limit of Call / EstimateGas when the transaction names none
    call_gas_cap: int = 50_000_000
    #: a held execution neither committed nor discarded is dropped after this many seconds
    hold_timeout: float = 60.0
    #: server-side deadline of a call that brings none (and cap on the ones that do)
    call_timeout: float = 300.0
    #: largest response (the server's --max-message-bytes); a bigger result is refused
    max_message_bytes: int = 64 * 1024 * 1024


class RpcFailure(Exception):
    """An error the client will see as ``code`` with ``message``."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _fail(code: grpc.StatusCode, message: str) -> RpcFailure:
    return RpcFailure(code, message)


def map_error(exc: BaseException, *, parent: bool = False) -> RpcFailure:
    """Engine exception -> status code (``parent``: an unknown id was named as a parent)."""
    if isinstance(exc, RpcFailure):
        return exc
    if isinstance(exc, BadInput):
        return _fail(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, UnknownBlockError):
        code = grpc.StatusCode.FAILED_PRECONDITION if parent else grpc.StatusCode.NOT_FOUND
        return _fail(code, str(exc).replace("pending block", "execution"))
    if isinstance(exc, StaleParentError):
        return _fail(grpc.StatusCode.FAILED_PRECONDITION, "stale parent: " + str(exc).replace("pending block", "execution"))
    if isinstance(exc, InvalidTransactionError):
        return _fail(grpc.StatusCode.INVALID_ARGUMENT, f"strict batch refused: {exc}")
    if isinstance(exc, BatchTooLargeError):
        return _fail(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    if isinstance(exc, (RevertError, GenesisError, ChainConfigError)):
        return _fail(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, StoreError):
        return _fail(grpc.StatusCode.INTERNAL, f"store error: {exc}")
    if isinstance(exc, HyperionError):
        return _fail(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    return _fail(grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}: {exc}); see the server log")


@dataclass
class _Held:
    result: BlockResult
    expires_at: float  #: time.monotonic()


@dataclass
class _StreamState:
    previous_id: Optional[int] = None


@dataclass
class _Call:
    """Deadline and liveness of the call being served."""

    deadline: float  #: time.monotonic()
    is_active: Callable[[], bool] = lambda: True
    method: str = ""

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class ExecutionService(pb_grpc.ExecutionServicer):
    def __init__(self, engine: Engine, limits: Optional[ServiceLimits] = None,
                 metrics: Optional[Metrics] = None) -> None:
        self.engine = engine
        self.limits = limits or ServiceLimits()
        self.metrics = metrics or Metrics()
        self._writer = threading.Lock()
        self._state = threading.Lock()
        self._held: Dict[int, _Held] = {}
        self._gone: "OrderedDict[int, str]" = OrderedDict()
        self._committed: "OrderedDict[int, Tuple[int, bytes]]" = OrderedDict()
        self._last_env: Optional[BlockEnv] = None
        self.closing = False
        self._stop = threading.Event()
        self._sweeper: Optional[threading.Thread] = None
        self.metrics.head.set(engine.head.number)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread that expires undecided held executions."""
        if self._sweeper is None:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="hyperion-expiry", daemon=True)
            self._sweeper.start()

    def _sweep_loop(self) -> None:
        interval = min(max(self.limits.hold_timeout / 4, 0.05), 1.0)
        while not self._stop.wait(interval):
            if not self._has_expired():
                continue
            if self._writer.acquire(timeout=interval):
                try:
                    if not self.closing:
                        self._expire_due()
                finally:
                    self._writer.release()

    def drain(self, timeout: Optional[float] = None) -> bool:
        """Refuse new writes, wait for the running one, drop every held execution.

        Returns False if the running write did not finish within ``timeout``."""
        self.closing = True
        self._stop.set()
        if not self._writer.acquire(timeout=-1 if timeout is None else timeout):
            return False
        try:
            with self._state:
                roots = [i for i, h in self._held.items() if not h.result.parent_id or h.result.parent_id not in self._held]
            dropped: List[int] = []
            for execution_id in roots:
                try:
                    dropped += self.engine.discard(execution_id)
                except UnknownBlockError:
                    pass
            self._forget(dropped, "was dropped: the server shut down")
            self.metrics.discarded(len(dropped), "shutdown")
            if dropped:
                log_event(log, logging.INFO, "shutdown.dropped_held", execution_ids=sorted(dropped))
        finally:
            self._writer.release()
        return True

    # -- bookkeeping -------------------------------------------------------------------------
    def _remember(self, table: "OrderedDict", key: int, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > REMEMBERED_IDS:
            table.popitem(last=False)

    def _forget(self, ids: List[int], reason: str, first_reason: Optional[str] = None) -> None:
        """Mark held ids as gone (``first_reason`` for ids[0] if given)."""
        with self._state:
            for n, execution_id in enumerate(ids):
                self._held.pop(execution_id, None)
                self._remember(self._gone, execution_id, first_reason if (n == 0 and first_reason) else reason)
            self.metrics.held.set(len(self._held))

    def _why_gone(self, execution_id: int) -> str:
        with self._state:
            reason = self._gone.get(execution_id)
            committed = self._committed.get(execution_id)
        if committed is not None:
            return f"execution {execution_id} was committed as block {committed[0]}"
        if reason is not None:
            return f"execution {execution_id} {reason}"
        return f"execution {execution_id} is unknown to this server (never held, or forgotten)"

    def _has_expired(self) -> bool:
        now = time.monotonic()
        with self._state:
            return any(h.expires_at <= now for h in self._held.values())

    def _expire_due(self) -> None:
        """Drop held executions past their timeout (caller holds ``_writer``)."""
        now = time.monotonic()
        with self._state:
            due = sorted(i for i, h in self._held.items() if h.expires_at <= now)
        for execution_id in due:
            with self._state:
                if execution_id not in self._held:
                    continue  # went with an expired ancestor
            try:
                dropped = self.engine.discard(execution_id)
            except UnknownBlockError:
                dropped = [execution_id]
            timeout = self.limits.hold_timeout
            self._forget(
                dropped,
                f"was discarded: an ancestor (execution {execution_id}) expired undecided",
                first_reason=f"expired: held {timeout:g}s without Commit or Discard (server --hold-timeout)",
            )
            self.metrics.discarded(len(dropped), "expired")
            log_event(log, logging.INFO, "held.expired", execution_id=execution_id, dropped=dropped)

    def _drop_unpending(self, reason: str, metric_reason: str) -> List[int]:
        """Forget held ids the engine no longer has pending (siblings of a commit, ...)."""
        pending = {r.id for r in self.engine.pending_blocks()}
        with self._state:
            gone = sorted(i for i in self._held if i not in pending)
        if gone:
            self._forget(gone, reason)
            self.metrics.discarded(len(gone), metric_reason)
        return gone

    def _held_ref(self, execution_id: int, *, parent: bool) -> int:
        """Check that ``execution_id`` is held (and not expired)."""
        now = time.monotonic()
        with self._state:
            entry = self._held.get(execution_id)
        if entry is None or entry.expires_at <= now:
            why = self._why_gone(execution_id) if entry is None else (
                f"execution {execution_id} expired: held {self.limits.hold_timeout:g}s without Commit or Discard")
            if parent:
                raise _fail(grpc.StatusCode.FAILED_PRECONDITION, f"unknown parent: {why}")
            raise _fail(grpc.StatusCode.NOT_FOUND, why)
        return execution_id

    def _at(self, at_execution_id: int) -> Optional[int]:
        return None if not at_execution_id else self._held_ref(at_execution_id, parent=False)

    def _acquire_writer(self, call: _Call, what: str) -> None:
        if self.closing:
            raise _fail(grpc.StatusCode.UNAVAILABLE, "the server is shutting down; retry on another instance")
        remaining = call.remaining()
        if remaining <= 0 or not self._writer.acquire(timeout=remaining):
            raise _fail(grpc.StatusCode.DEADLINE_EXCEEDED,
                        f"{what}: the deadline passed while waiting for the writer (another execute, commit or "
                        f"revert was running); nothing was done")
        if self.closing:
            self._writer.release()
            raise _fail(grpc.StatusCode.UNAVAILABLE, "the server is shutting down; retry on another instance")

    # -- decoding / limits -------------------------------------------------------------------
    def _decode_batch(self, request: pb.ExecuteBatchRequest) -> Tuple[BlockEnv, list]:
        limits = self.limits
        if not request.HasField("env"):
            raise BadInput("env is required (at least number and timestamp)")
        count = len(request.transactions)
        if count > limits.max_batch_txs:
            raise _fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"batch of {count} transactions exceeds the server's limit of {limits.max_batch_txs} "
                        f"(--max-batch-txs); split it into several blocks")
        size = convert.transactions_size(request.transactions)
        if size > limits.max_batch_bytes:
            raise _fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"batch of {size} transaction bytes exceeds the server's limit of {limits.max_batch_bytes} "
                        f"(--max-batch-bytes)")
        env = convert.env_from_pb(request.env)
        if env.gas_limit > limits.max_batch_gas:
            raise _fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"block gas limit {env.gas_limit} exceeds the server's limit of {limits.max_batch_gas} "
                        f"(--max-batch-gas)")
        return env, convert.transactions_from_pb(request.transactions)

    # -- writes -----------------------------------------------------------------------------
    def execute_batch(self, request: pb.ExecuteBatchRequest, call: _Call,
                      stream: Optional[_StreamState] = None) -> pb.ExecutionResult:
        env, txs = self._decode_batch(request)
        mode = request.mode
        if mode not in MODE_NAMES:
            raise BadInput(f"mode: unknown execution mode {mode}")
        if request.parent_is_previous and stream is None:
            raise BadInput("parent_is_previous is only meaningful on ExecuteStream")
        if request.parent_is_previous and request.parent_id:
            raise BadInput("set either parent_id or parent_is_previous, not both")
        expected_root = convert.hash32(request.expected_state_root, "expected_state_root", allow_empty=True)

        if mode == pb.EXECUTION_MODE_SIMULATE:
            parent = self._parent_for(request, stream)
            try:
                result = self.engine.simulate(env, txs, parent=parent, strict=request.strict)
            except Exception as exc:
                raise map_error(exc, parent=True)
            self.metrics.executed(result, "simulate")
            msg = convert.result_to_pb(result, include_diff=request.include_state_diff)
            msg.state = pb.EXECUTION_STATE_SIMULATED
            return msg

        self._acquire_writer(call, "ExecuteBatch")
        try:
            self._expire_due()
            parent = self._parent_for(request, stream)
            if mode == pb.EXECUTION_MODE_COMMIT and parent is not None:
                raise _fail(grpc.StatusCode.FAILED_PRECONDITION,
                            f"COMMIT mode executes on the committed head, but the parent (execution {parent}) is "
                            f"still held: commit it first, or execute in HOLD mode")
            log_event(log, logging.INFO, "execute.start", number=env.number, txs=len(txs), parent_id=parent or 0,
                      mode=MODE_NAMES[mode])
            try:
                result = self.engine.execute(env, txs, parent=parent, strict=request.strict)
            except InvalidBlockError as exc:
                if exc.result is None:
                    raise map_error(exc)
                self.metrics.discarded(1, "rejected")
                log_event(log, logging.WARNING, "execute.rejected", number=env.number, reason=str(exc))
                msg = convert.result_to_pb(exc.result, include_diff=request.include_state_diff)
                msg.state = pb.EXECUTION_STATE_REJECTED
                return msg
            except Exception as exc:
                raise map_error(exc, parent=True)

            if call.remaining() <= 0 or not call.is_active():
                self.engine.discard(result)
                self.metrics.discarded(1, "deadline")
                log_event(log, logging.WARNING, "execute.abandoned", number=env.number, execution_id=result.id,
                          seconds=result.stats.total_seconds)
                raise _fail(grpc.StatusCode.DEADLINE_EXCEEDED,
                            f"block {env.number} took {result.stats.total_seconds:.2f}s and the call's deadline "
                            f"passed (or it was cancelled); the execution was discarded, nothing was kept")
            self.metrics.executed(result, MODE_NAMES[mode])
            if stream is not None:
                stream.previous_id = result.id
            msg = convert.result_to_pb(result, include_diff=request.include_state_diff)
            size = msg.ByteSize()
            if size > self.limits.max_message_bytes - 4096:
                self.engine.discard(result)
                self.metrics.discarded(1, "oversized")
                raise _fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"the result of block {env.number} would be {size} bytes, over the server's message limit "
                            f"of {self.limits.max_message_bytes} (--max-message-bytes)"
                            + ("; ask without include_state_diff" if request.include_state_diff else "")
                            + "; nothing was kept")
            if mode == pb.EXECUTION_MODE_COMMIT:
                if expected_root is not None and expected_root != result.state_root:
                    self.engine.discard(result)
                    raise _fail(grpc.StatusCode.FAILED_PRECONDITION,
                                f"state root 0x{result.state_root.hex()} is not the expected 0x{expected_root.hex()}; "
                                f"block {env.number} was not committed")
                try:
                    head, _ = self._commit_locked(result.id, result)
                except RpcFailure:
                    self.engine.discard(result)
                    raise
                msg.stats.commit_seconds = result.stats.commit_seconds
                msg.state = pb.EXECUTION_STATE_COMMITTED
                msg.head.CopyFrom(convert.head_to_pb(head))
            else:
                with self._state:
                    self._held[result.id] = _Held(result, time.monotonic() + self.limits.hold_timeout)
                    self.metrics.held.set(len(self._held))
                msg.state = pb.EXECUTION_STATE_HELD
                msg.expires_in_ms = int(self.limits.hold_timeout * 1000)
            msg.execution_id = result.id
            log_event(log, logging.INFO, "execute.done", number=result.number, execution_id=result.id,
                      mode=MODE_NAMES[mode], txs=len(result.tx_results), invalid=len(result.invalid),
                      gas_used=result.gas_used, seconds=result.stats.total_seconds,
                      state_root=result.state_root)
            return msg
        finally:
            self._writer.release()

    def _parent_for(self, request: pb.ExecuteBatchRequest, stream: Optional[_StreamState]) -> Optional[int]:
        if request.parent_is_previous:
            previous = stream.previous_id if stream is not None else None
            if previous is None:
                return None
            with self._state:
                held = previous in self._held
                committed = previous in self._committed
            if held:
                return self._held_ref(previous, parent=True)
            if committed:
                return None
            raise _fail(grpc.StatusCode.FAILED_PRECONDITION,
                        f"unknown parent: this stream's previous {self._why_gone(previous)}")
        if request.parent_id:
            return self._held_ref(request.parent_id, parent=True)
        return None

    def _commit_locked(self, execution_id: int, result: BlockResult):
        """Commit a pending block (caller holds ``_writer``); returns (head, dropped ids)."""
        try:
            head = self.engine.commit(execution_id)
        except Exception as exc:
            raise map_error(exc)
        with self._state:
            self._held.pop(execution_id, None)
            self._remember(self._committed, execution_id, (result.number, result.state_root))
            self.metrics.held.set(len(self._held))
        self._last_env = result.env
        self.metrics.committed(result, head.number)
        dropped = self._drop_unpending(f"was discarded: execution {execution_id} was committed on the same parent",
                                       "sibling")
        log_event(log, logging.INFO, "commit.done", execution_id=execution_id, number=head.number,
                  state_root=head.state_root, seconds=result.stats.commit_seconds, dropped=dropped)
        return head, dropped

    def commit(self, request: pb.CommitRequest, call: _Call) -> pb.CommitResponse:
        execution_id = request.execution_id
        if not execution_id:
            raise BadInput("execution_id is required")
        expected_root = convert.hash32(request.expected_state_root, "expected_state_root", allow_empty=True)
        self._acquire_writer(call, "Commit")
        try:
            self._expire_due()
            with self._state:
                entry = self._held.get(execution_id)
                committed = self._committed.get(execution_id)
            if entry is None:
                if committed is not None:
                    if expected_root is not None and expected_root != committed[1]:
                        raise _fail(grpc.StatusCode.FAILED_PRECONDITION,
                                    f"execution {execution_id} was committed with state root 0x{committed[1].hex()}, "
                                    f"not the expected 0x{expected_root.hex()}")
                    return pb.CommitResponse(head=convert.head_to_pb(self.engine.head), already_committed=True)
                raise _fail(grpc.StatusCode.NOT_FOUND, self._why_gone(execution_id))
            result = entry.result
            if expected_root is not None and expected_root != result.state_root:
                raise _fail(grpc.StatusCode.FAILED_PRECONDITION,
                            f"execution {execution_id} has state root 0x{result.state_root.hex()}, not the expected "
                            f"0x{expected_root.hex()}; nothing was committed (it is still held: Discard it)")
            if result.parent_id:
                with self._state:
                    parent_held = result.parent_id in self._held
                if parent_held:
                    raise _fail(grpc.StatusCode.FAILED_PRECONDITION,
                                f"execution {execution_id} (block {result.number}) is built on held execution "
                                f"{result.parent_id}: commit that one first")
            if not call.is_active():
                raise _fail(grpc.StatusCode.CANCELLED, "the call was cancelled before the commit; nothing was committed")
            head, dropped = self._commit_locked(execution_id, result)
            return pb.CommitResponse(head=convert.head_to_pb(head), dropped_ids=dropped,
                                     commit_seconds=result.stats.commit_seconds)
        finally:
            self._writer.release()

    def discard(self, request: pb.DiscardRequest, call: _Call) -> pb.DiscardResponse:
        execution_id = request.execution_id
        if not execution_id:
            raise BadInput("execution_id is required")
        self._acquire_writer(call, "Discard")
        try:
            self._expire_due()
            with self._state:
                held = execution_id in self._held
            if not held:
                raise _fail(grpc.StatusCode.NOT_FOUND, self._why_gone(execution_id))
            try:
                dropped = self.engine.discard(execution_id)
            except Exception as exc:
                raise map_error(exc)
            self._forget(dropped, f"was discarded: its ancestor execution {execution_id} was discarded",
                         first_reason="was discarded")
            self.metrics.discarded(len(dropped), "discard")
            log_event(log, logging.INFO, "discard.done", execution_id=execution_id, dropped=dropped)
            return pb.DiscardResponse(discarded_ids=convert.ids(dropped))
        finally:
            self._writer.release()

    def revert_to(self, request: pb.RevertToRequest, call: _Call) -> pb.RevertToResponse:
        self._acquire_writer(call, "RevertTo")
        try:
            number = request.block_number
            with self._state:
                held = sorted(self._held)
            before = self.engine.head.number
            try:
                head = self.engine.revert_to(number)
            except Exception as exc:
                raise map_error(exc)
            self._forget(held, f"was dropped: the store was reverted to block {number}")
            with self._state:
                for execution_id, (block, _) in list(self._committed.items()):
                    if block > number:
                        del self._committed[execution_id]
                        self._remember(self._gone, execution_id,
                                       f"was committed as block {block}, then reverted (RevertTo {number})")
            self._last_env = None
            self.metrics.discarded(len(held), "revert")
            self.metrics.blocks_reverted.inc(max(before - head.number, 0))
            self.metrics.head.set(head.number)
            log_event(log, logging.WARNING, "revert.done", from_block=before, to_block=head.number, dropped=held)
            return pb.RevertToResponse(head=convert.head_to_pb(head), dropped_ids=held)
        finally:
            self._writer.release()

    # -- reads ------------------------------------------------------------------------------
    def _read(self, fn, at: Optional[int]):
        try:
            return fn(at)
        except Exception as exc:
            raise map_error(exc)

    def get_account(self, request: pb.GetAccountRequest) -> tpb.Account:
        address = convert.address(request.address, "address")
        at = self._at(request.at_execution_id)
        return convert.account_to_pb(self._read(lambda a: self.engine.get_account(address, at=a), at))

    def get_storage(self, request: pb.GetStorageRequest) -> pb.GetStorageResponse:
        address = convert.address(request.address, "address")
        slot = convert.bytes_to_uint(request.slot, "slot")
        at = self._at(request.at_execution_id)
        value = self._read(lambda a: self.engine.get_storage(address, slot, at=a), at)
        return pb.GetStorageResponse(value=convert.word(value))

    def get_code(self, request: pb.GetCodeRequest) -> pb.GetCodeResponse:
        address = convert.address(request.address, "address")
        at = self._at(request.at_execution_id)
        return pb.GetCodeResponse(code=self._read(lambda a: self.engine.get_code(address, at=a), at))

    def get_proof(self, request: pb.GetProofRequest) -> pb.GetProofResponse:
        get_proof = getattr(self.engine, "get_proof", None)
        if get_proof is None:
            raise _fail(grpc.StatusCode.UNIMPLEMENTED,
                        "GetProof needs Engine.get_proof, which this build of Hyperion does not have (proofs come "
                        "with the fast-trie work); account and storage values are available via GetAccount / "
                        "GetStorage")
        address = convert.address(request.address, "address")
        slots = [convert.bytes_to_uint(s, f"slots[{i}]") for i, s in enumerate(request.slots)]
        at = self._at(request.at_execution_id)
        proof = self._read(lambda a: get_proof(address, slots, at=a), at)
        return convert.proof_to_pb(proof, address)

    def get_head(self, request: pb.GetHeadRequest) -> pb.GetHeadResponse:
        head = self.engine.head
        try:
            config = self.engine.chain_config
        except ChainConfigError:
            config = None
        with self._state:
            held = sorted(self._held)
        return pb.GetHeadResponse(
            head=convert.head_to_pb(head), chain_id=config.chain_id if config else 0, held_execution_ids=held,
            chain_config_json=config.to_json() if config else "",
        )

    # -- calls ------------------------------------------------------------------------------
    def _call_env(self, request: pb.CallRequest, at: Optional[int]) -> BlockEnv:
        if at:
            with self._state:
                entry = self._held.get(at)
            if entry is None:
                raise _fail(grpc.StatusCode.NOT_FOUND, self._why_gone(at))
            parent_env, parent_number = entry.result.env, entry.result.number
        else:
            parent_env, parent_number = self._last_env, self.engine.head.number
        if request.HasField("env"):
            env = convert.env_from_pb(request.env)
            if env.gas_limit > self.limits.max_batch_gas:
                raise _fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"block gas limit {env.gas_limit} exceeds the server's limit of "
                            f"{self.limits.max_batch_gas} (--max-batch-gas)")
            if env.number == 0:
                from dataclasses import replace

                env = replace(env, number=parent_number + 1)
            return env
        timestamp = parent_env.timestamp + 1 if parent_env is not None else int(time.time())
        return BlockEnv(number=parent_number + 1, timestamp=timestamp, base_fee=0,
                        gas_limit=self.limits.call_gas_cap, coinbase=parent_env.coinbase if parent_env else b"\0" * 20)

    def _call_tx(self, request: pb.CallRequest, at: Optional[int], gas_cap: int):
        if not request.HasField("transaction"):
            raise BadInput("transaction is required")
        tx = request.transaction
        kind = tx.WhichOneof("kind")
        if kind == "signed":
            return tx.signed
        if kind != "unsigned":
            raise BadInput("transaction: set either signed (EIP-2718 bytes) or unsigned")
        sender = convert.address(tx.unsigned.sender, "transaction.unsigned.sender", allow_empty=True)
        nonce = None
        if not tx.unsigned.HasField("nonce"):
            nonce = self._read(lambda a: self.engine.get_nonce(sender, at=a), at)
        return convert.unsigned_from_pb(tx.unsigned, "transaction.unsigned", default_nonce=nonce,
                                        default_gas=gas_cap, call=True)

    def _simulate_one(self, env: BlockEnv, tx, at: Optional[int], follow_head: bool = False):
        """Run one transaction; ``follow_head``: the block number was not given, so if a
        commit moves the head meanwhile, run on the new head instead of failing."""
        for attempt in range(5):
            try:
                result = self.engine.simulate(env, [tx], parent=at)
            except StaleParentError as exc:
                head = self.engine.head.number
                if not follow_head or attempt == 4 or env.number == head + 1:
                    raise map_error(exc)
                from dataclasses import replace

                env = replace(env, number=head + 1, parent_hash=None)
                continue
            except Exception as exc:
                raise map_error(exc)
            return result.tx_results[0]
        raise AssertionError("unreachable")

    def call(self, request: pb.CallRequest) -> pb.CallResponse:
        at = self._at(request.at_execution_id)
        env = self._call_env(request, at)
        tx = self._call_tx(request, at, min(env.gas_limit, self.limits.call_gas_cap))
        r = self._simulate_one(env, tx, at, follow_head=at is None and not request.env.number)
        return pb.CallResponse(status=convert.STATUS_TO_PB[r.status], return_data=r.return_data, gas_used=r.gas_used,
                               logs=[convert.log_to_pb(e) for e in r.logs], error=r.error or "",
                               contract_address=r.contract_address or b"")

    def estimate_gas(self, request: pb.CallRequest, call: _Call) -> pb.EstimateGasResponse:
        """Binary search for the smallest gas limit that succeeds (monotonic EVMs)."""
        at = self._at(request.at_execution_id)
        env = self._call_env(request, at)
        cap = min(env.gas_limit, self.limits.call_gas_cap)
        tx = self._call_tx(request, at, cap)
        if isinstance(tx, UnsignedTx):
            cap = min(tx.gas, env.gas_limit)

        def run(gas: int):
            if call.remaining() <= 0:
                raise _fail(grpc.StatusCode.DEADLINE_EXCEEDED, "EstimateGas: the deadline passed during the search")
            return self._simulate_one(env, tx if not isinstance(tx, UnsignedTx) else _with_gas(tx, gas), at,
                                      follow_head=at is None and not request.env.number)

        first = run(cap)
        if first.status is not TxStatus.SUCCESS or not isinstance(tx, UnsignedTx):
            gas = first.gas_used if first.status is TxStatus.SUCCESS else 0
            return pb.EstimateGasResponse(gas=gas, status=convert.STATUS_TO_PB[first.status],
                                          return_data=first.return_data, error=first.error or "")
        lo, hi = max(first.gas_used - 1, 0), cap
        optimistic = min(cap, (first.gas_used + 2300) * 64 // 63)
        if optimistic < hi:
            if run(optimistic).status is TxStatus.SUCCESS:
                hi = optimistic
            else:
                lo = optimistic
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if run(mid).status is TxStatus.SUCCESS:
                hi = mid
            else:
                lo = mid
        return pb.EstimateGasResponse(gas=hi, status=tpb.TX_STATUS_SUCCESS, return_data=first.return_data)

    # -- grpc entry points ------------------------------------------------------------------
    def _call_of(self, context, method: str) -> _Call:
        remaining = context.time_remaining()
        budget = self.limits.call_timeout if remaining is None else min(remaining, self.limits.call_timeout)
        return _Call(deadline=time.monotonic() + budget, is_active=context.is_active, method=method)

    def _unary(self, method: str, fn, request, context):
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        failure: Optional[RpcFailure] = None
        try:
            return fn(request, self._call_of(context, method))
        except Exception as exc:  # every failure becomes a status code
            failure = map_error(exc)
            code = failure.code
            if code is grpc.StatusCode.INTERNAL:
                log.exception("%s failed", method, extra={"fields": {"method": method}})
            else:
                log_event(log, logging.INFO, "rpc.error", method=method, code=code.name, message=failure.message)
        finally:
            self.metrics.rpc(method, code.name, time.perf_counter() - started)
        context.abort(failure.code, failure.message)

    def ExecuteBatch(self, request, context):
        return self._unary("ExecuteBatch", self.execute_batch, request, context)

    def Commit(self, request, context):
        return self._unary("Commit", self.commit, request, context)

    def Discard(self, request, context):
        return self._unary("Discard", self.discard, request, context)

    def RevertTo(self, request, context):
        return self._unary("RevertTo", self.revert_to, request, context)

    def Call(self, request, context):
        return self._unary("Call", lambda r, c: self.call(r), request, context)

    def EstimateGas(self, request, context):
        return self._unary("EstimateGas", self.estimate_gas, request, context)

    def GetAccount(self, request, context):
        return self._unary("GetAccount", lambda r, c: self.get_account(r), request, context)

    def GetStorage(self, request, context):
        return self._unary("GetStorage", lambda r, c: self.get_storage(r), request, context)

    def GetCode(self, request, context):
        return self._unary("GetCode", lambda r, c: self.get_code(r), request, context)

    def GetProof(self, request, context):
        return self._unary("GetProof", lambda r, c: self.get_proof(r), request, context)

    def GetHead(self, request, context):
        return self._unary("GetHead", lambda r, c: self.get_head(r), request, context)

    def ExecuteStream(self, request_iterator, context) -> Iterator[pb.StreamResponse]:
        stream = _StreamState()
        for request in request_iterator:
            started = time.perf_counter()
            kind = request.WhichOneof("request")
            method = f"ExecuteStream.{kind or 'empty'}"
            code = grpc.StatusCode.OK
            call = self._call_of(context, method)
            try:
                if kind == "execute":
                    reply = pb.StreamResponse(tag=request.tag, executed=self.execute_batch(request.execute, call, stream))
                elif kind == "commit":
                    reply = pb.StreamResponse(tag=request.tag, committed=self.commit(request.commit, call))
                elif kind == "discard":
                    reply = pb.StreamResponse(tag=request.tag, discarded=self.discard(request.discard, call))
                else:
                    raise BadInput("a stream request needs one of execute, commit or discard")
            except Exception as exc:  # reported on the stream, which carries on
                failure = map_error(exc)
                code = failure.code
                if code is grpc.StatusCode.INTERNAL:
                    log.exception("%s failed", method)
                else:
                    log_event(log, logging.INFO, "rpc.error", method=method, code=code.name, message=failure.message)
                reply = pb.StreamResponse(tag=request.tag,
                                          error=pb.StreamError(code=code.value[0], message=failure.message))
            finally:
                self.metrics.rpc(method, code.name, time.perf_counter() - started)
            yield reply


def _with_gas(tx: UnsignedTx, gas: int) -> UnsignedTx:
    from dataclasses import replace

    return replace(tx, gas=gas)
