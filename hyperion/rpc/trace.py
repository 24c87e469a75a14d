"""``TraceTransaction``: one transaction's trace over gRPC, as chunks of JSON lines.

The trace is taken by :meth:`Engine.trace <hyperion.engine.Engine.trace>` (a simulation:
nothing is kept) and then streamed, :data:`CHUNK_LINES` lines a message, so no message
nears gRPC's size limit.  An EIP-3155 trace keeps at most ``line_limit`` opcode lines
(each opcode of a 30M-gas loop is a line: unbounded, a trace could exhaust the server's
memory); a longer one sends those and ends with RESOURCE_EXHAUSTED.
"""
from __future__ import annotations

import json
from typing import Iterator, List, Optional, Tuple

import grpc

from hyperion.errors import InvalidTransactionError
from hyperion.rpc.convert import BadInput
from hyperion.rpc.errors import fail
from hyperion.trace import TraceOptions
from hyperion.v1 import execution_pb2 as pb

CHUNK_LINES = 512
#: opcode lines a trace may have (about 200 bytes each in memory, more with --memory)
DEFAULT_LINE_LIMIT = 1_000_000


def trace_lines(engine, env, transactions, request: pb.TraceTransactionRequest, parent: Optional[int],
                deadline: float, cancelled, line_limit: Optional[int] = None) -> Tuple[List[str], bool]:
    """(the JSON lines of the trace, whether it was cut at ``line_limit``, by default
    :data:`DEFAULT_LINE_LIMIT`)."""
    line_limit = DEFAULT_LINE_LIMIT if line_limit is None else line_limit
    index = request.index
    if index >= len(transactions):
        raise BadInput(f"index {index} is past the {len(transactions)} transactions given")
    if request.tracer == pb.TRACER_CALL:
        tracer, options = "call", None
    elif request.tracer == pb.TRACER_EIP3155:
        tracer = "eip3155"
        options = TraceOptions(memory=request.memory, stack=not request.no_stack, return_data=request.return_data)
    else:
        raise BadInput(f"unknown tracer {request.tracer}")
    try:
        traces = engine.trace(env, transactions[:index + 1], index, parent, tracer=tracer, options=options,
                              deadline=deadline, cancelled=cancelled, max_lines=line_limit)
    except InvalidTransactionError as exc:
        raise fail(grpc.StatusCode.FAILED_PRECONDITION,
                   f"transaction {index} cannot be traced: it is invalid ({exc.reason})") from None
    result = traces[0].tracer
    if tracer == "call":
        return [json.dumps(result.result(), separators=(",", ":"))], False
    return result.jsonl().splitlines(), result.truncated


def chunks(lines: List[str]) -> Iterator[pb.TraceChunk]:
    for start in range(0, len(lines), CHUNK_LINES):
        yield pb.TraceChunk(lines=lines[start:start + CHUNK_LINES])


def truncated_message(lines: List[str]) -> str:
    return f"the trace has more than {len(lines) - 1} opcode lines, the server's limit; those were sent"
