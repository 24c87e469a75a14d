"""Block-STM scheduler and record log in shared memory: compiled or pure-Python (see ``hyperion.native``)."""
from hyperion.native import load

_impl = load("hyperion.scheduler.blockstm", "shared")

SharedScheduler = _impl.SharedScheduler
segment_size = _impl.segment_size
READY, EXECUTING, EXECUTED, ABORTING = _impl.READY, _impl.EXECUTING, _impl.EXECUTED, _impl.ABORTING
NO_TASK, EXECUTION, VALIDATION = _impl.NO_TASK, _impl.EXECUTION, _impl.VALIDATION
H_DONE, H_STOP, H_ERROR, H_OVERFLOW = _impl.H_DONE, _impl.H_STOP, _impl.H_ERROR, _impl.H_OVERFLOW
H_INCARNATIONS, H_VALIDATION_ABORTS, H_VALIDATIONS = _impl.H_INCARNATIONS, _impl.H_VALIDATION_ABORTS, _impl.H_VALIDATIONS
H_DEPENDENCY_WAITS, H_EXEC_NS, H_VALIDATE_NS = _impl.H_DEPENDENCY_WAITS, _impl.H_EXEC_NS, _impl.H_VALIDATE_NS
H_WORKERS_IDLE, H_RECORDS, H_BLOCK_SEQ, H_N = _impl.H_WORKERS_IDLE, _impl.H_RECORDS, _impl.H_BLOCK_SEQ, _impl.H_N
H_EXECUTION_IDX, H_VALIDATION_IDX = _impl.H_EXECUTION_IDX, _impl.H_VALIDATION_IDX
COMPILED = _impl.__name__.endswith("._shared")
