# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled EVM interpreter: runs one call frame of a py-evm computation.

It executes the instruction form of the code (:mod:`hyperion.evm.interpreter.analysis`)
with a switch over the opcode, gas as a C integer and PUSH immediates decoded once.  The
stack and the memory ARE py-evm's (``computation._stack.values`` and
``computation._memory._bytes``), so an opcode this file does not compile -- every state,
call, create, log and environment opcode beyond the simplest, and any opcode whose fork
gives it a non-standard implementation -- runs as py-evm's own opcode function on the same
computation, after the program counter and gas are written back: journaling, refunds,
warm sets and Block-STM's read/write sets see exactly what py-evm's loop would show them
(docs/interpreter.md, docs/design.md §20).

Which opcodes run compiled, and their static gas, come from the fork's own opcode table
(:class:`ForkTable`, built by :mod:`hyperion.evm.interpreter.dispatch`).  Every exceptional
halt raises the exception py-evm raises there; the computation's ``__exit__`` burns the gas.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from libc.string cimport memcpy, memset

from eth.exceptions import (
    FullStack,
    Halt,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfGas,
)
from eth_hash.auto import keccak

cdef extern from "Python.h":
    object _PyLong_FromByteArray(const unsigned char* data, size_t n, int little_endian, int is_signed)

cdef object UINT_256_MAX = (1 << 256) - 1
cdef object UINT_256_CEILING = 1 << 256
cdef object UINT_255_MAX = (1 << 255) - 1
cdef Py_ssize_t STACK_LIMIT = 1024
cdef long long GAS_SHA3_WORD = 6
#: gas beyond this runs py-evm's loop: gas arithmetic here must never overflow int64
cdef long long MAX_COMPILED_GAS = 1LL << 62

# opcode bytes (yellow paper appendix H)
cdef enum:
    STOP = 0x00
    ADD = 0x01
    MUL = 0x02
    SUB = 0x03
    DIV = 0x04
    SDIV = 0x05
    MOD = 0x06
    SMOD = 0x07
    ADDMOD = 0x08
    MULMOD = 0x09
    SIGNEXTEND = 0x0B
    LT = 0x10
    GT = 0x11
    SLT = 0x12
    SGT = 0x13
    EQ = 0x14
    ISZERO = 0x15
    AND = 0x16
    OR = 0x17
    XOR = 0x18
    NOT = 0x19
    BYTE = 0x1A
    SHL = 0x1B
    SHR = 0x1C
    SAR = 0x1D
    SHA3 = 0x20
    ADDRESS = 0x30
    ORIGIN = 0x32
    CALLER = 0x33
    CALLVALUE = 0x34
    CALLDATALOAD = 0x35
    CALLDATASIZE = 0x36
    CODESIZE = 0x38
    POP = 0x50
    MLOAD = 0x51
    MSTORE = 0x52
    MSTORE8 = 0x53
    JUMP = 0x56
    JUMPI = 0x57
    PC = 0x58
    MSIZE = 0x59
    GAS = 0x5A
    JUMPDEST = 0x5B
    PUSH0 = 0x5F
    PUSH1 = 0x60
    PUSH32 = 0x7F
    DUP1 = 0x80
    DUP16 = 0x8F
    SWAP1 = 0x90
    SWAP16 = 0x9F

#: the opcodes this module implements; the fork table compiles one only where the fork's
#: own implementation is py-evm's standard one (see dispatch.compiled_opcodes)
IMPLEMENTED = frozenset(
    [STOP, ADD, MUL, SUB, DIV, SDIV, MOD, SMOD, ADDMOD, MULMOD, SIGNEXTEND, LT, GT, SLT, SGT,
     EQ, ISZERO, AND, OR, XOR, NOT, BYTE, SHL, SHR, SAR, SHA3, ADDRESS, ORIGIN, CALLER,
     CALLVALUE, CALLDATALOAD, CALLDATASIZE, CODESIZE, POP, MLOAD, MSTORE, MSTORE8, JUMP,
     JUMPI, PC, MSIZE, GAS, JUMPDEST]
    + list(range(PUSH0, PUSH32 + 1)) + list(range(DUP1, DUP16 + 1))
    + list(range(SWAP1, SWAP16 + 1))
)

