"""The hook into py-evm: a computation mixin whose ``apply_computation`` runs the frame's
code through the compiled interpreter when it is enabled, else through py-evm's loop.

Which opcodes run compiled is decided per fork from py-evm's own opcode table: an opcode
is compiled only where the fork's implementation is py-evm's standard logic function that
``_interp.pyx`` reproduces, with the static gas the fork's table gives it; every other
opcode (and any opcode a fork or Hyperion overrides) runs as the fork's own py-evm function
on the same computation.  So availability and gas per fork are never copied by hand.
"""
from __future__ import annotations

from typing import Dict

from eth.vm.logic import (
    arithmetic,
    comparison,
    context,
    duplication,
    flow,
    memory,
    sha3,
    stack,
    swap,
)
from eth.vm.logic.invalid import InvalidOpcode

import hyperion.evm.interpreter as interpreter
from hyperion.evm.interpreter.analysis import analyse

#: opcode -> the py-evm logic function ``_interp.pyx`` reproduces for it
STANDARD_LOGIC = {
    0x00: flow.stop, 0x01: arithmetic.add, 0x02: arithmetic.mul, 0x03: arithmetic.sub,
    0x04: arithmetic.div, 0x05: arithmetic.sdiv, 0x06: arithmetic.mod, 0x07: arithmetic.smod,
    0x08: arithmetic.addmod, 0x09: arithmetic.mulmod, 0x0B: arithmetic.signextend,
    0x10: comparison.lt, 0x11: comparison.gt, 0x12: comparison.slt, 0x13: comparison.sgt,
    0x14: comparison.eq, 0x15: comparison.iszero, 0x16: comparison.and_op,
    0x17: comparison.or_op, 0x18: comparison.xor, 0x19: comparison.not_op,
    0x1A: comparison.byte_op, 0x1B: arithmetic.shl, 0x1C: arithmetic.shr, 0x1D: arithmetic.sar,
    0x20: sha3.sha3, 0x30: context.address, 0x32: context.origin, 0x33: context.caller,
    0x34: context.callvalue, 0x35: context.calldataload, 0x36: context.calldatasize,
    0x38: context.codesize, 0x50: stack.pop, 0x51: memory.mload, 0x52: memory.mstore,
    0x53: memory.mstore8, 0x56: flow.jump, 0x57: flow.jumpi, 0x58: flow.program_counter,
    0x59: memory.msize, 0x5A: flow.gas, 0x5B: flow.jumpdest, 0x5F: stack.push0,
    **{0x60 + k: getattr(stack, f"push{k + 1}") for k in range(32)},
    **{0x80 + k: getattr(duplication, f"dup{k + 1}") for k in range(16)},
    **{0x90 + k: getattr(swap, f"swap{k + 1}") for k in range(16)},
}

#: messages with more gas than this run py-evm's loop (the C gas counter is an int64)
MAX_COMPILED_GAS = 1 << 62

_tables: Dict[type, object] = {}

#: frames run by each loop in this process
frame_counts = {"compiled": 0, "pyevm": 0}


def compiled_opcodes(opcodes) -> Dict[int, int]:
    """{opcode: static gas} of the opcodes in a fork's table that run compiled."""
    chosen = {}
    for op, standard in STANDARD_LOGIC.items():
        implementation = opcodes.get(op)
        if getattr(implementation, "logic_fn", None) is standard:
            chosen[op] = implementation.gas_cost
    return chosen


def fork_table(computation_class):
    """The compiled interpreter's table for this computation class (built once)."""
    table = _tables.get(computation_class)
    if table is None:
        opcodes = computation_class.opcodes
        functions = [opcodes.get(op) or InvalidOpcode(op) for op in range(256)]
        table = interpreter.compiled_module.ForkTable(compiled_opcodes(opcodes), functions)
        _tables[computation_class] = table
    return table


class CompiledLoopComputation:
    """Computation mixin: the frame's opcodes through the compiled interpreter."""

    @classmethod
    def apply_computation(cls, state, message, transaction_context, parent_computation=None):
        if not interpreter._enabled or message.gas >= MAX_COMPILED_GAS:
            frame_counts["pyevm"] += 1
            return super().apply_computation(state, message, transaction_context, parent_computation)
        frame_counts["compiled"] += 1
        # py-evm's BaseComputation.apply_computation up to its opcode loop, unchanged
        with cls(state, message, transaction_context) as computation:
            if computation.is_origin_computation:
                computation.contracts_created = []
                if message.is_create:
                    cls.consume_initcode_gas_cost(computation)
            if parent_computation is not None:
                computation.contracts_created = parent_computation.contracts_created
            if message.is_create:
                computation.contracts_created.append(message.storage_address)
            precompile = computation.precompiles.get(message.code_address)
            if precompile is not None:
                if not message.is_delegation:
                    precompile(computation)
                return computation
            if message.code:
                interpreter.compiled_module.run(computation, analyse(message.code), fork_table(cls))
        return computation
