"""Python client of the execution service, mirroring the embedding API.

    from hyperion.rpc import Client

    with Client("127.0.0.1:50051") as client:
        pending = client.execute(BlockEnv(number=client.head.number + 1, timestamp=...), [raw_tx])
        child = client.execute(env_next, txs, parent=pending)      # pipelined on a held block
        client.commit(pending); client.commit(child)               # or client.discard(pending)
        client.get_balance(address)

Results are :class:`RemoteResult` objects: a :class:`~hyperion.types.BlockResult` (same
fields, ``id`` = the execution id) plus ``state``, ``head`` and ``expires_in``.  Errors
are raised as :class:`RpcError` subclasses that are also the matching Hyperion errors
(``NotFound`` is an :class:`~hyperion.errors.UnknownBlockError`, ...) and ``grpc.RpcError``.
"""
from __future__ import annotations

import itertools
import queue
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import grpc

from hyperion.errors import BatchTooLargeError, HyperionError, StaleParentError, UnknownBlockError
from hyperion.rpc import convert
from hyperion.types import Account, BlockEnv, BlockResult, Head, Log, StateDiff, TxStatus, UnsignedTx
from hyperion.v1 import execution_pb2 as pb
from hyperion.v1 import execution_pb2_grpc as pb_grpc
from hyperion.v1 import types_pb2 as tpb

ExecutionRef = Union[int, BlockResult, None]
MODES = {"hold": pb.EXECUTION_MODE_HOLD, "commit": pb.EXECUTION_MODE_COMMIT, "simulate": pb.EXECUTION_MODE_SIMULATE}
STATES = {pb.EXECUTION_STATE_HELD: "held", pb.EXECUTION_STATE_COMMITTED: "committed",
          pb.EXECUTION_STATE_SIMULATED: "simulated", pb.EXECUTION_STATE_REJECTED: "rejected"}


