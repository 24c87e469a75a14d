"""Prometheus metrics of the execution service (``hyperion serve --metrics HOST:PORT``).

Each server gets its own :class:`~prometheus_client.CollectorRegistry`, so several
servers (tests) can live in one process.  Names start with ``hyperion_``.
"""
from __future__ import annotations

from typing import Optional, Tuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from hyperion.types import BlockResult

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self, registry: Optional[CollectorRegistry] = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.rpc_requests = Counter("hyperion_rpc_requests", "RPCs handled, by method and status code",
                                    ["method", "code"], registry=r)
        self.rpc_latency = Histogram("hyperion_rpc_latency_seconds", "RPC latency, by method", ["method"],
                                     buckets=LATENCY_BUCKETS, registry=r)
        self.blocks_executed = Counter("hyperion_blocks_executed", "Blocks executed, by mode (hold, commit, simulate)",
                                       ["mode"], registry=r)
        self.blocks_committed = Counter("hyperion_blocks_committed", "Blocks committed to the store", registry=r)
        self.blocks_discarded = Counter("hyperion_blocks_discarded",
                                        "Held executions dropped, by reason (discard, expired, sibling, revert, "
                                        "deadline, shutdown, rejected)", ["reason"], registry=r)
        self.blocks_reverted = Counter("hyperion_blocks_reverted", "Committed blocks undone by RevertTo", registry=r)
        self.txs = Counter("hyperion_transactions", "Transactions executed in kept blocks (hold / commit), by status",
                           ["status"], registry=r)
        self.gas = Counter("hyperion_gas_used", "Gas used by executed blocks (hold / commit)", registry=r)
        self.execute_seconds = Histogram("hyperion_block_execute_seconds",
                                         "Engine time per block: execution, state root, total", ["phase"],
                                         buckets=LATENCY_BUCKETS, registry=r)
        self.commit_seconds = Histogram("hyperion_block_commit_seconds", "Store commit time per block",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.aborts = Counter("hyperion_blockstm_aborts", "Block-STM aborted incarnations (ExecutionStats.aborts)",
                              registry=r)
        self.reexecutions = Counter("hyperion_blockstm_reexecutions",
                                    "Incarnations beyond the first per transaction (re-executions)", registry=r)
        self.dependency_waits = Counter("hyperion_blockstm_dependency_waits", "Block-STM dependency suspensions",
                                        registry=r)
        self.worker_restarts = Counter("hyperion_worker_restarts", "Parallel scheduler worker restarts", registry=r)
        self.fallbacks = Counter("hyperion_scheduler_fallbacks", "Blocks the scheduler ran sequentially, by reason",
                                 ["reason"], registry=r)
        self.held = Gauge("hyperion_held_executions", "Executions held, awaiting Commit or Discard", registry=r)
        self.head = Gauge("hyperion_head_block", "Number of the committed head", registry=r)

    def rpc(self, method: str, code: str, seconds: float) -> None:
        self.rpc_requests.labels(method, code).inc()
        self.rpc_latency.labels(method).observe(seconds)

    def executed(self, result: BlockResult, mode: str) -> None:
        self.blocks_executed.labels(mode).inc()
        stats = result.stats
        self.execute_seconds.labels("execution").observe(stats.execution_seconds)
        self.execute_seconds.labels("root").observe(stats.root_seconds)
        self.execute_seconds.labels("total").observe(stats.total_seconds)
        if mode == "simulate":
            return
        counts = {}
        for r in result.tx_results:
            counts[r.status] = counts.get(r.status, 0) + 1
        for status, count in counts.items():
            self.txs.labels(status.value).inc(count)
        self.gas.inc(result.gas_used)
        self.aborts.inc(stats.aborts)
        self.reexecutions.inc(max(stats.incarnations - len(result.tx_results), 0))
        self.dependency_waits.inc(stats.dependency_waits)
        self.worker_restarts.inc(stats.worker_restarts)
        if stats.fallback:
            self.fallbacks.labels(str(stats.fallback)).inc()

    def committed(self, result: BlockResult, head_number: int) -> None:
        self.blocks_committed.inc()
        self.commit_seconds.observe(result.stats.commit_seconds)
        self.head.set(head_number)

    def discarded(self, count: int, reason: str) -> None:
        if count:
            self.blocks_discarded.labels(reason).inc(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def parse_host_port(text: str, default_port: Optional[int] = None) -> Tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (host = 127.0.0.1)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif text.count(":") > 1:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:50051")
    else:
        host, port_text = text, ""
    host = host or "127.0.0.1"
    if not port_text:
        if default_port is None:
            raise ValueError(f"{text!r}: a port is required (HOST:PORT)")
        return host, default_port
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r}: the port must be a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{text!r}: port out of range")
    return host, port
