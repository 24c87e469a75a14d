"""Hyperion's public data types: block environment, transactions in, results out.

Everything here is plain data (frozen dataclasses, bytes and ints) so it pickles cheaply,
crosses process boundaries and maps one to one onto the gRPC messages.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from hyperion.blockenv_bounds import check_block_env

Address = bytes  # 20 bytes
Hash32 = bytes  # 32 bytes

ZERO_ADDRESS = b"\x00" * 20
ZERO_HASH = b"\x00" * 32
EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
BLANK_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")


@dataclass(frozen=True)
class Account:
    """An account as the flat state sees it (the storage root is a trie concern)."""

    nonce: int = 0
    balance: int = 0
    code_hash: Hash32 = EMPTY_CODE_HASH

    @property
    def is_empty(self) -> bool:
        """EIP-161: no code, zero nonce, zero balance."""
        return self.nonce == 0 and self.balance == 0 and self.code_hash == EMPTY_CODE_HASH


@dataclass(frozen=True)
class Withdrawal:
    """An EIP-4895 withdrawal: ``amount`` is in gwei."""

    index: int
    validator_index: int
    address: Address
    amount: int


@dataclass(frozen=True)
class Ommer:
    """A pre-merge uncle, for its miner's reward: ``delta`` is the block's number minus
    the uncle's (1..6)."""

    delta: int
    address: Address


@dataclass(frozen=True)
class BlockEnv:
    """Everything a block's execution depends on besides the state and the transactions.

    ``block_hashes`` maps block numbers to hashes for BLOCKHASH (at most the 256 before
    ``number``); numbers it lacks are filled from the engine's own committed history.
    Fields a fork does not use are ignored (``difficulty`` after the merge,
    ``parent_beacon_block_root`` before Cancun, ...).
    """

    number: int
    timestamp: int
    coinbase: Address = ZERO_ADDRESS
    gas_limit: int = 30_000_000
    base_fee: Optional[int] = None
    prev_randao: Hash32 = ZERO_HASH
    difficulty: int = 0
    parent_hash: Optional[Hash32] = None
    block_hashes: Mapping[int, Hash32] = field(default_factory=dict)
    parent_beacon_block_root: Optional[Hash32] = None
    withdrawals: Sequence[Withdrawal] = ()
    excess_blob_gas: Optional[int] = None
    extra_data: bytes = b""
    #: block reward in wei for pre-merge forks; ``None`` = the fork's rule, ``-1`` = none
    block_reward: Optional[int] = None
    #: EIP-4844/7691 blob schedule maximum per block, ``None`` = the fork's constant
    max_blob_gas_per_block: Optional[int] = None
    #: ``False`` runs the transactions (and withdrawals, rewards) without the fork's
    #: system calls (EIP-4788, 2935, 7002, 7251) and request processing: how state
    #: tests and ``t8n --state-test`` apply a transaction
    system_calls: bool = True
    #: pre-merge uncles: their miners are rewarded, and the block's miner gets 1/32 of
    #: the block reward for each
    ommers: Sequence[Ommer] = ()

    def __post_init__(self) -> None:
        # every field within what a header can hold, whichever interface built it
        # (hyperion.blockenv_bounds); raises BlockEnvError
        check_block_env(self)


@dataclass(frozen=True)
class AccessListEntry:
    address: Address
    storage_keys: Tuple[int, ...] = ()


@dataclass(frozen=True)
class Authorization:
    """An EIP-7702 authorization tuple (signed by the authority)."""

    chain_id: int
    address: Address
    nonce: int
    y_parity: int
    r: int
    s: int


@dataclass(frozen=True)
class UnsignedTx:
    """A transaction with an explicit sender and no signature: for simulation and replay.

    ``type`` follows EIP-2718 (0 legacy, 1 access list, 2 dynamic fee, 4 set code). The
    transaction root encodes it with ``v = r = s = 0``.
    """

    sender: Address
    nonce: int
    gas: int
    to: Optional[Address] = None
    value: int = 0
    data: bytes = b""
    type: int = 2
    gas_price: Optional[int] = None
    max_fee_per_gas: Optional[int] = None
    max_priority_fee_per_gas: Optional[int] = None
    access_list: Tuple[AccessListEntry, ...] = ()
    authorization_list: Tuple[Authorization, ...] = ()
    chain_id: Optional[int] = None


#: A transaction as callers hand it in: signed EIP-2718 bytes or an :class:`UnsignedTx`.
TxInput = "bytes | UnsignedTx"