# -- errors --------------------------------------------------------------------------------
class RpcError(HyperionError, grpc.RpcError):
    """A call failed with a gRPC status; ``code()`` and ``details()`` as in grpc."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class InvalidArgument(RpcError, ValueError):
    pass


class FailedPrecondition(RpcError, StaleParentError):
    """Stale or unknown parent, expected root mismatch, out-of-order commit, ..."""


class NotFound(RpcError, UnknownBlockError):
    """Unknown, expired, discarded or already decided execution id."""


class ResourceExhausted(RpcError, BatchTooLargeError):
    pass


class Unauthenticated(RpcError, PermissionError):
    pass


class DeadlineExceeded(RpcError, TimeoutError):
    pass


class Unavailable(RpcError, ConnectionError):
    pass


class Unimplemented(RpcError, NotImplementedError):
    pass


class EstimateGasError(HyperionError):
    """The transaction fails even with the gas cap."""

    def __init__(self, status: TxStatus, error: str, return_data: bytes) -> None:
        super().__init__(f"transaction {status.value} even with the gas cap: {error}")
        self.status = status
        self.error = error
        self.return_data = return_data


ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
}
CODES_BY_NUMBER = {c.value[0]: c for c in grpc.StatusCode}


def error_for(code: grpc.StatusCode, details: str) -> RpcError:
    return ERRORS.get(code, RpcError)(code, details)


def _wrap(exc: grpc.RpcError) -> RpcError:
    if isinstance(exc, RpcError):
        return exc
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return error_for(code, details or "")


# -- results -------------------------------------------------------------------------------
@dataclass
class RemoteResult(BlockResult):
    """An ExecuteBatch result: ``id`` is the execution id (0 if not kept)."""

    state: str = "held"
    head: Optional[Head] = None
    #: seconds left before a held execution expires undecided (at the time of the reply)
    expires_in: Optional[float] = None


def result_from_pb(msg: pb.ExecutionResult, env: Optional[BlockEnv] = None) -> RemoteResult:
    return RemoteResult(
        id=msg.execution_id,
        number=msg.number,
        fork=msg.fork,
        parent_id=msg.parent_id or None,
        parent_state_root=msg.parent_state_root,
        state_root=msg.state_root,
        transactions_root=msg.transactions_root,
        receipts_root=msg.receipts_root,
        logs_bloom=msg.logs_bloom,
        gas_used=msg.gas_used,
        blob_gas_used=msg.blob_gas_used,
        withdrawals_root=msg.withdrawals_root or None,
        requests_hash=msg.requests_hash or None,
        requests=tuple(msg.requests),
        block_hash=msg.block_hash or None,
        tx_results=[convert.tx_result_from_pb(r) for r in msg.tx_results],
        diff=convert.diff_from_pb(msg.state_diff) if msg.HasField("state_diff") else StateDiff(),
        stats=convert.stats_from_pb(msg.stats),
        block_exception=msg.block_exception or None,
        env=env,
        state=STATES.get(msg.state, "unknown"),
        head=convert.head_from_pb(msg.head) if msg.HasField("head") else None,
        expires_in=msg.expires_in_ms / 1000 if msg.state == pb.EXECUTION_STATE_HELD else None,
    )


@dataclass(frozen=True)
class CallResult:
    status: TxStatus
    return_data: bytes
    gas_used: int
    logs: Tuple[Log, ...]
    error: Optional[str]
    contract_address: Optional[bytes]

    @property
    def success(self) -> bool:
        return self.status is TxStatus.SUCCESS


@dataclass(frozen=True)
class HeadInfo:
    head: Head
    chain_id: int
    held_execution_ids: Tuple[int, ...]
    chain_config_json: str


def _ref(ref: ExecutionRef) -> int:
    if ref is None:
        return 0
    if isinstance(ref, BlockResult):
        if not ref.id:
            raise ValueError("this result was not kept by the server (simulated or rejected): it has no id")
        return ref.id
    return int(ref)


def _address(value: Union[bytes, str]) -> bytes:
    if isinstance(value, str):
        value = bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def _slot_bytes(slot: Union[int, bytes]) -> bytes:
    return slot if isinstance(slot, (bytes, bytearray)) else convert.uint_to_bytes(int(slot))


# -- client --------------------------------------------------------------------------------
class Client:
    """A connection to ``hyperion serve``.

    ``token``: bearer token; ``tls=True`` (or any of the PEM arguments) for TLS;
    ``timeout``: default per-call deadline in seconds (None = none).
    """

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        *,
        token: Optional[str] = None,
        tls: bool = False,
        root_certificates: Optional[bytes] = None,
        client_certificate: Optional[bytes] = None,
        client_key: Optional[bytes] = None,
        timeout: Optional[float] = None,
        max_message_bytes: int = 64 * 1024 * 1024,
        options: Sequence[Tuple[str, Any]] = (),
    ) -> None:
        channel_options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            *options,
        ]
        if tls or root_certificates or client_certificate:
            credentials = grpc.ssl_channel_credentials(root_certificates, client_key, client_certificate)
            self.channel = grpc.secure_channel(target, credentials, options=channel_options)
        else:
            self.channel = grpc.insecure_channel(target, options=channel_options)
        self.stub = pb_grpc.ExecutionStub(self.channel)
        self.target = target
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._chain_id: Optional[int] = None

    # -- plumbing -------------------------------------------------------------------------
    def _call(self, method, request, timeout: Optional[float] = None):
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise _wrap(exc) from None

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel is connected (raises :class:`Unavailable`)."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise Unavailable(grpc.StatusCode.UNAVAILABLE, f"no server at {self.target} after {timeout}s") from None

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- execution ------------------------------------------------------------------------
    @staticmethod
    def batch_request(env: BlockEnv, transactions: Iterable[Union[bytes, UnsignedTx]], parent: ExecutionRef = None,
                      *, mode: str = "hold", include_state_diff: bool = False, strict: bool = False,
                      expected_state_root: Optional[bytes] = None,
                      parent_is_previous: bool = False) -> pb.ExecuteBatchRequest:
        request = pb.ExecuteBatchRequest(
            parent_id=_ref(parent),
            env=convert.env_to_pb(env),
            mode=MODES[mode],
            include_state_diff=include_state_diff,
            strict=strict,
            expected_state_root=expected_state_root or b"",
            parent_is_previous=parent_is_previous,
        )
        add = request.transactions.add
        for tx in transactions:
            if isinstance(tx, bytes):
                add(signed=tx)
            elif isinstance(tx, (bytearray, memoryview)):
                add(signed=bytes(tx))
            else:
                add().CopyFrom(convert.transaction_to_pb(tx))
        return request

    def execute(self, env: BlockEnv, transactions: Iterable[Union[bytes, UnsignedTx]], parent: ExecutionRef = None,
                *, mode: str = "hold", include_state_diff: bool = False, strict: bool = False,
                expected_state_root: Optional[bytes] = None, timeout: Optional[float] = None) -> RemoteResult:
        """Execute a block on the head (``parent=None``) or a held execution.

        ``mode``: ``"hold"`` (default; Commit or Discard it later), ``"commit"`` or
        ``"simulate"``. A block-level failure comes back with ``state == "rejected"``."""
        request = self.batch_request(env, transactions, parent, mode=mode, include_state_diff=include_state_diff,
                                     strict=strict, expected_state_root=expected_state_root)
        return result_from_pb(self._call(self.stub.ExecuteBatch, request, timeout), env)

    def simulate(self, env: BlockEnv, transactions: Iterable[Union[bytes, UnsignedTx]], parent: ExecutionRef = None,
                 **kwargs) -> RemoteResult:
        return self.execute(env, transactions, parent, mode="simulate", **kwargs)

    def commit(self, execution: ExecutionRef, expected_state_root: Optional[bytes] = None,
               timeout: Optional[float] = None) -> Head:
        """Commit a held execution; like the engine, sets ``stats.commit_seconds`` on a result."""
        response = self._call(self.stub.Commit, pb.CommitRequest(execution_id=_ref(execution),
                                                                 expected_state_root=expected_state_root or b""),
                              timeout)
        if isinstance(execution, BlockResult) and not response.already_committed:
            execution.stats.commit_seconds = response.commit_seconds
        return convert.head_from_pb(response.head)

    def discard(self, execution: ExecutionRef, timeout: Optional[float] = None) -> List[int]:
        response = self._call(self.stub.Discard, pb.DiscardRequest(execution_id=_ref(execution)), timeout)
        return list(response.discarded_ids)

    def revert_to(self, number: int, timeout: Optional[float] = None) -> Head:
        response = self._call(self.stub.RevertTo, pb.RevertToRequest(block_number=number), timeout)
        return convert.head_from_pb(response.head)

    def stream(self, timeout: Optional[float] = None) -> "BlockStream":
        """A bidirectional ExecuteStream (see :class:`BlockStream`)."""
        return BlockStream(self, timeout)

    # -- calls ----------------------------------------------------------------------------
    @staticmethod
    def _call_request(tx: Union[bytes, UnsignedTx, tpb.UnsignedTransaction], at: ExecutionRef,
                      env: Optional[BlockEnv]) -> pb.CallRequest:
        if isinstance(tx, (bytes, bytearray)):
            transaction = tpb.Transaction(signed=bytes(tx))
        elif isinstance(tx, tpb.UnsignedTransaction):
            transaction = tpb.Transaction(unsigned=tx)
        else:
            transaction = convert.transaction_to_pb(tx)
        request = pb.CallRequest(transaction=transaction, at_execution_id=_ref(at))
        if env is not None:
            request.env.CopyFrom(convert.env_to_pb(env))
        return request

    @staticmethod
    def call_message(to: Optional[bytes], data: bytes = b"", *, sender: bytes = b"", value: int = 0, gas: int = 0,
                     nonce: Optional[int] = None) -> tpb.UnsignedTransaction:
        """An eth_call-style transaction: unset nonce, gas and fees take the server's defaults."""
        msg = tpb.UnsignedTransaction(sender=sender, gas=gas, value=convert.uint_to_bytes(value), data=data)
        if to is not None:
            msg.to = to
        if nonce is not None:
            msg.nonce = nonce
        return msg

    def call(self, tx: Union[bytes, UnsignedTx, tpb.UnsignedTransaction], at: ExecutionRef = None,
             env: Optional[BlockEnv] = None, timeout: Optional[float] = None) -> CallResult:
        """Run one transaction on the head or a held execution; nothing changes."""
        r = self._call(self.stub.Call, self._call_request(tx, at, env), timeout)
        return CallResult(status=convert.STATUS_FROM_PB.get(r.status, TxStatus.INVALID), return_data=r.return_data,
                          gas_used=r.gas_used, logs=tuple(Log(e.address, tuple(e.topics), e.data) for e in r.logs),
                          error=r.error or None, contract_address=r.contract_address or None)

    def estimate_gas(self, tx: Union[bytes, UnsignedTx, tpb.UnsignedTransaction], at: ExecutionRef = None,
                     env: Optional[BlockEnv] = None, timeout: Optional[float] = None) -> int:
        r = self._call(self.stub.EstimateGas, self._call_request(tx, at, env), timeout)
        status = convert.STATUS_FROM_PB.get(r.status, TxStatus.INVALID)
        if status is not TxStatus.SUCCESS:
            raise EstimateGasError(status, r.error, r.return_data)
        return r.gas

    # -- traces ---------------------------------------------------------------------------
    def trace_transaction(self, env: BlockEnv, transactions: Iterable[Union[bytes, UnsignedTx]], index: int,
                          parent: ExecutionRef = None, *, tracer: str = "eip3155", memory: bool = False,
                          stack: bool = True, return_data: bool = False,
                          timeout: Optional[float] = None) -> Iterator[str]:
        """The JSON lines of transaction ``index``'s trace (``tracer``: ``"eip3155"`` or
        ``"call"``), as the server streams them; the block runs as a simulation."""
        batch = self.batch_request(env, transactions, parent)
        request = pb.TraceTransactionRequest(
            parent_id=batch.parent_id, env=batch.env, transactions=batch.transactions, index=index,
            tracer={"eip3155": pb.TRACER_EIP3155, "call": pb.TRACER_CALL}[tracer], memory=memory,
            no_stack=not stack, return_data=return_data)
        try:
            for chunk in self.stub.TraceTransaction(request, timeout=self.timeout if timeout is None else timeout,
                                                    metadata=self._metadata):
                yield from chunk.lines
        except grpc.RpcError as exc:
            raise _wrap(exc) from None

    # -- reads ----------------------------------------------------------------------------
    def get_account(self, address: bytes, at: ExecutionRef = None) -> Optional[Account]:
        r = self._call(self.stub.GetAccount, pb.GetAccountRequest(address=_address(address), at_execution_id=_ref(at)))
        return Account(r.nonce, convert.bytes_to_uint(r.balance), r.code_hash) if r.exists else None

    def get_balance(self, address: bytes, at: ExecutionRef = None) -> int:
        account = self.get_account(address, at)
        return 0 if account is None else account.balance

    def get_nonce(self, address: bytes, at: ExecutionRef = None) -> int:
        account = self.get_account(address, at)
        return 0 if account is None else account.nonce

    def get_storage(self, address: bytes, slot: Union[int, bytes], at: ExecutionRef = None) -> int:
        r = self._call(self.stub.GetStorage, pb.GetStorageRequest(address=_address(address), slot=_slot_bytes(slot),
                                                                  at_execution_id=_ref(at)))
        return int.from_bytes(r.value, "big")

    def get_code(self, address: bytes, at: ExecutionRef = None) -> bytes:
        return self._call(self.stub.GetCode, pb.GetCodeRequest(address=_address(address),
                                                               at_execution_id=_ref(at))).code

    def get_proof(self, address: bytes, slots: Sequence[Union[int, bytes]] = (), at: ExecutionRef = None):
        """EIP-1186 proof as the ``GetProofResponse`` message."""
        return self._call(self.stub.GetProof, pb.GetProofRequest(
            address=_address(address), slots=[_slot_bytes(s) for s in slots], at_execution_id=_ref(at)))

    def get_head(self) -> HeadInfo:
        r = self._call(self.stub.GetHead, pb.GetHeadRequest())
        self._chain_id = r.chain_id
        return HeadInfo(head=convert.head_from_pb(r.head), chain_id=r.chain_id,
                        held_execution_ids=tuple(r.held_execution_ids), chain_config_json=r.chain_config_json)

    @property
    def head(self) -> Head:
        return self.get_head().head

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self.get_head()
        return self._chain_id


