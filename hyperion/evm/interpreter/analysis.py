"""Bytecode analysis, done once per contract code and kept in a bounded LRU cache.

The compiled interpreter (``_interp.pyx``) does not walk raw bytes: it runs a list of
*instructions*, one per opcode position that execution can reach by falling through (PUSH
data is skipped), with every PUSH immediate already decoded into an ``int``.  Jumps land on
instruction indexes through a table that maps each byte position to its instruction, or to
-1 where that byte is no valid ``JUMPDEST`` (a ``0x5b`` inside PUSH data is not one, as in
the yellow paper's ``D(c)`` and py-evm's ``CodeStream.is_valid_opcode``).

The analysis does not depend on the fork (which opcodes exist and what they cost is the
interpreter's per-fork table), so one cache serves every fork.  It is keyed by the code
itself, which names it exactly as its hash would without hashing it on every frame; each
Block-STM worker process has its own cache, filled as it meets contracts (docs/design.md §20).
"""
from __future__ import annotations

from array import array
from collections import OrderedDict

PUSH0 = 0x5F
PUSH1 = 0x60
PUSH32 = 0x7F
JUMPDEST = 0x5B
STOP = 0x00

#: analyses kept; a mainnet-sized working set of hot contracts fits, and an entry costs
#: about 13 bytes per code byte
CACHE_SIZE = 4096


class Analysis:
    """The instruction form of one code.

    ``ops[i]`` is the opcode of instruction ``i``; ``pcs[i]`` its byte position (``pcs`` has
    one more entry, ``len(code)``, for the implicit STOP after the last byte);
    ``immediates[i]`` the decoded PUSH value (right-padded with zero bytes when the code ends
    inside it, as py-evm reads it) or ``None``; ``jump_targets[p]`` the instruction index of a
    valid ``JUMPDEST`` at byte ``p``, else -1; ``instruction_at[p]`` the instruction starting
    at byte ``p``, else -1 (for resuming after an opcode that py-evm runs).
    """

    __slots__ = ("code", "ops", "pcs", "immediates", "jump_targets", "instruction_at")

    def __init__(self, code: bytes) -> None:
        ops = bytearray()
        pcs = array("q")
        immediates = []
        jump_targets = array("i", [-1]) * len(code)
        instruction_at = array("i", [-1]) * len(code)
        position = 0
        length = len(code)
        while position < length:
            opcode = code[position]
            index = len(ops)
            instruction_at[position] = index
            ops.append(opcode)
            pcs.append(position)
            if PUSH1 <= opcode <= PUSH32:
                size = opcode - PUSH1 + 1
                raw = code[position + 1:position + 1 + size]
                immediates.append(int.from_bytes(raw.ljust(size, b"\x00"), "big"))
                position += 1 + size
            else:
                immediates.append(0 if opcode == PUSH0 else None)
                if opcode == JUMPDEST:
                    jump_targets[position] = index
                position += 1
        ops.append(STOP)
        pcs.append(length)
        immediates.append(None)
        self.code = code
        self.ops = bytes(ops)
        self.pcs = pcs
        self.immediates = immediates
        self.jump_targets = jump_targets
        self.instruction_at = instruction_at

    def __len__(self) -> int:
        """Instructions, the implicit final STOP included."""
        return len(self.ops)


_cache: "OrderedDict[bytes, Analysis]" = OrderedDict()


def analyse(code: bytes) -> Analysis:
    """The analysis of ``code``, from the cache when it was analysed before."""
    found = _cache.get(code)
    if found is not None:
        _cache.move_to_end(code)
        return found
    found = Analysis(code)
    _cache[code] = found
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return found


def cache_info() -> dict:
    """How full the cache is (for statistics and tests)."""
    return {"entries": len(_cache), "capacity": CACHE_SIZE}


def clear_cache() -> None:
    _cache.clear()
