from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TxStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TX_STATUS_UNSPECIFIED: _ClassVar[TxStatus]
    TX_STATUS_SUCCESS: _ClassVar[TxStatus]
    TX_STATUS_REVERTED: _ClassVar[TxStatus]
    TX_STATUS_HALTED: _ClassVar[TxStatus]
    TX_STATUS_INVALID: _ClassVar[TxStatus]
TX_STATUS_UNSPECIFIED: TxStatus
TX_STATUS_SUCCESS: TxStatus
TX_STATUS_REVERTED: TxStatus
TX_STATUS_HALTED: TxStatus
TX_STATUS_INVALID: TxStatus

class Withdrawal(_message.Message):
    __slots__ = ("index", "validator_index", "address", "amount")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_INDEX_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    index: int
    validator_index: int
    address: bytes
    amount: int
    def __init__(self, index: _Optional[int] = ..., validator_index: _Optional[int] = ..., address: _Optional[bytes] = ..., amount: _Optional[int] = ...) -> None: ...

class BlockEnv(_message.Message):
    __slots__ = ("number", "timestamp", "coinbase", "gas_limit", "base_fee", "prev_randao", "difficulty", "parent_hash", "block_hashes", "parent_beacon_block_root", "withdrawals", "excess_blob_gas", "extra_data", "block_reward", "no_block_reward", "max_blob_gas_per_block")
    class BlockHashesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: bytes
        def __init__(self, key: _Optional[int] = ..., value: _Optional[bytes] = ...) -> None: ...
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    COINBASE_FIELD_NUMBER: _ClassVar[int]
    GAS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    BASE_FEE_FIELD_NUMBER: _ClassVar[int]
    PREV_RANDAO_FIELD_NUMBER: _ClassVar[int]
    DIFFICULTY_FIELD_NUMBER: _ClassVar[int]
    PARENT_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASHES_FIELD_NUMBER: _ClassVar[int]
    PARENT_BEACON_BLOCK_ROOT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWALS_FIELD_NUMBER: _ClassVar[int]
    EXCESS_BLOB_GAS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_DATA_FIELD_NUMBER: _ClassVar[int]
    BLOCK_REWARD_FIELD_NUMBER: _ClassVar[int]
    NO_BLOCK_REWARD_FIELD_NUMBER: _ClassVar[int]
    MAX_BLOB_GAS_PER_BLOCK_FIELD_NUMBER: _ClassVar[int]
    number: int
    timestamp: int
    coinbase: bytes
    gas_limit: int
    base_fee: bytes
    prev_randao: bytes
    difficulty: bytes
    parent_hash: bytes
    block_hashes: _containers.ScalarMap[int, bytes]
    parent_beacon_block_root: bytes
    withdrawals: _containers.RepeatedCompositeFieldContainer[Withdrawal]
    excess_blob_gas: int
    extra_data: bytes
    block_reward: bytes
    no_block_reward: bool
    max_blob_gas_per_block: int
    def __init__(self, number: _Optional[int] = ..., timestamp: _Optional[int] = ..., coinbase: _Optional[bytes] = ..., gas_limit: _Optional[int] = ..., base_fee: _Optional[bytes] = ..., prev_randao: _Optional[bytes] = ..., difficulty: _Optional[bytes] = ..., parent_hash: _Optional[bytes] = ..., block_hashes: _Optional[_Mapping[int, bytes]] = ..., parent_beacon_block_root: _Optional[bytes] = ..., withdrawals: _Optional[_Iterable[_Union[Withdrawal, _Mapping]]] = ..., excess_blob_gas: _Optional[int] = ..., extra_data: _Optional[bytes] = ..., block_reward: _Optional[bytes] = ..., no_block_reward: _Optional[bool] = ..., max_blob_gas_per_block: _Optional[int] = ...) -> None: ...

