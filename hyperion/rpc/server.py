"""The gRPC server around an :class:`~hyperion.engine.Engine` (``hyperion serve``).

    server = RpcServer(engine, ServerConfig(listen="127.0.0.1:0"))
    port = server.start()          # accepting calls from here on
    ...
    server.stop()                  # drain: finish or discard in-flight work, drop held executions

Start-up order matters (docs/design.md §11): the engine — and with it the parallel
scheduler's worker processes — exists before the gRPC server is created, because gRPC's
core does not survive ``fork()``.

Security: loopback by default.  Listening anywhere else needs TLS *and* a bearer token;
:class:`ServerConfig` refuses the combination otherwise, before anything is bound.
"""
from __future__ import annotations

import errno
import hmac
import ipaddress
import logging
import socket
import threading
from concurrent import futures
from dataclasses import dataclass, field
from typing import Optional

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hyperion.engine import Engine
from hyperion.errors import HyperionError
from hyperion.rpc.logs import log_event
from hyperion.rpc.metrics import Metrics, parse_host_port
from hyperion.rpc.service import SERVICE_NAME, ExecutionService, ServiceLimits
from hyperion.v1 import execution_pb2, execution_pb2_grpc

log = logging.getLogger("hyperion.rpc")

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
HEALTH_PREFIX = "/grpc.health.v1.Health/"


class ServerConfigError(HyperionError):
    """The server configuration is unsafe or inconsistent; nothing was started."""


@dataclass
class ServerConfig:
    listen: str = DEFAULT_LISTEN
    #: PEM files: server certificate chain and key; a client CA turns on client certificates
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = None
    tls_client_ca: Optional[str] = None
    #: bearer token every call must carry (``authorization: Bearer <token>``); health is exempt
    token: Optional[str] = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    limits: ServiceLimits = field(default_factory=ServiceLimits)
    #: gRPC handler threads (each open ExecuteStream holds one)
    threads: int = 32
    #: seconds SIGTERM / stop() lets in-flight calls finish before cancelling them
    grace: float = 30.0
    #: ``HOST:PORT`` of the Prometheus endpoint, or None
    metrics: Optional[str] = None

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    def check(self) -> None:
        """Raise :class:`ServerConfigError` for an unsafe or incomplete configuration."""
        try:
            host, _ = parse_host_port(self.listen)
        except ValueError as exc:
            raise ServerConfigError(f"--listen {exc}") from None
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ServerConfigError("TLS needs both --tls-cert and --tls-key")
        if self.tls_client_ca and not self.tls_cert:
            raise ServerConfigError("--tls-client-ca (client certificates) needs --tls-cert and --tls-key")
        if self.token is not None and not self.token.strip():
            raise ServerConfigError("the bearer token is empty")
        if not is_loopback(host) and not (self.tls and self.token):
            missing = " and ".join(m for m, ok in (("TLS (--tls-cert/--tls-key)", self.tls),
                                                   ("a bearer token (--token-file or HYPERION_RPC_TOKEN)", self.token))
                                   if not ok)
            raise ServerConfigError(
                f"refusing to listen on {self.listen}: it is not a loopback address, and a sequencer API open to "
                f"the network needs {missing}. Listen on 127.0.0.1 (the default), or configure both."
            )
        if self.metrics:
            try:
                parse_host_port(self.metrics)
            except ValueError as exc:
                raise ServerConfigError(f"--metrics {exc}") from None
        # before the data directory is touched: `hyperion serve` checks this first, and a
        # busy port found only at bind time left a genesis written into a new directory
        for option, address in (("--listen", self.listen), ("--metrics", self.metrics)):
            if address and address_in_use(address):
                raise ServerConfigError(f"cannot listen on {address} ({option}): the address is already in use")


