"""Engine exceptions as gRPC status codes: what a client of the service sees."""
from __future__ import annotations

import grpc

from hyperion.errors import (
    BatchTooLargeError,
    ChainConfigError,
    DeadlineExceededError,
    ExecutionCancelled,
    GenesisError,
    HyperionError,
    InvalidTransactionError,
    RevertError,
    StaleParentError,
    StoreError,
    UnknownBlockError,
)
from hyperion.blockenv_bounds import BlockEnvError
from hyperion.rpc.convert import BadInput


def in_rpc_words(message: str) -> str:
    """The engine's "pending block" is the client's "execution"."""
    return message.replace("pending block", "execution")


class RpcFailure(Exception):
    """An error the client will see as ``code`` with ``message``."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fail(code: grpc.StatusCode, message: str) -> RpcFailure:
    return RpcFailure(code, message)


def map_error(exc: BaseException, *, parent: bool = False) -> RpcFailure:
    """Engine exception -> status code (``parent``: an unknown id was named as a parent)."""
    if isinstance(exc, RpcFailure):
        return exc
    if isinstance(exc, (BadInput, BlockEnvError)):  # BlockEnvError: a field the fork cannot run with
        return fail(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, UnknownBlockError):
        code = grpc.StatusCode.FAILED_PRECONDITION if parent else grpc.StatusCode.NOT_FOUND
        return fail(code, in_rpc_words(str(exc)))
    if isinstance(exc, DeadlineExceededError):  # hyperion.calls.EstimateTimeout too
        return fail(grpc.StatusCode.DEADLINE_EXCEEDED, str(exc))
    if isinstance(exc, ExecutionCancelled):
        return fail(grpc.StatusCode.CANCELLED, str(exc))
    if isinstance(exc, StaleParentError):
        return fail(grpc.StatusCode.FAILED_PRECONDITION, "stale parent: " + in_rpc_words(str(exc)))
    if isinstance(exc, InvalidTransactionError):
        return fail(grpc.StatusCode.INVALID_ARGUMENT, f"strict batch refused: {exc}")
    if isinstance(exc, BatchTooLargeError):
        return fail(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    if isinstance(exc, (RevertError, GenesisError, ChainConfigError)):
        return fail(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, StoreError):
        return fail(grpc.StatusCode.INTERNAL, f"store error: {exc}")
    if isinstance(exc, HyperionError):
        return fail(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    return fail(grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}: {exc}); see the server log")
