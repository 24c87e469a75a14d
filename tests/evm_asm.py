"""A tiny EVM assembler and the raw-bytecode building blocks the tests compose contracts from.

Tests must not depend on a compiler, and the contracts they need are small: a contract here
is a concatenation of *snippets* (each leaves the stack as it found it) ending in a
terminator.  Every snippet knows the first fork that has its opcodes, so a random program
generator can pick only what the fork under test runs.

    code = asm(1, 0, "SSTORE", "STOP")          # SSTORE(slot 0, value 1)
    init = deploy_code(runtime, constructor)     # constructor, then return ``runtime``
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Tuple, Union

OPCODES = {
    "STOP": 0x00, "ADD": 0x01, "MUL": 0x02, "SUB": 0x03, "DIV": 0x04, "LT": 0x10, "GT": 0x11, "EQ": 0x14,
    "ISZERO": 0x15, "AND": 0x16, "NOT": 0x19, "SHA3": 0x20,
    "ADDRESS": 0x30, "BALANCE": 0x31, "ORIGIN": 0x32, "CALLER": 0x33, "CALLVALUE": 0x34, "CALLDATALOAD": 0x35,
    "CALLDATASIZE": 0x36, "CODESIZE": 0x38, "CODECOPY": 0x39, "GASPRICE": 0x3A, "EXTCODESIZE": 0x3B,
    "RETURNDATASIZE": 0x3D, "EXTCODEHASH": 0x3F,
    "BLOCKHASH": 0x40, "COINBASE": 0x41, "TIMESTAMP": 0x42, "NUMBER": 0x43, "DIFFICULTY": 0x44, "GASLIMIT": 0x45,
    "CHAINID": 0x46, "SELFBALANCE": 0x47, "BASEFEE": 0x48,
    "POP": 0x50, "MLOAD": 0x51, "MSTORE": 0x52, "SLOAD": 0x54, "SSTORE": 0x55, "JUMP": 0x56, "JUMPI": 0x57,
    "PC": 0x58, "GAS": 0x5A, "JUMPDEST": 0x5B, "TLOAD": 0x5C, "TSTORE": 0x5D,
    **{f"DUP{i}": 0x7F + i for i in range(1, 17)}, **{f"SWAP{i}": 0x8F + i for i in range(1, 17)},
    "LOG0": 0xA0, "LOG1": 0xA1, "LOG2": 0xA2, "LOG3": 0xA3,
    "CREATE": 0xF0, "CALL": 0xF1, "CALLCODE": 0xF2, "RETURN": 0xF3, "DELEGATECALL": 0xF4, "CREATE2": 0xF5,
    "STATICCALL": 0xFA, "REVERT": 0xFD, "INVALID": 0xFE, "SELFDESTRUCT": 0xFF,
}

Item = Union[str, int, bytes, Tuple[str, str]]


def push(value: int, size: int = 0) -> bytes:
    """PUSHn of ``value`` (never PUSH0, which only Shanghai has)."""
    if value < 0:
        raise ValueError("negative push")
    size = size or max(1, (value.bit_length() + 7) // 8)
    return bytes([0x5F + size]) + value.to_bytes(size, "big")


def asm(*items: Item) -> bytes:
    """Assemble ops (names), ints (pushed), raw bytes, ``("label", name)`` and ``("ref", name)``.

    A ``ref`` is a PUSH2 of the label's offset in *this* piece of code; a ``label`` is a
    JUMPDEST.  Snippets that are concatenated must not use labels (see ``revert_if_calldata``).
    """
    def pieces(resolve):
        out = []
        for item in items:
            if isinstance(item, str):
                out.append(bytes([OPCODES[item]]))
            elif isinstance(item, int):
                out.append(push(item))
            elif isinstance(item, (bytes, bytearray)):
                out.append(bytes(item))
            elif item[0] == "label":
                out.append(bytes([OPCODES["JUMPDEST"]]))
            elif item[0] == "ref":
                out.append(push(resolve(item[1]), 2))
            else:
                raise ValueError(f"cannot assemble {item!r}")
        return out

    first = pieces(lambda _name: 0)
    labels, offset = {}, 0
    for item, piece in zip(items, first):
        if isinstance(item, tuple) and item[0] == "label":
            labels[item[1]] = offset
        offset += len(piece)
    return b"".join(pieces(lambda name: labels[name]))


def deploy_code(runtime: bytes, constructor: bytes = b"") -> bytes:
    """Init code: run ``constructor``, then return ``runtime`` (appended after the init code)."""
    tail_len = len(asm(push(0, 2), "DUP1", push(0, 2), 0, "CODECOPY", 0, "RETURN"))
    offset = len(constructor) + tail_len
    tail = asm(push(len(runtime), 2), "DUP1", push(offset, 2), 0, "CODECOPY", 0, "RETURN")
    assert len(tail) == tail_len
    return constructor + tail + runtime


def mstore_bytes(data: bytes, at: int = 0) -> bytes:
    """Code that writes ``data`` to memory at ``at`` (32-byte words, right-padded)."""
    code = b""
    for i in range(0, len(data), 32):
        word = data[i:i + 32].ljust(32, b"\x00")
        code += asm(push(int.from_bytes(word, "big"), 32), at + i, "MSTORE")
    return code


# -- snippets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snippet:
    """Stack-neutral code and the first fork whose EVM has all of its opcodes."""

    code: bytes
    since: str = "frontier"
    name: str = ""


def sstore(slot: int, value: int) -> Snippet:
    return Snippet(asm(value, slot, "SSTORE"), name=f"sstore({slot},{value})")


def sstore_calldata(slot: int, word: int = 0) -> Snippet:
    return Snippet(asm(32 * word, "CALLDATALOAD", slot, "SSTORE"), name=f"sstore({slot},calldata[{word}])")


def sload_increment(slot: int) -> Snippet:
    return Snippet(asm(slot, "SLOAD", 1, "ADD", slot, "SSTORE"), name=f"increment({slot})")


def log(topics: Sequence[int], value: int) -> Snippet:
    code = asm(value, 0, "MSTORE", *reversed(list(topics)), 32, 0, f"LOG{len(topics)}")
    return Snippet(code, name=f"log{len(topics)}")


def call(target: bytes, value: int, gas: int, result_slot: int, kind: str = "CALL", data_word: int = 0,
         revert_word: int = 0) -> Snippet:
    """CALL-family into ``target`` with calldata ``data_word || revert_word`` (see
    ``revert_if_calldata``); the success flag goes to ``result_slot``."""
    address = int.from_bytes(target, "big")
    since = {"CALL": "frontier", "CALLCODE": "frontier", "DELEGATECALL": "homestead", "STATICCALL": "byzantium"}[kind]
    prefix = asm(data_word, 0, "MSTORE", revert_word, 32, "MSTORE")
    if kind in ("CALL", "CALLCODE"):
        code = asm(0, 0, 64, 0, value, address, gas, kind, result_slot, "SSTORE")
    else:
        code = asm(0, 0, 64, 0, address, gas, kind, result_slot, "SSTORE")
    return Snippet(prefix + code, since, name=f"{kind.lower()}({target.hex()[-4:]},{value})")


def create(init_code: bytes, value: int, result_slot: int, salt: int = None) -> Snippet:
    """CREATE (or CREATE2 with ``salt``) of ``init_code``; the new address goes to ``result_slot``."""
    code = mstore_bytes(init_code)
    if salt is None:
        code += asm(len(init_code), 0, value, "CREATE", result_slot, "SSTORE")
        return Snippet(code, name="create")
    code += asm(salt, len(init_code), 0, value, "CREATE2", result_slot, "SSTORE")
    return Snippet(code, "constantinople", name=f"create2({salt})")


def store_env(op: str, slot: int) -> Snippet:
    """SSTORE(slot, <op>) for a zero-argument environment opcode (COINBASE BALANCE, NUMBER, ...)."""
    since = {"SELFBALANCE": "istanbul", "CHAINID": "istanbul", "BASEFEE": "london"}.get(op, "frontier")
    return Snippet(asm(op, slot, "SSTORE"), since, name=f"store({op})")


def coinbase_balance(slot: int) -> Snippet:
    return Snippet(asm("COINBASE", "BALANCE", slot, "SSTORE"), name="coinbase balance")


def store_of(op: str, address: bytes, slot: int) -> Snippet:
    """SSTORE(slot, <op>(address)) for BALANCE / EXTCODESIZE / EXTCODEHASH."""
    since = "constantinople" if op == "EXTCODEHASH" else "frontier"
    return Snippet(asm(int.from_bytes(address, "big"), op, slot, "SSTORE"), since, name=f"{op.lower()}")


def blockhash(number_back: int, slot: int) -> Snippet:
    return Snippet(asm(number_back, "NUMBER", "SUB", "BLOCKHASH", slot, "SSTORE"), name=f"blockhash(-{number_back})")


def transient_roundtrip(slot: int, value: int) -> Snippet:
    """TSTORE then TLOAD into persistent storage (Cancun)."""
    return Snippet(asm(value, slot, "TSTORE", slot, "TLOAD", slot, "SSTORE"), "cancun", name="tstore")


def tload(slot: int, store_slot: int) -> Snippet:
    return Snippet(asm(slot, "TLOAD", store_slot, "SSTORE"), "cancun", name="tload")


def revert_if_calldata(word: int = 1) -> Snippet:
    """REVERT when calldata word ``word`` is non-zero (position independent: jumps via PC)."""
    skip = asm(0, 0, "REVERT")
    tail = asm("ADD", "JUMPI") + skip
    jump = asm("PC", len(asm("PC")) + len(push(0)) + len(tail)) + tail
    return Snippet(asm(32 * word, "CALLDATALOAD", "ISZERO") + jump + asm("JUMPDEST"), "byzantium", name="revert-if")


# -- terminators ------------------------------------------------------------------------------
def stop() -> Snippet:
    return Snippet(asm("STOP"), name="stop")


def revert() -> Snippet:
    return Snippet(asm(0, 0, "REVERT"), "byzantium", name="revert")


def invalid() -> Snippet:
    return Snippet(asm("INVALID"), name="invalid")


def selfdestruct(beneficiary: bytes) -> Snippet:
    return Snippet(asm(int.from_bytes(beneficiary, "big"), "SELFDESTRUCT"), name="selfdestruct")


def return_word(value: int) -> Snippet:
    return Snippet(asm(value, 0, "MSTORE", 32, 0, "RETURN"), name="return")


def program(parts: Iterable[Snippet]) -> bytes:
    return b"".join(p.code for p in parts)
