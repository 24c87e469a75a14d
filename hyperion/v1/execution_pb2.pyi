from hyperion.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tracer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRACER_EIP3155: _ClassVar[Tracer]
    TRACER_CALL: _ClassVar[Tracer]

class ExecutionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_MODE_HOLD: _ClassVar[ExecutionMode]
    EXECUTION_MODE_COMMIT: _ClassVar[ExecutionMode]
    EXECUTION_MODE_SIMULATE: _ClassVar[ExecutionMode]

class ExecutionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_STATE_UNSPECIFIED: _ClassVar[ExecutionState]
    EXECUTION_STATE_HELD: _ClassVar[ExecutionState]
    EXECUTION_STATE_COMMITTED: _ClassVar[ExecutionState]
    EXECUTION_STATE_SIMULATED: _ClassVar[ExecutionState]
    EXECUTION_STATE_REJECTED: _ClassVar[ExecutionState]
TRACER_EIP3155: Tracer
TRACER_CALL: Tracer
EXECUTION_MODE_HOLD: ExecutionMode
EXECUTION_MODE_COMMIT: ExecutionMode
EXECUTION_MODE_SIMULATE: ExecutionMode
EXECUTION_STATE_UNSPECIFIED: ExecutionState
EXECUTION_STATE_HELD: ExecutionState
EXECUTION_STATE_COMMITTED: ExecutionState
EXECUTION_STATE_SIMULATED: ExecutionState
EXECUTION_STATE_REJECTED: ExecutionState

class TraceTransactionRequest(_message.Message):
    __slots__ = ("parent_id", "env", "transactions", "index", "tracer", "memory", "no_stack", "return_data")
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TRACER_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    NO_STACK_FIELD_NUMBER: _ClassVar[int]
    RETURN_DATA_FIELD_NUMBER: _ClassVar[int]
    parent_id: int
    env: _types_pb2.BlockEnv
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Transaction]
    index: int
    tracer: Tracer
    memory: bool
    no_stack: bool
    return_data: bool
    def __init__(self, parent_id: _Optional[int] = ..., env: _Optional[_Union[_types_pb2.BlockEnv, _Mapping]] = ..., transactions: _Optional[_Iterable[_Union[_types_pb2.Transaction, _Mapping]]] = ..., index: _Optional[int] = ..., tracer: _Optional[_Union[Tracer, str]] = ..., memory: _Optional[bool] = ..., no_stack: _Optional[bool] = ..., return_data: _Optional[bool] = ...) -> None: ...

class TraceChunk(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, lines: _Optional[_Iterable[str]] = ...) -> None: ...

class ExecuteBatchRequest(_message.Message):
    __slots__ = ("parent_id", "env", "transactions", "mode", "include_state_diff", "strict", "parent_is_previous", "expected_state_root")
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_STATE_DIFF_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    PARENT_IS_PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    parent_id: int
    env: _types_pb2.BlockEnv
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Transaction]
    mode: ExecutionMode
    include_state_diff: bool
    strict: bool
    parent_is_previous: bool
    expected_state_root: bytes
    def __init__(self, parent_id: _Optional[int] = ..., env: _Optional[_Union[_types_pb2.BlockEnv, _Mapping]] = ..., transactions: _Optional[_Iterable[_Union[_types_pb2.Transaction, _Mapping]]] = ..., mode: _Optional[_Union[ExecutionMode, str]] = ..., include_state_diff: _Optional[bool] = ..., strict: _Optional[bool] = ..., parent_is_previous: _Optional[bool] = ..., expected_state_root: _Optional[bytes] = ...) -> None: ...