class TxStatus(enum.Enum):
    SUCCESS = "success"
    REVERTED = "reverted"  #: included, REVERT in the top frame
    HALTED = "halted"  #: included, exceptional halt (out of gas, bad opcode, ...)
    INVALID = "invalid"  #: not included: cannot pay, wrong nonce, bad signature, ...

    def __str__(self) -> str:  # print(result.status) shows "success", as the docs do
        return self.value


@dataclass(frozen=True)
class Log:
    address: Address
    topics: Tuple[Hash32, ...]
    data: bytes


@dataclass(frozen=True)
class TxResult:
    """What happened to one input transaction.

    For an INVALID transaction only ``index``, ``tx_hash`` (when decodable), ``status`` and
    ``error`` are meaningful; ``receipt_index`` is ``None`` and it uses no gas
    (docs/design.md §7: invalid transactions leave no gaps).
    """

    index: int
    status: TxStatus
    tx_hash: Optional[Hash32] = None
    sender: Optional[Address] = None
    receipt_index: Optional[int] = None
    gas_used: int = 0
    cumulative_gas_used: int = 0
    blob_gas_used: int = 0
    logs: Tuple[Log, ...] = ()
    first_log_index: int = 0
    return_data: bytes = b""
    contract_address: Optional[Address] = None
    error: Optional[str] = None
    tx_type: int = 0
    #: pre-Byzantium receipts: the state root after this transaction (EIP-658 replaced
    #: it with the status); ``None`` from Byzantium on
    post_state: Optional[Hash32] = None

    @property
    def included(self) -> bool:
        return self.status is not TxStatus.INVALID


@dataclass
class StateDiff:
    """The net change a block makes to the state.

    ``accounts`` maps each changed address to its new value (``None`` = deleted);
    ``storage`` holds the changed slots (value 0 = deleted); an address in ``wiped`` had
    all its earlier storage removed (self-destruct, deletion) before the slots in
    ``storage`` were written; ``codes`` holds new bytecode by hash.
    """

    accounts: Dict[Address, Optional[Account]] = field(default_factory=dict)
    storage: Dict[Address, Dict[int, int]] = field(default_factory=dict)
    wiped: set = field(default_factory=set)
    codes: Dict[Hash32, bytes] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.accounts or self.storage or self.wiped or self.codes)


@dataclass
class ExecutionStats:
    """How a block was executed (the parallel scheduler fills most of it)."""

    scheduler: str = "sequential"
    workers: int = 1
    fallback: Optional[str] = None
    incarnations: int = 0
    aborts: int = 0
    validations: int = 0
    dependency_waits: int = 0
    worker_restarts: int = 0
    execution_seconds: float = 0.0
    validation_seconds: float = 0.0
    root_seconds: float = 0.0
    commit_seconds: float = 0.0
    total_seconds: float = 0.0
    extra: Dict[str, float] = field(default_factory=dict)


@dataclass
class BlockResult:
    """The outcome of :meth:`hyperion.Engine.execute`: a *pending* block until committed.

    Carries everything a header needs (docs/design.md §6).  ``block_exception`` is set when
    the block as a whole is invalid (the t8n ``blockException``); such a block cannot be
    committed.
    """

    id: int
    number: int
    fork: str
    parent_id: Optional[int]
    parent_state_root: Hash32
    state_root: Hash32
    transactions_root: Hash32
    receipts_root: Hash32
    logs_bloom: bytes
    gas_used: int
    blob_gas_used: int
    withdrawals_root: Optional[Hash32]
    requests_hash: Optional[Hash32]
    requests: Tuple[bytes, ...]
    block_hash: Optional[Hash32]
    tx_results: List[TxResult]
    diff: StateDiff
    stats: ExecutionStats
    block_exception: Optional[str] = None
    env: Optional[BlockEnv] = None
    #: AI-precompile inference records (see hyperion.precompiles)
    inference_records: List[object] = field(default_factory=list)

    @property
    def receipts(self) -> List[TxResult]:
        """The included transactions, in receipt order."""
        return [r for r in self.tx_results if r.included]

    @property
    def invalid(self) -> List[TxResult]:
        return [r for r in self.tx_results if not r.included]


@dataclass(frozen=True)
class Head:
    """The committed head of the store."""

    number: int  #: -1 before genesis
    state_root: Hash32
    block_hash: Optional[Hash32] = None
