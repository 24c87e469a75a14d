"""Hyperion: parallel (Block-STM) execution engine for EVM chains, on py-evm and LMDB.

The embedding API lives here; see :class:`hyperion.Engine`.
"""
from hyperion.evm import lazy_precompiles as _lazy_precompiles

_lazy_precompiles.install()  # before anything imports py-evm (so the imports below come after it)

from hyperion import native as _native  # noqa: E402
from hyperion.errors import (  # noqa: E402
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
from hyperion.types import (  # noqa: E402
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

#: names whose modules import py-evm (over a second of start-up), loaded on first use so
#: that a process which needs none of them (the sender-recovery helper, ``hyperion --help``)
#: does not pay for it (PEP 562)
_LAZY = {
    "ChainConfig": "hyperion.chain",
    "ForkActivation": "hyperion.chain",
    "DEFAULT_DATA_DIR": "hyperion.engine",
    "Engine": "hyperion.engine",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hyperion' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


_native.install_fast_keccak()  # compiled keccak for py-evm and everything else

__version__ = "0.1.0"

__all__ = [
    "AccessListEntry", "Account", "Authorization", "BatchTooLargeError", "BlockEnv", "BlockResult",
    "ChainConfig", "ChainConfigError", "DEFAULT_DATA_DIR", "Engine", "ExecutionStats", "ForkActivation",
    "GenesisError", "Head", "HyperionError", "InvalidBlockError", "InvalidTransactionError", "Log", "Ommer",
    "RevertError", "StaleParentError", "StateDiff", "StoreError", "TxResult", "TxStatus", "UnknownBlockError",
    "UnsignedTx", "Withdrawal", "__version__",
]
