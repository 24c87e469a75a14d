"""Hyperion: parallel (Block-STM) execution engine for EVM chains, on py-evm and LMDB.

The embedding API lives here; see :class:`hyperion.Engine`.
"""
from hyperion.chain import ChainConfig, ForkActivation
from hyperion.engine import DEFAULT_DATA_DIR, Engine
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
from hyperion.types import (
    AccessListEntry,
    Account,
    Authorization,
    BlockEnv,
    BlockResult,
    ExecutionStats,
    Head,
    Log,
    Ommer,
    StateDiff,
    TxResult,
    TxStatus,
    UnsignedTx,
    Withdrawal,
)

from hyperion import native as _native

_native.install_fast_keccak()  # compiled keccak for py-evm and everything else

__version__ = "0.1.0"

__all__ = [
    "AccessListEntry", "Account", "Authorization", "BatchTooLargeError", "BlockEnv", "BlockResult",
    "ChainConfig", "ChainConfigError", "DEFAULT_DATA_DIR", "Engine", "ExecutionStats", "ForkActivation",
    "GenesisError", "Head", "HyperionError", "InvalidBlockError", "InvalidTransactionError", "Log", "Ommer",
    "RevertError", "StaleParentError", "StateDiff", "StoreError", "TxResult", "TxStatus", "UnknownBlockError",
    "UnsignedTx", "Withdrawal", "__version__",
]
