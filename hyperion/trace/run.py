"""Tracing the transactions of a block through the engine: :func:`trace_block`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

from hyperion.errors import InvalidTransactionError
from hyperion.evm.transactions import light_prepare
from hyperion.trace.calltracer import CallTracer
from hyperion.trace.eip3155 import StructLogger, TraceOptions
from hyperion.trace.hooks import TraceSession
from hyperion.types import BlockEnv, BlockResult, TxInput

if TYPE_CHECKING:
    from hyperion.engine import BlockRef, Engine

TRACERS = ("eip3155", "call")


@dataclass
class TxTrace:
    """The trace of one included transaction."""

    index: int  #: its position among the block's inputs
    tx_hash: bytes
    #: a :class:`~hyperion.trace.StructLogger` (``records()``, ``jsonl()``) or a
    #: :class:`~hyperion.trace.CallTracer` (``result()``)
    tracer: object


def tracer_factory(tracer: str, options: Optional[TraceOptions] = None, max_lines: Optional[int] = None
                   ) -> Callable[[], object]:
    if tracer == "eip3155":
        chosen = options or TraceOptions()
        return lambda: StructLogger(chosen, max_lines)
    if tracer == "call":
        return CallTracer
    raise ValueError(f"unknown tracer {tracer!r}: choose one of {', '.join(TRACERS)}")


def collect(result: BlockResult, session: TraceSession) -> List[TxTrace]:
    """Pair ``session``'s traces with the included transactions of ``result``, in order."""
    traces = list(session.traces)
    out = []
    for tx_result in result.tx_results:
        if not tx_result.included or not traces or traces[0][0].hash != tx_result.tx_hash:
            continue
        tracer = traces.pop(0)[1]
        if isinstance(tracer, CallTracer) and tracer.root is not None:
            tracer.root["gasUsed"] = hex(tx_result.gas_used)  # the receipt's, as geth's top frame
        out.append(TxTrace(tx_result.index, tx_result.tx_hash, tracer))
    return out


def trace_block(engine: "Engine", env: BlockEnv, transactions: Sequence[TxInput], index: Optional[int] = None,
                parent: "BlockRef" = None, *, tracer: str = "eip3155", options: Optional[TraceOptions] = None,
                deadline: Optional[float] = None, cancelled: Optional[Callable[[], bool]] = None,
                max_lines: Optional[int] = None) -> List[TxTrace]:
    """Run block ``env`` on ``parent`` as :meth:`Engine.simulate` does and trace its
    transactions: all of them, or only input ``index`` (then the transactions after it do not
    run: they cannot change it).  Raises :class:`~hyperion.errors.InvalidTransactionError`
    if transaction ``index`` is invalid (it never runs, so it has no trace).  ``max_lines``
    bounds each EIP-3155 trace (:class:`~hyperion.trace.StructLogger`).
    """
    make = tracer_factory(tracer, options, max_lines)
    if index is None:
        session = TraceSession(lambda tx: make())
    else:
        if not 0 <= index < len(transactions):
            raise IndexError(f"transaction index {index} is out of range: the block has {len(transactions)}")
        transactions = list(transactions[:index + 1])
        fork = engine.fork_at(env.number, env.timestamp)
        wanted = light_prepare(fork, transactions[index], engine.chain_config.chain_id, index).hash
        session = TraceSession(lambda tx: make() if tx.hash == wanted else None)
    result = engine.simulate(env, transactions, parent, deadline=deadline, cancelled=cancelled, trace=session)
    traces = collect(result, session)
    if index is not None:
        traces = [t for t in traces if t.index == index]
        if not traces:
            outcome = result.tx_results[index]
            raise InvalidTransactionError(index, outcome.error or "invalid")
    return traces
