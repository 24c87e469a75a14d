"""Transaction traces: EIP-3155 struct logs and geth's call tracer (docs/tracing.md)."""
from hyperion.trace.calltracer import CallTracer
from hyperion.trace.eip3155 import StructLogger, TraceOptions, trace_file_name
from hyperion.trace.hooks import TraceSession, traced_state_class

__all__ = ["CallTracer", "StructLogger", "TraceOptions", "TraceSession", "trace_file_name", "traced_state_class"]
