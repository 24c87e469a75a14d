"""The traced execution: py-evm's opcode loop with a tracer's hooks, swapped in only when asked.

A trace never runs on the untraced path: :func:`traced_state_class` derives, for one trace
run, a state class whose computation class replaces ``apply_computation`` by
:func:`_traced_apply` (py-evm's loop, the same opcode table, plus the hooks) and whose
``apply_transaction`` opens and closes a trace.  Blocks that are not traced keep the
engine's own classes, so tracing costs them nothing (docs/tracing.md).  A traced frame
always runs on py-evm's loop, whatever interpreter the engine uses otherwise.

Each transaction applied by the state is offered to the session's ``factory``, which
returns a tracer or ``None`` (that transaction then runs untraced).  A tracer implements:

- ``enter(computation)`` / ``exit(computation)``: a frame starts / its opcode loop ended
  (a create frame's code deposit comes after ``exit``);
- ``step(computation, pc, opcode)``: before each opcode;
- ``stepped(computation, charges, error)``: after it, with the charges to the frame's gas
  meter while it ran (``(amount, reason)`` pairs, the failed one included) and the
  ``VMError`` it raised;
- ``finish(transaction, computation)``: the transaction's top frame is final.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

from eth.exceptions import Halt, VMError
from eth.vm.logic.invalid import InvalidOpcode

STOP = 0x00


class TraceSession:
    """The tracers of one traced run, in the order the transactions were applied."""

    def __init__(self, factory: Callable[[object], Optional[object]]) -> None:
        self.factory = factory
        #: (py-evm transaction, tracer) of every traced transaction
        self.traces: List[Tuple[object, object]] = []
        self.active: Optional[object] = None


def traced_state_class(base_state: type, session: TraceSession) -> type:
    """``base_state`` whose transactions run under ``session``'s tracers."""
    base_computation = base_state.computation_class
    # type(x)(...): precompile-set computation classes have their own metaclass
    computation = type(base_computation)(
        f"Traced{base_computation.__name__}", (base_computation,),
        {"apply_computation": classmethod(_traced_apply), "_configure_gas_meter": _metered_gas,
         "trace_session": session, "op_charges": None},
    )

    def apply_transaction(state, transaction):
        tracer = session.factory(transaction)
        if tracer is None:
            return base_state.apply_transaction(state, transaction)
        session.active = tracer
        try:
            computation = base_state.apply_transaction(state, transaction)
        finally:
            session.active = None
        tracer.finish(transaction, computation)
        session.traces.append((transaction, tracer))
        return computation

    return type(base_state)(f"Traced{base_state.__name__}", (base_state,),
                            {"computation_class": computation, "apply_transaction": apply_transaction})


def _metered_gas(computation):
    """The fork's gas meter, whose charges are also listed in ``computation.op_charges``
    while an opcode runs (memory expansion charges the meter directly, not ``consume_gas``)."""
    meter = super(type(computation), computation)._configure_gas_meter()
    consume = meter.consume_gas

    def consume_gas(amount: int, reason: str) -> None:
        if computation.op_charges is not None:
            computation.op_charges.append((amount, reason))
        consume(amount, reason)

    meter.consume_gas = consume_gas
    return meter


def _traced_apply(cls, state, message, transaction_context, parent_computation=None):
    """py-evm's ``BaseComputation.apply_computation`` with the tracer's hooks."""
    tracer = cls.trace_session.active
    untraced = super(cls, cls).apply_computation
    if tracer is None:  # a system call, or a transaction this session does not trace
        return untraced(state, message, transaction_context, parent_computation)
    with cls(state, message, transaction_context) as computation:
        if computation.is_origin_computation:
            computation.contracts_created = []
            if message.is_create:
                cls.consume_initcode_gas_cost(computation)
        if parent_computation is not None:
            computation.contracts_created = parent_computation.contracts_created
        if message.is_create:
            computation.contracts_created.append(message.storage_address)
        tracer.enter(computation)
        precompile = computation.precompiles.get(message.code_address)
        if precompile is None:
            _run_traced(computation, tracer)
        elif not message.is_delegation:
            precompile(computation)
    # after the with block: py-evm has recorded the frame's error by now
    tracer.exit(computation)
    return computation


def _run_traced(computation, tracer) -> None:
    code = computation.code
    length = len(code)
    opcodes = computation.opcodes
    if length == 0:  # nothing runs: no STOP line (as the specs trace it)
        return
    while True:
        pc = code.program_counter
        # running off the end of the code is a STOP at pc == len(code)
        opcode = code[pc] if pc < length else STOP
        code.program_counter = pc + 1
        opcode_fn = opcodes.get(opcode)
        if opcode_fn is None:
            opcode_fn = InvalidOpcode(opcode)
        tracer.step(computation, pc, opcode)
        computation.op_charges = []
        halted, error = False, None
        try:
            opcode_fn(computation=computation)
        except Halt:
            halted = True
        except VMError as exc:
            error = exc
        charges, computation.op_charges = computation.op_charges, None
        tracer.stepped(computation, charges, error)
        if error is not None:
            raise error  # to py-evm's computation, which records it
        if halted:
            return
