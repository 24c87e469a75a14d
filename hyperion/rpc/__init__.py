"""Hyperion over gRPC: the ``hyperion.v1.Execution`` service, its server and a client.

- :class:`Client` — Python client mirroring the embedding API (``execute``, ``commit``,
  ``discard``, ``get_account``, ...), plus :meth:`Client.stream` for ExecuteStream.
- :class:`RpcServer` / :class:`ServerConfig` — the server ``hyperion serve`` runs.
- The API is defined in ``proto/hyperion/v1/*.proto``; generated stubs live in
  :mod:`hyperion.v1`.
"""
from hyperion.rpc.client import (
    BlockStream,
    CallResult,
    Client,
    DeadlineExceeded,
    EstimateGasError,
    FailedPrecondition,
    HeadInfo,
    InvalidArgument,
    NotFound,
    RemoteResult,
    ResourceExhausted,
    RpcError,
    StreamReply,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from hyperion.rpc.server import RpcServer, ServerConfig, ServerConfigError
from hyperion.rpc.service import ExecutionService, ServiceLimits

__all__ = [
    "BlockStream", "CallResult", "Client", "DeadlineExceeded", "EstimateGasError", "ExecutionService",
    "FailedPrecondition", "HeadInfo", "InvalidArgument", "NotFound", "RemoteResult", "ResourceExhausted", "RpcError",
    "RpcServer", "ServerConfig", "ServerConfigError", "ServiceLimits", "StreamReply", "Unauthenticated",
    "Unavailable", "Unimplemented",
]