# -- streams -------------------------------------------------------------------------------
@dataclass
class StreamReply:
    """One answer on an ExecuteStream: ``kind`` is executed, committed, discarded or error."""

    tag: int
    kind: str
    result: Optional[RemoteResult] = None
    head: Optional[Head] = None
    ids: Tuple[int, ...] = ()
    error: Optional[RpcError] = None

    def unwrap(self) -> "StreamReply":
        if self.error is not None:
            raise self.error
        return self


class BlockStream:
    """Consecutive blocks on one ExecuteStream; requests are answered in order.

        with client.stream() as stream:
            stream.execute(env1, txs1)                            # parent: the head
            stream.execute(env2, txs2, parent_is_previous=True)   # pipelined on block 1
            first = stream.next().unwrap().result
            stream.commit(first)
            ...

    Sending never blocks on the server; ``next()`` returns replies in request order.
    """

    def __init__(self, client: Client, timeout: Optional[float] = None) -> None:
        self._requests: "queue.Queue[Optional[pb.StreamRequest]]" = queue.Queue()
        self._tags = itertools.count(1)
        self._envs: Dict[int, BlockEnv] = {}
        self._closed = False
        self._lock = threading.Lock()
        try:
            self._responses = client.stub.ExecuteStream(iter(self._requests.get, None), timeout=timeout,
                                                        metadata=client._metadata)
        except grpc.RpcError as exc:  # pragma: no cover - stream calls fail lazily
            raise _wrap(exc) from None

    def _send(self, **fields) -> int:
        with self._lock:
            if self._closed:
                raise RuntimeError("the stream is closed")
            tag = next(self._tags)
            self._requests.put(pb.StreamRequest(tag=tag, **fields))
            return tag

    def execute(self, env: BlockEnv, transactions: Iterable[Union[bytes, UnsignedTx]], parent: ExecutionRef = None,
                *, parent_is_previous: bool = False, mode: str = "hold", include_state_diff: bool = False,
                strict: bool = False, expected_state_root: Optional[bytes] = None) -> int:
        """Queue a block; ``parent_is_previous=True`` builds on this stream's previous block."""
        request = Client.batch_request(env, transactions, parent, mode=mode, include_state_diff=include_state_diff,
                                       strict=strict, expected_state_root=expected_state_root,
                                       parent_is_previous=parent_is_previous)
        tag = self._send(execute=request)
        self._envs[tag] = env
        return tag

    def commit(self, execution: ExecutionRef, expected_state_root: Optional[bytes] = None) -> int:
        return self._send(commit=pb.CommitRequest(execution_id=_ref(execution),
                                                  expected_state_root=expected_state_root or b""))

    def discard(self, execution: ExecutionRef) -> int:
        return self._send(discard=pb.DiscardRequest(execution_id=_ref(execution)))

    def next(self) -> StreamReply:
        """The next reply (blocks); raises :class:`RpcError` if the stream itself failed."""
        try:
            msg = next(self._responses)
        except grpc.RpcError as exc:
            raise _wrap(exc) from None
        kind = msg.WhichOneof("response")
        if kind == "executed":
            return StreamReply(msg.tag, kind, result=result_from_pb(msg.executed, self._envs.pop(msg.tag, None)))
        self._envs.pop(msg.tag, None)
        if kind == "committed":
            return StreamReply(msg.tag, kind, head=convert.head_from_pb(msg.committed.head),
                               ids=tuple(msg.committed.dropped_ids))
        if kind == "discarded":
            return StreamReply(msg.tag, kind, ids=tuple(msg.discarded.discarded_ids))
        code = CODES_BY_NUMBER.get(msg.error.code, grpc.StatusCode.UNKNOWN)
        return StreamReply(msg.tag, "error", error=error_for(code, msg.error.message))

    def __iter__(self) -> Iterator[StreamReply]:
        while True:
            try:
                yield self.next()
            except StopIteration:
                return

    def close(self) -> None:
        """Half-close: no more requests (replies still pending can be read)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._requests.put(None)

    def cancel(self) -> None:
        self.close()
        self._responses.cancel()

    def __enter__(self) -> "BlockStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        if exc[0] is not None:
            self._responses.cancel()
        else:
            for _ in self:  # drain the replies still in flight
                pass