def address_in_use(listen: str) -> bool:
    """Whether ``HOST:PORT`` has a listener already (port 0 never does).

    Probes by binding as grpc will (``SO_REUSEADDR``: a port left in TIME_WAIT is free);
    the real bind still decides, this only makes a busy port fail early.
    """
    host, port = parse_host_port(listen)
    if port == 0:
        return False
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        return False  # the bind reports an unresolvable host in its own words
    busy = False
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                busy = busy or exc.errno == errno.EADDRINUSE
                continue
        return False  # one address of the host binds: grpc will serve there
    return busy


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """Refuses (UNAUTHENTICATED) every call without ``authorization: Bearer <token>``,
    except the standard health service, so probers need no secret."""

    def __init__(self, token: str, metrics: Optional[Metrics] = None) -> None:
        self._expected = f"bearer {token.strip()}".encode()
        self._metrics = metrics

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        if method.startswith(HEALTH_PREFIX):
            return continuation(handler_call_details)
        supplied = ""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                supplied = value if isinstance(value, str) else value.decode("latin-1")
                break
        parts = supplied.strip().split(None, 1)
        candidate = (parts[0].lower() + " " + parts[1].strip()).encode() if len(parts) == 2 else b""
        if hmac.compare_digest(candidate, self._expected):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        reason = "missing" if not supplied else "wrong"
        message = (f"{reason} bearer token: send the metadata 'authorization: Bearer <token>' with the token the "
                   f"server was started with (--token-file / HYPERION_RPC_TOKEN)")
        if self._metrics is not None:
            self._metrics.rpc_requests.labels(method.rsplit("/", 1)[-1], "UNAUTHENTICATED").inc()
        log_event(log, logging.WARNING, "auth.refused", method=method, reason=reason)

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        def deny_stream(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
            yield  # pragma: no cover - a generator, as the streaming handler must be

        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny_stream)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny_stream)
        return grpc.unary_unary_rpc_method_handler(deny)


