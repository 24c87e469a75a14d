"""The nested call frames of a transaction, in the shape of geth's ``callTracer``.

Each frame: ``type`` (CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE, CREATE2,
SELFDESTRUCT), ``from``, ``gas``, ``gasUsed``, ``to``, ``input``, ``output``, ``error``,
``revertReason``, ``calls``, ``logs`` (``withLog``: the frame's own logs, with ``position``,
the number of calls the frame made before it; none in a failed frame or below one) and
``value`` (absent for DELEGATECALL and STATICCALL), in geth's key order, empty fields left
out.  The top frame's ``gas`` is the transaction's gas limit and its ``gasUsed`` the
receipt's (set by :func:`hyperion.trace.run.trace_block`); an inner frame's are the gas it
was given and the gas it used.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

CALL_TYPES = {0xF0: "CREATE", 0xF1: "CALL", 0xF2: "CALLCODE", 0xF4: "DELEGATECALL", 0xF5: "CREATE2",
              0xFA: "STATICCALL"}
SELFDESTRUCT = 0xFF
LOG_OPS = range(0xA0, 0xA5)
#: Error(string), the revert reason Solidity and Vyper encode
ERROR_SELECTOR = bytes.fromhex("08c379a0")

#: py-evm's exception class names -> geth's error messages
ERROR_MESSAGES = {
    "Revert": "execution reverted",
    "OutOfGas": "out of gas",
    "InvalidInstruction": "invalid opcode",
    "InvalidJumpDestination": "invalid jump destination",
    "InsufficientStack": "stack underflow",
    "FullStack": "stack limit reached 1024",
    "WriteProtection": "write protection",
    "OutOfBoundsRead": "return data out of bounds",
    "ContractCreationCollision": "contract address collision",
    "ReservedBytesInCode": "invalid code: must not begin with 0xef",
    "StackDepthLimit": "max call depth exceeded",
    "InsufficientFunds": "insufficient balance for transfer",
}


def _hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def revert_reason(output: bytes) -> Optional[str]:
    """The message of an ABI-encoded ``Error(string)`` revert, or None (as geth, for
    anything else)."""
    if output[:4] != ERROR_SELECTOR or len(output) < 68:
        return None
    body = output[4:]
    offset = int.from_bytes(body[:32], "big")
    if offset + 32 > len(body):
        return None
    length = int.from_bytes(body[offset:offset + 32], "big")
    if offset + 32 + length > len(body):
        return None
    try:
        return body[offset + 32:offset + 32 + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Frame:
    __slots__ = ("computation", "type", "json", "opcode", "beneficiary", "balance")

    def __init__(self, computation, call_type: str) -> None:
        self.computation = computation
        self.type = call_type
        self.opcode = None  #: the opcode running in this frame
        self.beneficiary = None  #: of a running SELFDESTRUCT
        self.balance = 0  #: the balance a running SELFDESTRUCT moves
        msg = computation.msg
        if msg.is_create:
            to = msg.storage_address
        elif call_type in ("DELEGATECALL", "CALLCODE"):
            to = msg.code_address
        else:
            to = msg.to
        self.json = {"type": call_type, "from": _hex(msg.sender), "gas": hex(msg.gas), "gasUsed": "0x0",
                     "to": _hex(to), "input": _hex(msg.code if msg.is_create else msg.data_as_bytes)}
        if call_type not in ("DELEGATECALL", "STATICCALL"):
            self.json["value"] = hex(msg.value)


class CallTracer:
    """geth's ``callTracer`` with ``withLog`` (a tracer for :mod:`hyperion.trace.hooks`)."""

    def __init__(self) -> None:
        self.root: Optional[dict] = None
        self._stack: List[_Frame] = []
        self._done: List[Tuple[_Frame, Optional[_Frame]]] = []  # (frame, parent) in exit order

    # -- hooks -------------------------------------------------------------------------
    def enter(self, computation) -> None:
        if self._stack:
            parent = self._stack[-1]
            frame = _Frame(computation, CALL_TYPES.get(parent.opcode, "CALL"))
            parent.json.setdefault("calls", []).append(frame.json)
        else:
            frame = _Frame(computation, "CREATE" if computation.msg.is_create else "CALL")
            self.root = frame.json
        self._stack.append(frame)

    def exit(self, computation) -> None:
        frame = self._stack.pop()
        self._done.append((frame, self._stack[-1] if self._stack else None))

    def step(self, computation, pc: int, opcode: int) -> None:
        frame = self._stack[-1]
        frame.opcode = opcode
        if opcode == SELFDESTRUCT and len(computation._stack.values):
            value = computation._stack.values[-1]  # py-evm's stack: ints or bytes, no public peek
            frame.beneficiary = (value.to_bytes(32, "big") if isinstance(value, int) else value.rjust(32, b"\0"))[-20:]
            frame.balance = computation.state.get_balance(computation.msg.storage_address)

    def stepped(self, computation, charges, error) -> None:
        frame = self._stack[-1]
        if error is not None:
            return
        if frame.opcode in LOG_OPS:
            _, address, topics, data = computation._log_entries[-1]  # the entry this LOG added
            frame.json.setdefault("logs", []).append({
                "address": _hex(address), "topics": [_hex(t.to_bytes(32, "big")) for t in topics],
                "data": _hex(data), "position": hex(len(frame.json.get("calls", ()))),
            })
        elif frame.opcode == SELFDESTRUCT and frame.beneficiary is not None:
            address = computation.msg.storage_address
            frame.json.setdefault("calls", []).append({
                "type": "SELFDESTRUCT", "from": _hex(address), "gas": "0x0", "gasUsed": "0x0",
                "to": _hex(frame.beneficiary), "input": "0x",
                "value": hex(frame.balance),
            })

    def finish(self, transaction, computation) -> None:
        """Every frame's final figures; a failed frame's logs, and its children's, go."""
        failed = set()
        for frame, parent in reversed(self._done):  # parents before children
            c = frame.computation
            json = frame.json
            json["gasUsed"] = hex(c.msg.gas - c.get_gas_remaining())
            if c.output:
                json["output"] = _hex(c.output)
            if c.is_error or (parent is not None and id(parent) in failed):
                failed.add(id(frame))
                json.pop("logs", None)
            if c.is_error:
                json["error"] = ERROR_MESSAGES.get(type(c.error).__name__, str(c.error))
                reason = revert_reason(c.output) if type(c.error).__name__ == "Revert" else None
                if reason is not None:
                    json["revertReason"] = reason
        if self.root is not None:
            self.root["gas"] = hex(transaction.gas)
        self._done = []

    def result(self) -> Optional[dict]:
        """The top frame, in geth's key order."""
        return _ordered(self.root) if self.root is not None else None


_KEY_ORDER = ("type", "from", "gas", "gasUsed", "to", "input", "output", "error", "revertReason", "calls", "logs",
              "value")


def _ordered(frame: dict) -> dict:
    out = {key: frame[key] for key in _KEY_ORDER if key in frame}
    if "calls" in out:
        out["calls"] = [_ordered(call) for call in out["calls"]]
    return out
