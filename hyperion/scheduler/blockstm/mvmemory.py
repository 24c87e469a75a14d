"""Block-STM multi-version memory replica and incarnation reader: compiled or pure-Python."""
from hyperion.native import load

_impl = load("hyperion.scheduler.blockstm", "mvmemory")

MVMemory = _impl.MVMemory
MVView = _impl.MVView
ReadDependency = _impl.ReadDependency
ESTIMATE = _impl.ESTIMATE
WIPE = _impl.WIPE