class _Undecodable:
    """What request bytes that are not a valid message deserialize to."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class DecodeErrorInterceptor(grpc.ServerInterceptor):
    """Request bytes that do not decode as the method's message -> INVALID_ARGUMENT.

    A request deserializer that raises makes grpc answer INTERNAL ("Exception deserializing
    request!"): the client's mistake reported as the server's.  The wrapped deserializer
    returns a marker instead, which the call refuses before the service sees it.
    """

    def __init__(self, metrics: Optional[Metrics] = None) -> None:
        self._metrics = metrics
        self._handlers: dict = {}  # method -> (its handler, the wrapped one): built once

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.request_deserializer is None or not method.startswith(f"/{SERVICE_NAME}/"):
            return handler
        cached = self._handlers.get(method)
        if cached is None or cached[0] is not handler:
            cached = self._handlers[method] = (handler, self._wrap(handler, method))
        return cached[1]

    def _wrap(self, handler, method: str):
        deserialize, name = handler.request_deserializer, method.rsplit("/", 1)[-1]

        def lenient(raw: bytes):
            try:
                return deserialize(raw)
            except Exception as exc:  # protobuf's DecodeError, or whatever a parser raises
                return _Undecodable(f"{type(exc).__name__}: {exc}".rstrip(": "))

        def refuse(context, bad: _Undecodable) -> None:
            if self._metrics is not None:
                self._metrics.rpc(name, "INVALID_ARGUMENT", 0.0)
            log_event(log, logging.INFO, "rpc.error", method=name, code="INVALID_ARGUMENT", message=bad.reason)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"{name}: the request is not a valid protobuf message ({bad.reason})")

        serializer = handler.response_serializer
        if handler.request_streaming:
            inner = handler.stream_stream or handler.stream_unary

            def checked(requests, context):
                for request in requests:
                    if isinstance(request, _Undecodable):
                        refuse(context, request)
                    yield request

            def streaming(requests, context):
                return inner(checked(requests, context), context)

            make = grpc.stream_stream_rpc_method_handler if handler.response_streaming else \
                grpc.stream_unary_rpc_method_handler
            return make(streaming, request_deserializer=lenient, response_serializer=serializer)
        inner = handler.unary_stream or handler.unary_unary

        def unary(request, context):
            if isinstance(request, _Undecodable):
                refuse(context, request)
            return inner(request, context)

        make = grpc.unary_stream_rpc_method_handler if handler.response_streaming else grpc.unary_unary_rpc_method_handler
        return make(unary, request_deserializer=lenient, response_serializer=serializer)


class RpcServer:
    """One gRPC server serving one engine; :meth:`stop` drains it."""

    def __init__(self, engine: Engine, config: Optional[ServerConfig] = None, *, close_engine: bool = False) -> None:
        self.engine = engine
        self.config = config or ServerConfig()
        self.config.check()
        self.close_engine = close_engine
        self.metrics = Metrics()
        self.config.limits.max_message_bytes = self.config.max_message_bytes
        self.service = ExecutionService(engine, self.config.limits, self.metrics)
        self.health = health.HealthServicer(experimental_non_blocking=True)
        self.port: Optional[int] = None
        self.metrics_port: Optional[int] = None
        self._server: Optional[grpc.Server] = None
        self._metrics_server = None
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    @property
    def address(self) -> str:
        host, _ = parse_host_port(self.config.listen)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def start(self) -> int:
        """Bind, start serving, return the bound port (``--listen HOST:0`` picks a free one)."""
        config = self.config
        # the parallel scheduler's worker processes, before any gRPC object exists
        warm_seconds = self.engine.warm_up()
        interceptors = [TokenAuthInterceptor(config.token, self.metrics)] if config.token else []
        interceptors.append(DecodeErrorInterceptor(self.metrics))
        options = [
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", 0),  # a second server on the same port must fail, not share it
        ]
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="hyperion-rpc"),
                             interceptors=interceptors, options=options)
        execution_pb2_grpc.add_ExecutionServicer_to_server(self.service, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (execution_pb2.DESCRIPTOR.services_by_name["Execution"].full_name, health.SERVICE_NAME,
             reflection.SERVICE_NAME),
            server,
        )
        host, port = parse_host_port(config.listen)
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            if config.tls:
                credentials = grpc.ssl_server_credentials(
                    [(_read(config.tls_key), _read(config.tls_cert))],
                    root_certificates=_read(config.tls_client_ca) if config.tls_client_ca else None,
                    require_client_auth=bool(config.tls_client_ca),
                )
                bound = server.add_secure_port(bind, credentials)
            else:
                bound = server.add_insecure_port(bind)
        except RuntimeError as exc:
            raise ServerConfigError(f"cannot listen on {config.listen}: {exc}") from None
        if not bound:
            raise ServerConfigError(f"cannot listen on {config.listen} (address in use?)")
        self.port = bound
        if config.metrics:
            from prometheus_client import start_http_server

            m_host, m_port = parse_host_port(config.metrics)
            try:
                self._metrics_server, _ = start_http_server(m_port, addr=m_host, registry=self.metrics.registry)
                self.metrics_port = self._metrics_server.server_port
            except OSError as exc:
                server.stop(None)
                raise ServerConfigError(f"cannot serve metrics on {config.metrics}: {exc}") from None
        self.service.start()
        server.start()
        self._server = server
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        head = self.engine.head
        log_event(log, logging.INFO, "server.started", listen=self.address, tls=config.tls,
                  client_certs=bool(config.tls_client_ca), auth=bool(config.token), data_dir=self.engine.store.path,
                  head=head.number, scheduler=getattr(self.engine.scheduler, "name", "?"),
                  workers=getattr(self.engine.scheduler, "workers", 1), warm_up_seconds=warm_seconds,
                  metrics=config.metrics or None, hold_timeout=config.limits.hold_timeout)
        return bound

    def stop(self, grace: Optional[float] = None) -> None:
        """Drain and stop (idempotent): refuse new calls, let in-flight ones finish for
        ``grace`` seconds, wait for the running write, drop held executions, close."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            grace = self.config.grace if grace is None else grace
            log_event(log, logging.INFO, "server.draining", grace=grace)
            self.health.enter_graceful_shutdown()
            if self._server is not None:
                self._server.stop(grace).wait()
            # handler threads outlive server.stop once grace ran out: wait for the writer
            while not self.service.drain(timeout=10.0):
                log_event(log, logging.WARNING, "server.waiting_for_writer",
                          hint="an execution is still running; a second signal forces exit")
            if self._metrics_server is not None:
                self._metrics_server.shutdown()
                self._metrics_server.server_close()
            head = self.engine.head
            if self.close_engine:
                self.engine.close()
            log_event(log, logging.INFO, "server.stopped", head=head.number, state_root=head.state_root)
            self._stopped.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._stopped.wait(timeout)

    def __enter__(self) -> "RpcServer":
        if self.port is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ServerConfigError(f"cannot read {path}: {exc.strerror}") from None
