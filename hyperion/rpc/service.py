"""The ``hyperion.v1.Execution`` servicer: protobuf in, engine calls, protobuf out.

Concurrency (one :class:`ExecutionService` per engine):

- *Writers* — ExecuteBatch (hold / commit), Commit, Discard, RevertTo and the expiry of
  held executions — take ``_writer`` one at a time, waiting no longer than the call's
  deadline.  So a block is executed, committed or reverted by one call at a time.
- *Readers* — GetAccount, GetStorage, GetCode, GetProof, GetHead, Call, EstimateGas and
  ExecuteBatch in SIMULATE mode — never take ``_writer``: they read an LMDB snapshot (plus
  the diffs of held parents), so they run while a block executes and never see a
  half-committed one.
- ``_state`` guards the expiry times of held executions.

Held executions are the engine's pending blocks, and the engine remembers why an id is
gone (:meth:`~hyperion.engine.Engine.gone`); the service adds only their expiry.  Calls
and gas estimates are :mod:`hyperion.calls`.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import grpc

from hyperion import calls
from hyperion.engine import Engine
from hyperion.errors import ChainConfigError, ExecutionCancelled, InvalidBlockError, UnknownBlockError
from hyperion.rpc import convert
from hyperion.rpc.context import CallContext as _Call
from hyperion.rpc.context import StreamState as _StreamState
from hyperion.rpc.convert import BadInput
from hyperion.rpc.errors import RpcFailure, fail, in_rpc_words, map_error
from hyperion.rpc.logs import log_event
from hyperion.rpc.metrics import Metrics
from hyperion.rpc.trace import chunks as trace_chunks
from hyperion.rpc.trace import trace_lines, truncated_message
from hyperion.types import BlockEnv, BlockResult
from hyperion.v1 import execution_pb2 as pb
from hyperion.v1 import execution_pb2_grpc as pb_grpc
from hyperion.v1 import types_pb2 as tpb

log = logging.getLogger("hyperion.rpc")

SERVICE_NAME = "hyperion.v1.Execution"
MODE_NAMES = {pb.EXECUTION_MODE_HOLD: "hold", pb.EXECUTION_MODE_COMMIT: "commit",
              pb.EXECUTION_MODE_SIMULATE: "simulate"}


@dataclass
class ServiceLimits:
    """What one call may ask for (``hyperion serve`` options of the same names)."""

    max_batch_txs: int = 100_000
    #: cap on a batch's block gas limit (the work one call can demand)
    max_batch_gas: int = 1_000_000_000
    #: transaction payload per batch (signed bytes, unsigned calldata)
    max_batch_bytes: int = 32 * 1024 * 1024
    #: gas limit of Call / EstimateGas when the transaction names none
    call_gas_cap: int = calls.DEFAULT_GAS_CAP
    #: a held execution neither committed nor discarded is dropped after this many seconds
    hold_timeout: float = 60.0
    #: server-side deadline of a call that brings none (and cap on the ones that do)
    call_timeout: float = 300.0
    #: largest response (the server's --max-message-bytes); a bigger result is refused
    max_message_bytes: int = 64 * 1024 * 1024


class ExecutionService(pb_grpc.ExecutionServicer):
    def __init__(self, engine: Engine, limits: Optional[ServiceLimits] = None,
                 metrics: Optional[Metrics] = None) -> None:
        self.engine = engine
        self.limits = limits or ServiceLimits()
        self.metrics = metrics or Metrics()
        self._writer = threading.Lock()
        self._state = threading.Lock()
        #: held execution id -> when it expires (time.monotonic())
        self._expiry: Dict[int, float] = {}
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
            now = time.monotonic()
            with self._state:
                due = any(expires_at <= now for expires_at in self._expiry.values())
            if due and self._writer.acquire(timeout=interval):
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
            held = self.engine.pending_blocks()
            ids = {r.id for r in held}
            dropped: List[int] = []
            for root in [r.id for r in held if r.parent_id not in ids]:
                reason = "was dropped: the server shut down"
                try:
                    dropped += self.engine.discard(root, reason=reason, descendants_reason=reason)
                except UnknownBlockError:
                    pass
            self._sync_held()
            self.metrics.discarded(len(dropped), "shutdown")
            if dropped:
                log_event(log, logging.INFO, "shutdown.dropped_held", execution_ids=sorted(dropped))
        finally:
            self._writer.release()
        return True

    # -- held executions -------------------------------------------------------------------
    def _held_ids(self) -> List[int]:
        return sorted(r.id for r in self.engine.pending_blocks())

    def _held(self, execution_id: int) -> Optional[BlockResult]:
        """The held execution ``execution_id`` (expired or not), None if it is gone."""
        try:
            return self.engine.pending_block(execution_id)
        except UnknownBlockError:
            return None

    def _sync_held(self) -> None:
        """Drop the expiry times of executions the engine no longer holds; update the gauge."""
        held = set(self._held_ids())
        with self._state:
            for execution_id in [i for i in self._expiry if i not in held]:
                del self._expiry[execution_id]
        self.metrics.held.set(len(held))

    def _why_gone(self, execution_id: int) -> str:
        gone = self.engine.gone(execution_id)
        if gone is None:
            return f"execution {execution_id} is unknown to this server (never held, or forgotten)"
        return in_rpc_words(f"execution {execution_id} {gone.reason}")

    def _expire_due(self) -> None:
        """Drop held executions past their timeout (caller holds ``_writer``)."""
        now = time.monotonic()
        with self._state:
            due = sorted(i for i, expires_at in self._expiry.items() if expires_at <= now)
        for execution_id in due:
            try:
                dropped = self.engine.discard(
                    execution_id,
                    reason=f"expired: held {self.limits.hold_timeout:g}s without Commit or Discard "
                           f"(server --hold-timeout)",
                    descendants_reason=f"was discarded: an ancestor (execution {execution_id}) expired undecided",
                )
            except UnknownBlockError:
                continue  # went with an expired ancestor
            self.metrics.discarded(len(dropped), "expired")
            log_event(log, logging.INFO, "held.expired", execution_id=execution_id, dropped=dropped)
        if due:
            self._sync_held()

    def _held_ref(self, execution_id: int, *, parent: bool) -> int:
        """Check that ``execution_id`` is held (and not expired)."""
        if self._held(execution_id) is None:
            why = self._why_gone(execution_id)
        else:
            with self._state:
                expires_at = self._expiry.get(execution_id)
            if expires_at is None or expires_at > time.monotonic():
                return execution_id
            why = f"execution {execution_id} expired: held {self.limits.hold_timeout:g}s without Commit or Discard"
        if parent:
            raise fail(grpc.StatusCode.FAILED_PRECONDITION, f"unknown parent: {why}")
        raise fail(grpc.StatusCode.NOT_FOUND, why)

    def _at(self, at_execution_id: int) -> Optional[int]:
        return None if not at_execution_id else self._held_ref(at_execution_id, parent=False)

    def _acquire_writer(self, call: _Call, what: str) -> None:
        if self.closing:
            raise fail(grpc.StatusCode.UNAVAILABLE, "the server is shutting down; retry on another instance")
        remaining = call.remaining()
        if remaining <= 0 or not self._writer.acquire(timeout=remaining):
            raise fail(grpc.StatusCode.DEADLINE_EXCEEDED,
                       f"{what}: the deadline passed while waiting for the writer (another execute, commit or "
                       f"revert was running); nothing was done")
        if self.closing:
            self._writer.release()
            raise fail(grpc.StatusCode.UNAVAILABLE, "the server is shutting down; retry on another instance")

    # -- decoding / limits -------------------------------------------------------------------
    def _decode_env(self, msg) -> BlockEnv:
        env = convert.env_from_pb(msg)
        if env.gas_limit > self.limits.max_batch_gas:
            raise fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                       f"block gas limit {env.gas_limit} exceeds the server's limit of {self.limits.max_batch_gas} "
                       f"(--max-batch-gas)")
        return env

    def _decode_batch(self, request: pb.ExecuteBatchRequest) -> Tuple[BlockEnv, list]:
        limits = self.limits
        if not request.HasField("env"):
            raise BadInput("env is required (at least number and timestamp)")
        count = len(request.transactions)
        if count > limits.max_batch_txs:
            raise fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                       f"batch of {count} transactions exceeds the server's limit of {limits.max_batch_txs} "
                       f"(--max-batch-txs); split it into several blocks")
        size = convert.transactions_size(request.transactions)
        if size > limits.max_batch_bytes:
            raise fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                       f"batch of {size} transaction bytes exceeds the server's limit of {limits.max_batch_bytes} "
                       f"(--max-batch-bytes)")
        return self._decode_env(request.env), convert.transactions_from_pb(request.transactions)

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
                result = self.engine.simulate(env, txs, parent=parent, strict=request.strict,
                                              deadline=call.stop(f"the simulation of block {env.number}"))
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
                raise fail(grpc.StatusCode.FAILED_PRECONDITION,
                           f"COMMIT mode executes on the committed head, but the parent (execution {parent}) is "
                           f"still held: commit it first, or execute in HOLD mode")
            log_event(log, logging.INFO, "execute.start", number=env.number, txs=len(txs), parent_id=parent or 0,
                      mode=MODE_NAMES[mode])
            try:
                result = self.engine.execute(env, txs, parent=parent, strict=request.strict,
                                             deadline=call.stop(f"block {env.number}"))
            except ExecutionCancelled as exc:  # the deadline passed or the client left mid-block
                self.metrics.discarded(1, "deadline")
                log_event(log, logging.WARNING, "execute.abandoned", number=env.number, reason=str(exc))
                raise map_error(exc)
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
                self.engine.discard(result, reason="was discarded: the call's deadline passed")
                self.metrics.discarded(1, "deadline")
                log_event(log, logging.WARNING, "execute.abandoned", number=env.number, execution_id=result.id,
                          seconds=result.stats.total_seconds)
                raise fail(grpc.StatusCode.DEADLINE_EXCEEDED,
                           f"block {env.number} took {result.stats.total_seconds:.2f}s and the call's deadline "
                           f"passed (or it was cancelled); the execution was discarded, nothing was kept")
            self.metrics.executed(result, MODE_NAMES[mode])
            if stream is not None:
                stream.previous_id = result.id
            msg = convert.result_to_pb(result, include_diff=request.include_state_diff)
            size = msg.ByteSize()
            if size > self.limits.max_message_bytes - 4096:
                self.engine.discard(result, reason="was discarded: its result was over the message limit")
                self.metrics.discarded(1, "oversized")
                raise fail(grpc.StatusCode.RESOURCE_EXHAUSTED,
                           f"the result of block {env.number} would be {size} bytes, over the server's message limit "
                           f"of {self.limits.max_message_bytes} (--max-message-bytes)"
                           + ("; ask without include_state_diff" if request.include_state_diff else "")
                           + "; nothing was kept")
            if mode == pb.EXECUTION_MODE_COMMIT:
                if expected_root is not None and expected_root != result.state_root:
                    self.engine.discard(result, reason="was discarded: not the expected state root")
                    raise fail(grpc.StatusCode.FAILED_PRECONDITION,
                               f"state root 0x{result.state_root.hex()} is not the expected 0x{expected_root.hex()}; "
                               f"block {env.number} was not committed")
                try:
                    head, _ = self._commit_locked(result.id, result)
                except RpcFailure:
                    self.engine.discard(result, reason="was discarded: its commit failed")
                    raise
                msg.stats.commit_seconds = result.stats.commit_seconds
                msg.state = pb.EXECUTION_STATE_COMMITTED
                msg.head.CopyFrom(convert.head_to_pb(head))
            else:
                with self._state:
                    self._expiry[result.id] = time.monotonic() + self.limits.hold_timeout
                self._sync_held()
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
            if self._held(previous) is not None:
                return self._held_ref(previous, parent=True)
            gone = self.engine.gone(previous)
            if gone is not None and gone.committed is not None:
                return None  # committed meanwhile: the next block goes on the head
            raise fail(grpc.StatusCode.FAILED_PRECONDITION,
                       f"unknown parent: this stream's previous {self._why_gone(previous)}")
        if request.parent_id:
            return self._held_ref(request.parent_id, parent=True)
        return None

    def _commit_locked(self, execution_id: int, result: BlockResult):
        """Commit a pending block (caller holds ``_writer``); returns (head, dropped ids)."""
        before = self._held_ids()
        try:
            head = self.engine.commit(execution_id)
        except Exception as exc:
            raise map_error(exc)
        self.metrics.committed(result, head.number)
        held = set(self._held_ids())
        # the engine drops the executions built on the same parent: they can never commit
        dropped = [i for i in before if i != execution_id and i not in held]
        if dropped:
            self.metrics.discarded(len(dropped), "sibling")
        self._sync_held()
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
            result = self._held(execution_id)
            if result is None:
                gone = self.engine.gone(execution_id)
                if gone is not None and gone.committed is not None:  # a retried commit
                    root = gone.committed[1]
                    if expected_root is not None and expected_root != root:
                        raise fail(grpc.StatusCode.FAILED_PRECONDITION,
                                   f"execution {execution_id} was committed with state root 0x{root.hex()}, "
                                   f"not the expected 0x{expected_root.hex()}")
                    return pb.CommitResponse(head=convert.head_to_pb(self.engine.head), already_committed=True)
                raise fail(grpc.StatusCode.NOT_FOUND, self._why_gone(execution_id))
            if expected_root is not None and expected_root != result.state_root:
                raise fail(grpc.StatusCode.FAILED_PRECONDITION,
                           f"execution {execution_id} has state root 0x{result.state_root.hex()}, not the expected "
                           f"0x{expected_root.hex()}; nothing was committed (it is still held: Discard it)")
            if result.parent_id and self._held(result.parent_id) is not None:
                raise fail(grpc.StatusCode.FAILED_PRECONDITION,
                           f"execution {execution_id} (block {result.number}) is built on held execution "
                           f"{result.parent_id}: commit that one first")
            if not call.is_active():
                raise fail(grpc.StatusCode.CANCELLED, "the call was cancelled before the commit; nothing was committed")
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
            if self._held(execution_id) is None:
                raise fail(grpc.StatusCode.NOT_FOUND, self._why_gone(execution_id))
            try:
                dropped = self.engine.discard(
                    execution_id, reason="was discarded",
                    descendants_reason=f"was discarded: its ancestor execution {execution_id} was discarded")
            except Exception as exc:
                raise map_error(exc)
            self._sync_held()
            self.metrics.discarded(len(dropped), "discard")
            log_event(log, logging.INFO, "discard.done", execution_id=execution_id, dropped=dropped)
            return pb.DiscardResponse(discarded_ids=convert.ids(dropped))
        finally:
            self._writer.release()

    def revert_to(self, request: pb.RevertToRequest, call: _Call) -> pb.RevertToResponse:
        self._acquire_writer(call, "RevertTo")
        try:
            number = request.block_number
            held = self._held_ids()
            before = self.engine.head.number
            try:
                head = self.engine.revert_to(number)
            except Exception as exc:
                raise map_error(exc)
            self._sync_held()
            self.metrics.discarded(len(held), "revert")
            self.metrics.blocks_reverted.inc(max(before - head.number, 0))
            self.metrics.head.set(head.number)
            log_event(log, logging.WARNING, "revert.done", from_block=before, to_block=head.number, dropped=held)
            return pb.RevertToResponse(head=convert.head_to_pb(head), dropped_ids=held)
        finally:
            self._writer.release()

    # -- reads ------------------------------------------------------------------------------
    def get_account(self, request: pb.GetAccountRequest) -> tpb.Account:
        address = convert.address(request.address, "address")
        return convert.account_to_pb(self.engine.get_account(address, at=self._at(request.at_execution_id)))

    def get_storage(self, request: pb.GetStorageRequest) -> pb.GetStorageResponse:
        address = convert.address(request.address, "address")
        slot = convert.bytes_to_uint(request.slot, "slot")
        value = self.engine.get_storage(address, slot, at=self._at(request.at_execution_id))
        return pb.GetStorageResponse(value=convert.word(value))

    def get_code(self, request: pb.GetCodeRequest) -> pb.GetCodeResponse:
        address = convert.address(request.address, "address")
        return pb.GetCodeResponse(code=self.engine.get_code(address, at=self._at(request.at_execution_id)))

    def get_proof(self, request: pb.GetProofRequest) -> pb.GetProofResponse:
        address = convert.address(request.address, "address")
        slots = [convert.bytes_to_uint(s, f"slots[{i}]") for i, s in enumerate(request.slots)]
        proof = self.engine.get_proof(address, slots, at=self._at(request.at_execution_id))
        return convert.proof_to_pb(proof, address)

    def get_head(self, request: pb.GetHeadRequest) -> pb.GetHeadResponse:
        head = self.engine.head
        try:
            config = self.engine.chain_config
        except ChainConfigError:
            config = None
        return pb.GetHeadResponse(
            head=convert.head_to_pb(head), chain_id=config.chain_id if config else 0,
            held_execution_ids=self._held_ids(), chain_config_json=config.to_json() if config else "",
        )

    # -- calls (hyperion.calls) -------------------------------------------------------------
    def _call_request(self, request: pb.CallRequest):
        """-> (at, env or None, transaction) of a Call / EstimateGas request."""
        at = self._at(request.at_execution_id)
        env = self._decode_env(request.env) if request.HasField("env") else None
        if not request.HasField("transaction"):
            raise BadInput("transaction is required")
        tx = request.transaction
        kind = tx.WhichOneof("kind")
        if kind == "signed":
            return at, env, tx.signed
        if kind != "unsigned":
            raise BadInput("transaction: set either signed (EIP-2718 bytes) or unsigned")
        return at, env, convert.unsigned_from_pb(tx.unsigned, "transaction.unsigned", call=True)

    def call(self, request: pb.CallRequest, call: _Call) -> pb.CallResponse:
        at, env, tx = self._call_request(request)
        r = calls.call(self.engine, tx, at=at, env=env, gas_cap=self.limits.call_gas_cap, deadline=call.stop("the call"))
        return pb.CallResponse(status=convert.STATUS_TO_PB[r.status], return_data=r.return_data, gas_used=r.gas_used,
                               logs=[convert.log_to_pb(e) for e in r.logs], error=r.error or "",
                               contract_address=r.contract_address or b"")

    def estimate_gas(self, request: pb.CallRequest, call: _Call) -> pb.EstimateGasResponse:
        at, env, tx = self._call_request(request)
        estimate = calls.estimate_gas(self.engine, tx, at=at, env=env, gas_cap=self.limits.call_gas_cap,
                                      deadline=call.deadline, cancelled=lambda: not call.is_active())
        return pb.EstimateGasResponse(gas=estimate.gas, status=convert.STATUS_TO_PB[estimate.status],
                                      return_data=estimate.return_data, error=estimate.error or "")

    # -- grpc entry points ------------------------------------------------------------------
    def _call_of(self, context, method: str) -> _Call:
        remaining = context.time_remaining()
        budget = self.limits.call_timeout if remaining is None else min(remaining, self.limits.call_timeout)
        return _Call(deadline=time.monotonic() + budget, is_active=context.is_active, method=method)

    @staticmethod
    def _failure(method: str, exc: Exception) -> RpcFailure:
        """The status code ``exc`` becomes, logged (with the traceback if it is a bug)."""
        failure = map_error(exc)
        if failure.code is grpc.StatusCode.INTERNAL:
            log.exception("%s failed", method, extra={"fields": {"method": method}})
        else:
            log_event(log, logging.INFO, "rpc.error", method=method, code=failure.code.name, message=failure.message)
        return failure

    def _unary(self, method: str, fn, request, context):
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        failure: Optional[RpcFailure] = None
        try:
            return fn(request, self._call_of(context, method))
        except Exception as exc:  # every failure becomes a status code
            failure = self._failure(method, exc)
            code = failure.code
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
        return self._unary("Call", self.call, request, context)

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

    def TraceTransaction(self, request, context) -> Iterator[pb.TraceChunk]:
        """A reader, like Call: the trace is a simulation (hyperion.rpc.trace)."""
        method, started = "TraceTransaction", time.perf_counter()
        try:
            call = self._call_of(context, method)
            env, txs = self._decode_batch(request)
            parent = self._held_ref(request.parent_id, parent=True) if request.parent_id else None
            lines, truncated = trace_lines(self.engine, env, txs, request, parent, call.deadline,
                                           lambda: not call.is_active())
        except Exception as exc:  # every failure becomes a status code
            failure = self._failure(method, exc)
            self.metrics.rpc(method, failure.code.name, time.perf_counter() - started)
            context.abort(failure.code, failure.message)
        yield from trace_chunks(lines)
        code = grpc.StatusCode.RESOURCE_EXHAUSTED if truncated else grpc.StatusCode.OK
        self.metrics.rpc(method, code.name, time.perf_counter() - started)
        if truncated:
            context.abort(code, truncated_message(lines))

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
                failure = self._failure(method, exc)
                code = failure.code
                reply = pb.StreamResponse(tag=request.tag,
                                          error=pb.StreamError(code=code.value[0], message=failure.message))
            finally:
                self.metrics.rpc(method, code.name, time.perf_counter() - started)
            yield reply