class ExecutionResult(_message.Message):
    __slots__ = ("execution_id", "state", "number", "fork", "parent_id", "parent_state_root", "state_root", "transactions_root", "receipts_root", "logs_bloom", "gas_used", "blob_gas_used", "withdrawals_root", "requests_hash", "requests", "block_hash", "tx_results", "state_diff", "stats", "block_exception", "head", "expires_in_ms")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    FORK_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_ROOT_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_ROOT_FIELD_NUMBER: _ClassVar[int]
    LOGS_BLOOM_FIELD_NUMBER: _ClassVar[int]
    GAS_USED_FIELD_NUMBER: _ClassVar[int]
    BLOB_GAS_USED_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWALS_ROOT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_HASH_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    TX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    STATE_DIFF_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_EXCEPTION_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_MS_FIELD_NUMBER: _ClassVar[int]
    execution_id: int
    state: ExecutionState
    number: int
    fork: str
    parent_id: int
    parent_state_root: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    logs_bloom: bytes
    gas_used: int
    blob_gas_used: int
    withdrawals_root: bytes
    requests_hash: bytes
    requests: _containers.RepeatedScalarFieldContainer[bytes]
    block_hash: bytes
    tx_results: _containers.RepeatedCompositeFieldContainer[_types_pb2.TxResult]
    state_diff: _types_pb2.StateDiff
    stats: _types_pb2.ExecutionStats
    block_exception: str
    head: _types_pb2.Head
    expires_in_ms: int
    def __init__(self, execution_id: _Optional[int] = ..., state: _Optional[_Union[ExecutionState, str]] = ..., number: _Optional[int] = ..., fork: _Optional[str] = ..., parent_id: _Optional[int] = ..., parent_state_root: _Optional[bytes] = ..., state_root: _Optional[bytes] = ..., transactions_root: _Optional[bytes] = ..., receipts_root: _Optional[bytes] = ..., logs_bloom: _Optional[bytes] = ..., gas_used: _Optional[int] = ..., blob_gas_used: _Optional[int] = ..., withdrawals_root: _Optional[bytes] = ..., requests_hash: _Optional[bytes] = ..., requests: _Optional[_Iterable[bytes]] = ..., block_hash: _Optional[bytes] = ..., tx_results: _Optional[_Iterable[_Union[_types_pb2.TxResult, _Mapping]]] = ..., state_diff: _Optional[_Union[_types_pb2.StateDiff, _Mapping]] = ..., stats: _Optional[_Union[_types_pb2.ExecutionStats, _Mapping]] = ..., block_exception: _Optional[str] = ..., head: _Optional[_Union[_types_pb2.Head, _Mapping]] = ..., expires_in_ms: _Optional[int] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("execution_id", "expected_state_root")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    execution_id: int
    expected_state_root: bytes
    def __init__(self, execution_id: _Optional[int] = ..., expected_state_root: _Optional[bytes] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ("head", "dropped_ids", "already_committed", "commit_seconds")
    HEAD_FIELD_NUMBER: _ClassVar[int]
    DROPPED_IDS_FIELD_NUMBER: _ClassVar[int]
    ALREADY_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    head: _types_pb2.Head
    dropped_ids: _containers.RepeatedScalarFieldContainer[int]
    already_committed: bool
    commit_seconds: float
    def __init__(self, head: _Optional[_Union[_types_pb2.Head, _Mapping]] = ..., dropped_ids: _Optional[_Iterable[int]] = ..., already_committed: _Optional[bool] = ..., commit_seconds: _Optional[float] = ...) -> None: ...

class DiscardRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: int
    def __init__(self, execution_id: _Optional[int] = ...) -> None: ...

class DiscardResponse(_message.Message):
    __slots__ = ("discarded_ids",)
    DISCARDED_IDS_FIELD_NUMBER: _ClassVar[int]
    discarded_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, discarded_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("tag", "execute", "commit", "discard")
    TAG_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    DISCARD_FIELD_NUMBER: _ClassVar[int]
    tag: int
    execute: ExecuteBatchRequest
    commit: CommitRequest
    discard: DiscardRequest
    def __init__(self, tag: _Optional[int] = ..., execute: _Optional[_Union[ExecuteBatchRequest, _Mapping]] = ..., commit: _Optional[_Union[CommitRequest, _Mapping]] = ..., discard: _Optional[_Union[DiscardRequest, _Mapping]] = ...) -> None: ...

class StreamError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("tag", "executed", "committed", "discarded", "error")
    TAG_FIELD_NUMBER: _ClassVar[int]
    EXECUTED_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    DISCARDED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    tag: int
    executed: ExecutionResult
    committed: CommitResponse
    discarded: DiscardResponse
    error: StreamError
    def __init__(self, tag: _Optional[int] = ..., executed: _Optional[_Union[ExecutionResult, _Mapping]] = ..., committed: _Optional[_Union[CommitResponse, _Mapping]] = ..., discarded: _Optional[_Union[DiscardResponse, _Mapping]] = ..., error: _Optional[_Union[StreamError, _Mapping]] = ...) -> None: ...

class CallRequest(_message.Message):
    __slots__ = ("transaction", "at_execution_id", "env")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    AT_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    transaction: _types_pb2.Transaction
    at_execution_id: int
    env: _types_pb2.BlockEnv
    def __init__(self, transaction: _Optional[_Union[_types_pb2.Transaction, _Mapping]] = ..., at_execution_id: _Optional[int] = ..., env: _Optional[_Union[_types_pb2.BlockEnv, _Mapping]] = ...) -> None: ...

class CallResponse(_message.Message):
    __slots__ = ("status", "return_data", "gas_used", "logs", "error", "contract_address")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RETURN_DATA_FIELD_NUMBER: _ClassVar[int]
    GAS_USED_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    status: _types_pb2.TxStatus
    return_data: bytes
    gas_used: int
    logs: _containers.RepeatedCompositeFieldContainer[_types_pb2.Log]
    error: str
    contract_address: bytes
    def __init__(self, status: _Optional[_Union[_types_pb2.TxStatus, str]] = ..., return_data: _Optional[bytes] = ..., gas_used: _Optional[int] = ..., logs: _Optional[_Iterable[_Union[_types_pb2.Log, _Mapping]]] = ..., error: _Optional[str] = ..., contract_address: _Optional[bytes] = ...) -> None: ...

class EstimateGasResponse(_message.Message):
    __slots__ = ("gas", "status", "return_data", "error")
    GAS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RETURN_DATA_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    gas: int
    status: _types_pb2.TxStatus
    return_data: bytes
    error: str
    def __init__(self, gas: _Optional[int] = ..., status: _Optional[_Union[_types_pb2.TxStatus, str]] = ..., return_data: _Optional[bytes] = ..., error: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("address", "at_execution_id")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AT_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    at_execution_id: int
    def __init__(self, address: _Optional[bytes] = ..., at_execution_id: _Optional[int] = ...) -> None: ...

class GetStorageRequest(_message.Message):
    __slots__ = ("address", "slot", "at_execution_id")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    AT_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    slot: bytes
    at_execution_id: int
    def __init__(self, address: _Optional[bytes] = ..., slot: _Optional[bytes] = ..., at_execution_id: _Optional[int] = ...) -> None: ...

class GetStorageResponse(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    def __init__(self, value: _Optional[bytes] = ...) -> None: ...

class GetCodeRequest(_message.Message):
    __slots__ = ("address", "at_execution_id")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AT_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    at_execution_id: int
    def __init__(self, address: _Optional[bytes] = ..., at_execution_id: _Optional[int] = ...) -> None: ...

class GetCodeResponse(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: bytes
    def __init__(self, code: _Optional[bytes] = ...) -> None: ...

class GetProofRequest(_message.Message):
    __slots__ = ("address", "slots", "at_execution_id")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    AT_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    slots: _containers.RepeatedScalarFieldContainer[bytes]
    at_execution_id: int
    def __init__(self, address: _Optional[bytes] = ..., slots: _Optional[_Iterable[bytes]] = ..., at_execution_id: _Optional[int] = ...) -> None: ...

class StorageProof(_message.Message):
    __slots__ = ("key", "value", "proof")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ..., proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetProofResponse(_message.Message):
    __slots__ = ("address", "account_proof", "balance", "code_hash", "nonce", "storage_hash", "storage_proof", "state_root")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_PROOF_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    CODE_HASH_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    STORAGE_HASH_FIELD_NUMBER: _ClassVar[int]
    STORAGE_PROOF_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    account_proof: _containers.RepeatedScalarFieldContainer[bytes]
    balance: bytes
    code_hash: bytes
    nonce: int
    storage_hash: bytes
    storage_proof: _containers.RepeatedCompositeFieldContainer[StorageProof]
    state_root: bytes
    def __init__(self, address: _Optional[bytes] = ..., account_proof: _Optional[_Iterable[bytes]] = ..., balance: _Optional[bytes] = ..., code_hash: _Optional[bytes] = ..., nonce: _Optional[int] = ..., storage_hash: _Optional[bytes] = ..., storage_proof: _Optional[_Iterable[_Union[StorageProof, _Mapping]]] = ..., state_root: _Optional[bytes] = ...) -> None: ...

class GetHeadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetHeadResponse(_message.Message):
    __slots__ = ("head", "chain_id", "held_execution_ids", "chain_config_json")
    HEAD_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_EXECUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    head: _types_pb2.Head
    chain_id: int
    held_execution_ids: _containers.RepeatedScalarFieldContainer[int]
    chain_config_json: str
    def __init__(self, head: _Optional[_Union[_types_pb2.Head, _Mapping]] = ..., chain_id: _Optional[int] = ..., held_execution_ids: _Optional[_Iterable[int]] = ..., chain_config_json: _Optional[str] = ...) -> None: ...

class RevertToRequest(_message.Message):
    __slots__ = ("block_number",)
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    block_number: int
    def __init__(self, block_number: _Optional[int] = ...) -> None: ...

class RevertToResponse(_message.Message):
    __slots__ = ("head", "dropped_ids")
    HEAD_FIELD_NUMBER: _ClassVar[int]
    DROPPED_IDS_FIELD_NUMBER: _ClassVar[int]
    head: _types_pb2.Head
    dropped_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, head: _Optional[_Union[_types_pb2.Head, _Mapping]] = ..., dropped_ids: _Optional[_Iterable[int]] = ...) -> None: ...