# statistics (per process): opcodes run here, opcodes handed to py-evm, per opcode
cdef unsigned long long _compiled_count[256]
cdef unsigned long long _delegated_count[256]
memset(_compiled_count, 0, sizeof(_compiled_count))
memset(_delegated_count, 0, sizeof(_delegated_count))


def opcode_counts():
    """``(compiled, delegated)``: two 256-entry lists of how often each opcode ran here or
    was handed to py-evm's opcode function, since start-up or :func:`reset_counts`."""
    return ([_compiled_count[i] for i in range(256)], [_delegated_count[i] for i in range(256)])


def reset_counts():
    memset(_compiled_count, 0, sizeof(_compiled_count))
    memset(_delegated_count, 0, sizeof(_delegated_count))


cdef class ForkTable:
    """One fork's view of the 256 opcodes: compiled or not, static gas, py-evm's function."""
    cdef unsigned char compiled[256]
    cdef long long gas[256]
    cdef list functions
    cdef readonly list mnemonics

    def __init__(self, compiled_gas, functions):
        """``compiled_gas``: {opcode: static gas} for the opcodes to run here;
        ``functions``: 256 py-evm opcode callables (the fork's, or its invalid-opcode one)."""
        cdef int op
        memset(self.compiled, 0, sizeof(self.compiled))
        memset(self.gas, 0, sizeof(self.gas))
        for op, cost in compiled_gas.items():
            if op not in IMPLEMENTED:
                raise ValueError(f"opcode 0x{op:02x} is not implemented by the interpreter")
            self.compiled[op] = 1
            self.gas[op] = cost
        self.functions = list(functions)
        self.mnemonics = [getattr(function, "mnemonic", "") for function in self.functions]
        if len(self.functions) != 256:
            raise ValueError("a fork table needs 256 opcode functions")

    def compiled_opcodes(self):
        return frozenset(op for op in range(256) if self.compiled[op])


cdef inline object _as_int(object value):
    # py-evm's stack holds ints and (from opcodes that push bytes) big-endian bytes
    if PyLong_CheckExact(value):
        return value
    return int.from_bytes(value, "big")


cdef inline long long _as_offset(object value):
    """``value`` as a C integer, or -1 when it does not fit below 2**62 (such an offset or
    size can never be paid for, see _charge_memory)."""
    cdef int overflow = 0
    cdef long long result = PyLong_AsLongLongAndOverflow(_as_int(value), &overflow)
    if overflow or result >= MAX_COMPILED_GAS:
        return -1
    return result


cdef inline object _signed(object value):
    return value - UINT_256_CEILING if value > UINT_255_MAX else value


cdef inline object _ceil32(object value):
    return (value + 31) // 32 * 32


cdef object _memory_cost(object size_in_bytes):
    # eth.vm.computation.memory_gas_cost (the yellow paper's C_mem)
    words = size_in_bytes // 32
    return 3 * words + (words * words) // 512


cdef long long _charge_memory(object computation, object start, object size,
                              long long gas) except -1:
    """Grow memory to cover ``[start, start + size)`` as ``BaseComputation.extend_memory``
    does (same cost, same out-of-gas message); -> gas left.  Python ints: this is the rare
    path, and offsets here may be any 256-bit value."""
    if not size:
        return gas
    memory = computation._memory
    before = _ceil32(len(memory._bytes))
    after = _ceil32(start + size)
    if after <= before:
        return gas
    cost = _memory_cost(after) - _memory_cost(before)
    if cost > gas:
        raise OutOfGas(
            f"Out of gas: Needed {cost} - Remaining {gas} - Reason: Expanding memory {before} -> {after}"
        )
    memory.extend(start, size)
    return gas - cost


