"""Hyperion's exceptions: each says what was wrong in words a caller can act on."""


class HyperionError(Exception):
    """Base class of every error Hyperion raises on purpose."""


class StoreError(HyperionError):
    """The store is missing, corrupt, or was asked for something it cannot do."""


class StaleParentError(HyperionError):
    """A block was executed on a parent that is no longer the head (or pending)."""


class UnknownBlockError(HyperionError):
    """A pending block id is unknown, already committed, discarded or expired."""


class RevertError(HyperionError):
    """``revert_to`` cannot reach the requested block."""


class ChainConfigError(HyperionError):
    """The chain configuration is invalid or does not match the data directory."""


class GenesisError(HyperionError):
    """The genesis allocation is malformed or the store already has a chain."""


class InvalidBlockError(HyperionError):
    """The block as a whole is invalid (e.g. a Prague block without its EIP-7002 contract).

    ``result`` holds the per-transaction results computed before the failure, as the
    t8n tool reports them.
    """

    def __init__(self, message: str, result=None) -> None:
        super().__init__(message)
        self.result = result


class InvalidTransactionError(HyperionError):
    """Strict mode: a transaction in the batch cannot be included."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"transaction {index} is invalid: {reason}")
        self.index = index
        self.reason = reason


class BatchTooLargeError(HyperionError):
    """The batch exceeds a configured limit (transactions, gas or bytes)."""


class ExecutionCancelled(HyperionError):
    """An execution (block, simulation, call or estimate) was stopped before it finished
    because its caller gave up; nothing it did was kept."""


class DeadlineExceededError(ExecutionCancelled, TimeoutError):
    """An execution was stopped because its deadline passed; nothing it did was kept."""
