"""EIP-3155 struct logs: one JSON line per executed opcode, then a summary line.

The lines are those of the execution specs' t8n (``ethereum-spec-evm t8n --trace``), byte
for byte on the same execution: keys in the order ``pc, op, gas, gasCost, memory,
memSize, stack, returnData, depth, refund, opName, error``, absent when not set, compact
separators; ``gas`` and ``gasCost`` as hex strings, and dropped (like ``pc``) when past 64
bits; the summary ``{"output", "gasUsed", "error"}``, with ``output`` as hex without
``0x`` and ``gasUsed`` the gas the top frame used (no intrinsic gas, no refund).

What py-evm's bookkeeping does differently, and how the line still reads as the specs':

- ``gasCost`` is every charge to the frame's gas meter while the opcode ran; a CALL's
  includes the gas it passes on (as in the specs), a CREATE's does not (the specs take the
  new frame's gas outside the charge that is traced): py-evm charges it after the opcode's
  own cost, under the opcode's name, and that charge is left out;
- ``refund`` is the refund counter of the frame and its callers, after the opcode's own
  refund changes (the specs change the counter before charging SSTORE's gas), but before a
  called frame's;
- before London, a SELFDESTRUCT's refund counts from the opcode on, as in the specs
  (py-evm adds it when the transaction ends);
- errors are named as the specs name them (:data:`ERROR_NAMES`), SHA3 is ``KECCAK``;
- an invalid opcode is its own line, ``opName`` ``InvalidOpcode`` with no gas charged,
  and an opcode short of operands is charged nothing (the specs take the operands before
  they charge; py-evm charges the base cost first);
- ``returnData`` (when asked for) exists from Byzantium on, as the return data buffer.

One difference remains: on the line of an opcode that halts exceptionally (out of gas,
return data out of bounds, ...), ``gasCost`` is what py-evm had charged when the opcode
failed, which for an opcode py-evm charges in parts (base cost, memory, cold access, gas
passed on) can be less than the whole cost the specs charge before their checks.  The
frame's gas is gone either way; every other field of that line, and every other line,
are the same.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, List, Optional

from eth.vm.forks.frontier.constants import REFUND_SELFDESTRUCT
from eth.vm.forks.london.state import LondonTransactionExecutor

#: py-evm's exception class names -> the execution specs' (the ``error`` fields)
ERROR_NAMES: Dict[str, str] = {
    "OutOfGas": "OutOfGasError",
    "InsufficientStack": "StackUnderflowError",
    "FullStack": "StackOverflowError",
    "InvalidJumpDestination": "InvalidJumpDestError",
    "InvalidInstruction": "InvalidOpcode",
    "StackDepthLimit": "StackDepthLimitError",
    "WriteProtection": "WriteInStaticContext",
    "OutOfBoundsRead": "OutOfBoundsRead",
    "Revert": "Revert",
    "ReservedBytesInCode": "InvalidContractPrefix",
    "ContractCreationCollision": "AddressCollision",
}

#: py-evm's mnemonics that the specs spell differently
OP_NAMES: Dict[str, str] = {"SHA3": "KECCAK"}

INVALID_OPCODE = "InvalidOpcode"
SELFDESTRUCT = 0xFF
RETURNDATASIZE = 0x3D
CREATES = (0xF0, 0xF5)
_U64 = 1 << 64


def error_name(error: Optional[BaseException]) -> Optional[str]:
    if error is None:
        return None
    name = type(error).__name__
    return ERROR_NAMES.get(name, name)


@dataclass(frozen=True)
class TraceOptions:
    """What each line carries besides the always-present fields (geth's and the specs'
    ``--trace.memory``, ``--trace.nostack``, ``--trace.returndata``)."""

    memory: bool = False
    stack: bool = True
    return_data: bool = False


class _Frame:
    __slots__ = ("computation", "children_counted", "children_refund", "line", "destroyed", "selfdestruct_refund")

    def __init__(self, computation) -> None:
        self.computation = computation
        self.children_counted = 0  #: finished children whose refunds are in children_refund
        self.children_refund = 0
        self.line: Optional[dict] = None  #: the line of the opcode running in this frame
        #: before London: accounts this frame (and its successful children) destroyed, and
        #: the refund the specs count for them as they go (py-evm adds it at the end)
        self.destroyed: set = set()
        self.selfdestruct_refund = 0


class StructLogger:
    """The EIP-3155 trace of one transaction (a tracer for :mod:`hyperion.trace.hooks`)."""

    def __init__(self, options: TraceOptions = TraceOptions(), max_lines: Optional[int] = None) -> None:
        """``max_lines``: keep at most that many opcode lines (then ``truncated`` is set and
        the execution carries on untraced), so a trace's size has a bound."""
        self.options = options
        self.max_lines = max_lines
        self.truncated = False
        self.lines: List[dict] = []
        self.summary: Optional[dict] = None
        self._frames: List[_Frame] = []
        self._start_gas = 0
        self._selfdestruct_refund = 0  #: the fork's, set when the transaction's frame starts

    # -- hooks -------------------------------------------------------------------------
    def enter(self, computation) -> None:
        if not self._frames:  # a create transaction's init-code cost is intrinsic gas in the specs
            self._start_gas = computation.get_gas_remaining()
            executor = computation.state.transaction_executor_class
            self._selfdestruct_refund = 0 if issubclass(executor, LondonTransactionExecutor) else REFUND_SELFDESTRUCT
        self._frames.append(_Frame(computation))

    def exit(self, computation) -> None:
        frame = self._frames.pop()
        if self._frames and not computation.is_error:
            parent = self._frames[-1]
            parent.destroyed |= frame.destroyed
            parent.selfdestruct_refund += frame.selfdestruct_refund

    def step(self, computation, pc: int, opcode: int) -> None:
        frame = self._frames[-1]
        if self.max_lines is not None and len(self.lines) >= self.max_lines:
            self.truncated = True
            frame.line = None
            return
        options = self.options
        opcode_fn = computation.opcodes.get(opcode)
        name = INVALID_OPCODE if opcode_fn is None else getattr(opcode_fn, "mnemonic", None) \
            or opcode_fn.__wrapped__.mnemonic  # the deadline's checked opcodes wrap py-evm's
        memory_size = len(computation._memory)
        line = {"pc": pc, "op": opcode, "gas": computation.get_gas_remaining(), "gasCost": 0}
        if options.memory and memory_size:
            line["memory"] = "0x" + computation.memory_read_bytes(0, memory_size).hex()
        line["memSize"] = memory_size
        if options.stack:
            # py-evm keeps stack items as ints or bytes, bottom first; no public reader
            line["stack"] = [hex(v if isinstance(v, int) else int.from_bytes(v, "big"))
                             for v in computation._stack.values]
        if options.return_data and RETURNDATASIZE in computation.opcodes:  # none before Byzantium
            line["returnData"] = "0x" + computation.return_data.hex()
        line["depth"] = computation.msg.depth + 1
        line["refund"] = self._refund_counter()
        line["opName"] = OP_NAMES.get(name, name)
        frame.line = line
        self.lines.append(line)

    def stepped(self, computation, charges, error: Optional[BaseException]) -> None:
        frame = self._frames[-1]
        line = frame.line
        if line is None:  # past max_lines
            return
        frame.line = None
        if line["opName"] == INVALID_OPCODE or type(error).__name__ == "InsufficientStack":
            # the specs take an opcode's operands before they charge it; py-evm charges first
            line["gasCost"] = 0
        elif line["op"] in CREATES:  # the first charge is the opcode's; a later one in its name passes gas on
            name = line["opName"]
            line["gasCost"] = charges[0][0] + sum(amount for amount, reason in charges[1:] if reason != name) \
                if charges else 0
        else:
            line["gasCost"] = sum(amount for amount, _ in charges)
        if line["op"] == SELFDESTRUCT and error is None and self._selfdestruct_refund:
            address = computation.msg.storage_address
            if address not in frame.destroyed:
                frame.destroyed.add(address)
                frame.selfdestruct_refund += self._selfdestruct_refund
        if len(computation.children) == frame.children_counted:  # no frame was called
            line["refund"] = self._refund_counter()
        if error is not None:
            line["error"] = error_name(error)

    def finish(self, transaction, computation) -> None:
        output = computation.output
        self.summary = {"output": output.hex(), "gasUsed": self._start_gas - computation.get_gas_remaining()}
        if computation.is_error:
            self.summary["error"] = error_name(computation.error)

    # -- output ------------------------------------------------------------------------
    def _refund_counter(self) -> int:
        """The refund counter of the running frames (a finished frame's counts once its
        caller has it: py-evm sums children's refunds lazily)."""
        total = 0
        for frame in self._frames:
            computation = frame.computation
            children = computation.children
            if len(children) != frame.children_counted:
                frame.children_refund += sum(child.get_gas_refund() for child in children[frame.children_counted:])
                frame.children_counted = len(children)
            total += computation.get_gas_meter().gas_refunded + frame.children_refund + frame.selfdestruct_refund
        return total

    def records(self) -> List[dict]:
        """The JSON objects of the trace, in order (the summary last)."""
        out = [_line_json(line) for line in self.lines]
        if self.summary is not None:
            out.append(dict(self.summary, gasUsed=hex(self.summary["gasUsed"])))
        return out

    def jsonl(self) -> str:
        return "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in self.records())


def _line_json(line: dict) -> dict:
    out = dict(line)
    for key in ("gas", "gasCost"):
        if out[key] >= _U64:
            del out[key]  # as the specs' writer: a gas figure past 64 bits is left out
        else:
            out[key] = hex(out[key])
    return out


def trace_file_name(index: int, tx_hash: bytes) -> str:
    """``trace-<index>-<0xhash>.jsonl``, the name t8n tools give a transaction's trace."""
    return f"trace-{index}-0x{tx_hash.hex()}.jsonl"