cdef inline void _sync(object computation, object gas_meter, long long gas, long long pc):
    gas_meter.gas_remaining = gas
    computation.code.program_counter = pc


def run(computation, analysis, ForkTable table):
    """Execute ``computation``'s code from its start.

    Returns at STOP, at the end of the code and when a delegated opcode halts (RETURN and
    SELFDESTRUCT raise py-evm's Halt); REVERT and the exceptional halts raise py-evm's
    VMError subclasses, which the computation's ``__exit__`` handles as in py-evm's loop.
    """
    gas_meter = computation._gas_meter
    if gas_meter.gas_remaining >= MAX_COMPILED_GAS:
        raise ValueError("gas beyond 2**62: dispatch runs such a frame through py-evm's loop")
    cdef long long gas = gas_meter.gas_remaining
    cdef list stack = computation._stack.values
    cdef bytearray mem = computation._memory._bytes
    cdef bytes ops_bytes = analysis.ops
    cdef const unsigned char* ops = ops_bytes
    cdef long long[:] pcs = analysis.pcs
    cdef int[:] jump_targets = analysis.jump_targets
    cdef int[:] instruction_at = analysis.instruction_at
    cdef list immediates = analysis.immediates
    cdef bytes code = analysis.code
    cdef long long code_length = len(code)
    cdef list functions = table.functions
    cdef unsigned char* compiled = table.compiled
    cdef long long* gas_table = table.gas
    cdef Py_ssize_t i = 0, height, n
    cdef unsigned char op
    cdef long long cost, start, size, dest
    cdef unsigned char word[32]
    cdef unsigned char* buffer
    cdef object a, b, c
    cdef bytes data

    while True:
        op = ops[i]
        if not compiled[op]:
            _delegated_count[op] += 1
            _sync(computation, gas_meter, gas, pcs[i] + 1)
            try:
                functions[op](computation=computation)
            except Halt:
                return
            gas = gas_meter.gas_remaining
            mem = computation._memory._bytes
            dest = computation.code.program_counter
            if dest == pcs[i + 1]:
                i += 1
            elif dest >= code_length:
                i = len(ops_bytes) - 1
            else:
                # an opcode that moved the program counter itself (py-evm checked the target)
                i = instruction_at[dest]
                if i < 0:
                    raise AssertionError(f"py-evm left the program counter inside PUSH data ({dest})")
            continue

        _compiled_count[op] += 1
        cost = gas_table[op]
        if cost > gas:
            _sync(computation, gas_meter, gas, pcs[i] + 1)
            raise OutOfGas(f"Out of gas: Needed {cost} - Remaining {gas} - Reason: {table.mnemonics[op]}")
        gas -= cost
        height = len(stack)

        if PUSH1 <= op <= PUSH32 or op == PUSH0:
            if height >= STACK_LIMIT:
                raise FullStack("Stack limit reached")
            stack.append(immediates[i])
        elif DUP1 <= op <= DUP16:
            n = op - DUP1 + 1
            if height >= STACK_LIMIT:
                raise FullStack("Stack limit reached")
            if height < n:
                raise InsufficientStack(f"Insufficient stack items for DUP{n}")
            stack.append(stack[height - n])
        elif SWAP1 <= op <= SWAP16:
            n = op - SWAP1 + 1
            if height <= n:
                raise InsufficientStack(f"Insufficient stack items for SWAP{n}")
            a = stack[height - 1]
            stack[height - 1] = stack[height - 1 - n]
            stack[height - 1 - n] = a
        elif op == JUMPDEST:
            pass
        elif op == STOP:
            break
        elif op == POP:
            if height < 1:
                raise InsufficientStack("Wanted 1 stack item, had none")
            stack.pop()
        elif op == JUMP or op == JUMPI:
            if op == JUMP and height < 1:
                raise InsufficientStack("Wanted 1 stack item, had none")
            if op == JUMPI and height < 2:
                raise InsufficientStack(f"Wanted 2 stack items, only had {height}")
            dest = _as_offset(stack.pop())
            if op == JUMPI and not _as_int(stack.pop()):
                i += 1
                continue
            if dest < 0 or dest >= code_length or jump_targets[dest] < 0:
                _sync(computation, gas_meter, gas, pcs[i] + 1)
                if 0 <= dest < code_length and code[dest] == JUMPDEST:
                    # a 0x5b inside PUSH data
                    raise InvalidInstruction("Jump resulted in invalid instruction")
                raise InvalidJumpDestination("Invalid Jump Destination")
            i = jump_targets[dest]
            continue
        elif op == MLOAD or op == MSTORE or op == MSTORE8:
            if height < 1:
                raise InsufficientStack("Wanted 1 stack item, had none")
            b = _as_int(stack.pop())
            start = _as_offset(b)
            size = 1 if op == MSTORE8 else 32
            if start < 0 or start + size > PyByteArray_GET_SIZE(mem):
                if op != MLOAD and height < 2:
                    raise InsufficientStack("Wanted 1 stack item, had none")
                gas = _charge_memory(computation, b, size, gas)
                mem = computation._memory._bytes
                start = _as_offset(b)
            buffer = <unsigned char*> PyByteArray_AS_STRING(mem) + start
            if op == MLOAD:
                stack.append(_PyLong_FromByteArray(buffer, 32, 0, 0))
            else:
                if height < 2:
                    raise InsufficientStack("Wanted 1 stack item, had none")
                a = stack.pop()
                if op == MSTORE8:
                    buffer[0] = (_as_int(a) & 0xFF)
                else:
                    data = a.to_bytes(32, "big") if PyLong_CheckExact(a) else a
                    n = len(data)
                    memset(buffer, 0, 32 - n)
                    memcpy(buffer + 32 - n, <const unsigned char*> data, n)
        elif op == SHA3:
            if height < 2:
                raise InsufficientStack(f"Wanted 2 stack items, only had {height}")
            a = _as_int(stack.pop())
            b = _as_int(stack.pop())
            if not b:
                stack.append(_as_int(keccak(b"")))
            else:
                gas = _charge_memory(computation, a, b, gas)
                mem = computation._memory._bytes
                start = _as_offset(a)
                size = _as_offset(b)
                cost = GAS_SHA3_WORD * ((size + 31) // 32)
                if cost > gas:
                    _sync(computation, gas_meter, gas, pcs[i] + 1)
                    raise OutOfGas(
                        f"Out of gas: Needed {cost} - Remaining {gas} - Reason: SHA3: word gas cost"
                    )
                gas -= cost
                buffer = <unsigned char*> PyByteArray_AS_STRING(mem) + start
                stack.append(_as_int(keccak(buffer[:size])))
        elif op == ISZERO or op == NOT:
            if height < 1:
                raise InsufficientStack("Wanted 1 stack item, had none")
            a = _as_int(stack[height - 1])
            if op == ISZERO:
                stack[height - 1] = 0 if a else 1
            else:
                stack[height - 1] = UINT_256_MAX - a
        elif op == ADDMOD or op == MULMOD:
            if height < 3:
                raise InsufficientStack(f"Wanted 3 stack items, only had {height}")
            a = _as_int(stack.pop())
            b = _as_int(stack.pop())
            c = _as_int(stack.pop())
            if c == 0:
                stack.append(0)
            elif op == ADDMOD:
                stack.append((a + b) % c)
            else:
                stack.append((a * b) % c)
        elif op in (ADD, MUL, SUB, DIV, SDIV, MOD, SMOD, SIGNEXTEND, LT, GT, SLT, SGT, EQ,
                    AND, OR, XOR, BYTE, SHL, SHR, SAR):
            if height < 2:
                raise InsufficientStack(f"Wanted 2 stack items, only had {height}")
            a = _as_int(stack.pop())
            b = _as_int(stack[height - 2])
            # a was the top of the stack: py-evm's "left"; b the second ("right")
            if op == ADD:
                c = (a + b) & UINT_256_MAX
            elif op == SUB:
                c = (a - b) & UINT_256_MAX
            elif op == MUL:
                c = (a * b) & UINT_256_MAX
            elif op == LT:
                c = 1 if a < b else 0
            elif op == GT:
                c = 1 if a > b else 0
            elif op == EQ:
                c = 1 if a == b else 0
            elif op == AND:
                c = a & b
            elif op == OR:
                c = a | b
            elif op == XOR:
                c = a ^ b
            elif op == DIV:
                c = 0 if b == 0 else a // b
            elif op == MOD:
                c = 0 if b == 0 else a % b
            elif op == SDIV:
                a = _signed(a)
                b = _signed(b)
                if b == 0:
                    c = 0
                else:
                    c = abs(a) // abs(b)
                    if (a < 0) != (b < 0):
                        c = -c
                    c = c & UINT_256_MAX
            elif op == SMOD:
                a = _signed(a)
                b = _signed(b)
                if b == 0:
                    c = 0
                else:
                    c = abs(a) % abs(b)
                    if a < 0:
                        c = -c
                    c = c & UINT_256_MAX
            elif op == SLT:
                c = 1 if _signed(a) < _signed(b) else 0
            elif op == SGT:
                c = 1 if _signed(a) > _signed(b) else 0
            elif op == BYTE:
                c = 0 if a >= 32 else (b >> (8 * (31 - a))) & 0xFF
            elif op == SHL:
                c = 0 if a >= 256 else (b << a) & UINT_256_MAX
            elif op == SHR:
                c = 0 if a >= 256 else b >> a
            elif op == SAR:
                b = _signed(b)
                if a >= 256:
                    c = 0 if b >= 0 else UINT_256_MAX
                else:
                    c = (b >> a) & UINT_256_MAX
            else:  # SIGNEXTEND: a is the byte index, b the value
                if a <= 31:
                    c = 1 << (a * 8 + 7)
                    if b & c:
                        c = b | (UINT_256_CEILING - c)
                    else:
                        c = b & (c - 1)
                else:
                    c = b
            stack[height - 2] = c
        elif op == PC or op == MSIZE or op == GAS or op == CALLDATASIZE or op == CODESIZE \
                or op == CALLVALUE or op == CALLER or op == ADDRESS or op == ORIGIN:
            if height >= STACK_LIMIT:
                raise FullStack("Stack limit reached")
            if op == PC:
                stack.append(pcs[i])
            elif op == MSIZE:
                stack.append(PyByteArray_GET_SIZE(mem))
            elif op == GAS:
                stack.append(gas)
            elif op == CALLDATASIZE:
                stack.append(len(computation.msg.data))
            elif op == CODESIZE:
                stack.append(code_length)
            elif op == CALLVALUE:
                stack.append(computation.msg.value)
            elif op == CALLER:
                stack.append(computation.msg.sender)
            elif op == ADDRESS:
                stack.append(computation.msg.storage_address)
            else:
                stack.append(computation.transaction_context.origin)
        elif op == CALLDATALOAD:
            if height < 1:
                raise InsufficientStack("Wanted 1 stack item, had none")
            data = computation.msg.data_as_bytes
            start = _as_offset(stack[height - 1])
            memset(word, 0, 32)
            if 0 <= start < len(data):
                size = min(32, len(data) - start)
                memcpy(word, <const unsigned char*> (<bytes> data) + start, size)
            stack[height - 1] = _PyLong_FromByteArray(word, 32, 0, 0)
        else:
            raise AssertionError(f"opcode 0x{op:02x} marked compiled but not implemented")
        i += 1

    _sync(computation, gas_meter, gas, pcs[i] + 1)
