"""Byte layouts of the store's tables (one place, so every backend agrees).

- accounts:  address(20) -> nonce(8) | balance(32) | code_hash(32) | storage_root(32)
- storage:   address(20) | slot(32) -> value, minimal big-endian, never zero (absent = 0)
- code:      code_hash(32) -> bytecode
- blocks:    number(8) -> block hash(32) | state root(32)
- changesets: number(8) -> msgpack of the *before* values the block overwrote
"""
from __future__ import annotations

from typing import Optional, Tuple

ACCOUNT_RECORD_SIZE = 104


def encode_account(nonce: int, balance: int, code_hash: bytes, storage_root: bytes) -> bytes:
    return nonce.to_bytes(8, "big") + balance.to_bytes(32, "big") + code_hash + storage_root


def decode_account(record: bytes) -> Tuple[int, int, bytes, bytes]:
    """-> (nonce, balance, code_hash, storage_root)"""
    if len(record) != ACCOUNT_RECORD_SIZE:
        raise ValueError(f"corrupt account record of {len(record)} bytes")
    return (
        int.from_bytes(record[:8], "big"),
        int.from_bytes(record[8:40], "big"),
        record[40:72],
        record[72:104],
    )


def storage_key(address: bytes, slot: int) -> bytes:
    return address + slot.to_bytes(32, "big")


def encode_value(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def decode_value(raw: Optional[bytes]) -> int:
    return int.from_bytes(raw, "big") if raw else 0


def block_key(number: int) -> bytes:
    return number.to_bytes(8, "big")