class AccessListEntry(_message.Message):
    __slots__ = ("address", "storage_keys")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_KEYS_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    storage_keys: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, address: _Optional[bytes] = ..., storage_keys: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Authorization(_message.Message):
    __slots__ = ("chain_id", "address", "nonce", "y_parity", "r", "s")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    Y_PARITY_FIELD_NUMBER: _ClassVar[int]
    R_FIELD_NUMBER: _ClassVar[int]
    S_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: bytes
    s: bytes
    def __init__(self, chain_id: _Optional[int] = ..., address: _Optional[bytes] = ..., nonce: _Optional[int] = ..., y_parity: _Optional[int] = ..., r: _Optional[bytes] = ..., s: _Optional[bytes] = ...) -> None: ...

class UnsignedTransaction(_message.Message):
    __slots__ = ("sender", "nonce", "gas", "to", "value", "data", "type", "gas_price", "max_fee_per_gas", "max_priority_fee_per_gas", "access_list", "authorization_list", "chain_id")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    GAS_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    GAS_PRICE_FIELD_NUMBER: _ClassVar[int]
    MAX_FEE_PER_GAS_FIELD_NUMBER: _ClassVar[int]
    MAX_PRIORITY_FEE_PER_GAS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LIST_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_LIST_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    sender: bytes
    nonce: int
    gas: int
    to: bytes
    value: bytes
    data: bytes
    type: int
    gas_price: bytes
    max_fee_per_gas: bytes
    max_priority_fee_per_gas: bytes
    access_list: _containers.RepeatedCompositeFieldContainer[AccessListEntry]
    authorization_list: _containers.RepeatedCompositeFieldContainer[Authorization]
    chain_id: int
    def __init__(self, sender: _Optional[bytes] = ..., nonce: _Optional[int] = ..., gas: _Optional[int] = ..., to: _Optional[bytes] = ..., value: _Optional[bytes] = ..., data: _Optional[bytes] = ..., type: _Optional[int] = ..., gas_price: _Optional[bytes] = ..., max_fee_per_gas: _Optional[bytes] = ..., max_priority_fee_per_gas: _Optional[bytes] = ..., access_list: _Optional[_Iterable[_Union[AccessListEntry, _Mapping]]] = ..., authorization_list: _Optional[_Iterable[_Union[Authorization, _Mapping]]] = ..., chain_id: _Optional[int] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("signed", "unsigned")
    SIGNED_FIELD_NUMBER: _ClassVar[int]
    UNSIGNED_FIELD_NUMBER: _ClassVar[int]
    signed: bytes
    unsigned: UnsignedTransaction
    def __init__(self, signed: _Optional[bytes] = ..., unsigned: _Optional[_Union[UnsignedTransaction, _Mapping]] = ...) -> None: ...

class Log(_message.Message):
    __slots__ = ("address", "topics", "data")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    topics: _containers.RepeatedScalarFieldContainer[bytes]
    data: bytes
    def __init__(self, address: _Optional[bytes] = ..., topics: _Optional[_Iterable[bytes]] = ..., data: _Optional[bytes] = ...) -> None: ...

class TxResult(_message.Message):
    __slots__ = ("index", "status", "tx_hash", "sender", "receipt_index", "gas_used", "cumulative_gas_used", "blob_gas_used", "logs", "first_log_index", "return_data", "contract_address", "error", "tx_type")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_INDEX_FIELD_NUMBER: _ClassVar[int]
    GAS_USED_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_GAS_USED_FIELD_NUMBER: _ClassVar[int]
    BLOB_GAS_USED_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    FIRST_LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    RETURN_DATA_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TX_TYPE_FIELD_NUMBER: _ClassVar[int]
    index: int
    status: TxStatus
    tx_hash: bytes
    sender: bytes
    receipt_index: int
    gas_used: int
    cumulative_gas_used: int
    blob_gas_used: int
    logs: _containers.RepeatedCompositeFieldContainer[Log]
    first_log_index: int
    return_data: bytes
    contract_address: bytes
    error: str
    tx_type: int
    def __init__(self, index: _Optional[int] = ..., status: _Optional[_Union[TxStatus, str]] = ..., tx_hash: _Optional[bytes] = ..., sender: _Optional[bytes] = ..., receipt_index: _Optional[int] = ..., gas_used: _Optional[int] = ..., cumulative_gas_used: _Optional[int] = ..., blob_gas_used: _Optional[int] = ..., logs: _Optional[_Iterable[_Union[Log, _Mapping]]] = ..., first_log_index: _Optional[int] = ..., return_data: _Optional[bytes] = ..., contract_address: _Optional[bytes] = ..., error: _Optional[str] = ..., tx_type: _Optional[int] = ...) -> None: ...

class AccountChange(_message.Message):
    __slots__ = ("address", "deleted", "nonce", "balance", "code_hash")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    CODE_HASH_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    deleted: bool
    nonce: int
    balance: bytes
    code_hash: bytes
    def __init__(self, address: _Optional[bytes] = ..., deleted: _Optional[bool] = ..., nonce: _Optional[int] = ..., balance: _Optional[bytes] = ..., code_hash: _Optional[bytes] = ...) -> None: ...

class StorageSlot(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

class StorageChange(_message.Message):
    __slots__ = ("address", "wiped", "slots")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    WIPED_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    wiped: bool
    slots: _containers.RepeatedCompositeFieldContainer[StorageSlot]
    def __init__(self, address: _Optional[bytes] = ..., wiped: _Optional[bool] = ..., slots: _Optional[_Iterable[_Union[StorageSlot, _Mapping]]] = ...) -> None: ...

class Code(_message.Message):
    __slots__ = ("code_hash", "code")
    CODE_HASH_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    code_hash: bytes
    code: bytes
    def __init__(self, code_hash: _Optional[bytes] = ..., code: _Optional[bytes] = ...) -> None: ...

class StateDiff(_message.Message):
    __slots__ = ("accounts", "storage", "codes")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[AccountChange]
    storage: _containers.RepeatedCompositeFieldContainer[StorageChange]
    codes: _containers.RepeatedCompositeFieldContainer[Code]
    def __init__(self, accounts: _Optional[_Iterable[_Union[AccountChange, _Mapping]]] = ..., storage: _Optional[_Iterable[_Union[StorageChange, _Mapping]]] = ..., codes: _Optional[_Iterable[_Union[Code, _Mapping]]] = ...) -> None: ...

class ExecutionStats(_message.Message):
    __slots__ = ("scheduler", "workers", "fallback", "incarnations", "aborts", "validations", "dependency_waits", "worker_restarts", "execution_seconds", "validation_seconds", "root_seconds", "commit_seconds", "total_seconds", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    INCARNATIONS_FIELD_NUMBER: _ClassVar[int]
    ABORTS_FIELD_NUMBER: _ClassVar[int]
    VALIDATIONS_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_WAITS_FIELD_NUMBER: _ClassVar[int]
    WORKER_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ROOT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    scheduler: str
    workers: int
    fallback: str
    incarnations: int
    aborts: int
    validations: int
    dependency_waits: int
    worker_restarts: int
    execution_seconds: float
    validation_seconds: float
    root_seconds: float
    commit_seconds: float
    total_seconds: float
    extra: _containers.ScalarMap[str, float]
    def __init__(self, scheduler: _Optional[str] = ..., workers: _Optional[int] = ..., fallback: _Optional[str] = ..., incarnations: _Optional[int] = ..., aborts: _Optional[int] = ..., validations: _Optional[int] = ..., dependency_waits: _Optional[int] = ..., worker_restarts: _Optional[int] = ..., execution_seconds: _Optional[float] = ..., validation_seconds: _Optional[float] = ..., root_seconds: _Optional[float] = ..., commit_seconds: _Optional[float] = ..., total_seconds: _Optional[float] = ..., extra: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Head(_message.Message):
    __slots__ = ("number", "state_root", "block_hash")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    number: int
    state_root: bytes
    block_hash: bytes
    def __init__(self, number: _Optional[int] = ..., state_root: _Optional[bytes] = ..., block_hash: _Optional[bytes] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("exists", "nonce", "balance", "code_hash")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    CODE_HASH_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    nonce: int
    balance: bytes
    code_hash: bytes
    def __init__(self, exists: _Optional[bool] = ..., nonce: _Optional[int] = ..., balance: _Optional[bytes] = ..., code_hash: _Optional[bytes] = ...) -> None: ...
