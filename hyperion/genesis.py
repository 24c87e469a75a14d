"""Genesis allocations: the standard alloc JSON, and Hyperion's default devnet genesis.

The alloc format is the one geth, t8n tools and ethereum/tests use::

    {"0xaddress": {"balance": "0x..", "nonce": "0x..", "code": "0x..", "storage": {"0xslot": "0xvalue"}}}

Numbers may be hex strings, decimal strings or ints.
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any, Dict, Mapping, Union

from eth_hash.auto import keccak

from hyperion.errors import GenesisError
from hyperion.types import Account, EMPTY_CODE_HASH, StateDiff


def parse_int(value: Any, what: str = "number") -> int:
    if isinstance(value, bool):
        raise GenesisError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = int(text, 16) if text.lower().startswith("0x") else int(text or "0", 10)
        except ValueError:
            raise GenesisError(f"{what}: {value!r} is not a number") from None
    else:
        raise GenesisError(f"{what}: expected a number, got {type(value).__name__}")
    if result < 0:
        raise GenesisError(f"{what}: negative value {result}")
    return result


def parse_bytes(value: Any, what: str = "bytes", size: int = 0) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value[2:] if value.lower().startswith("0x") else value
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise GenesisError(f"{what}: {value!r} is not hex") from None
    else:
        raise GenesisError(f"{what}: expected hex, got {type(value).__name__}")
    if size and len(raw) != size:
        raise GenesisError(f"{what}: expected {size} bytes, got {len(raw)}")
    return raw


def parse_address(value: Any) -> bytes:
    return parse_bytes(value, "address", 20)


def alloc_to_diff(alloc: Mapping[Any, Mapping[str, Any]]) -> StateDiff:
    """Turn an alloc mapping (JSON-shaped or with bytes keys) into a :class:`StateDiff`."""
    if not isinstance(alloc, Mapping):
        raise GenesisError("the genesis alloc must be a mapping of address -> account")
    diff = StateDiff()
    for raw_address, fields in alloc.items():
        address = parse_address(raw_address)
        if not isinstance(fields, Mapping):
            raise GenesisError(f"account {address.hex()}: expected an object")
        unknown = set(fields) - {"balance", "nonce", "code", "storage", "secretKey", "privateKey"}
        if unknown:
            raise GenesisError(f"account {address.hex()}: unknown fields {sorted(unknown)}")
        code = parse_bytes(fields.get("code", "0x"), f"account {address.hex()} code")
        code_hash = keccak(code) if code else EMPTY_CODE_HASH
        if code:
            diff.codes[code_hash] = code
        balance = parse_int(fields.get("balance", 0), f"account {address.hex()} balance")
        if balance >= 2**256:
            raise GenesisError(f"account {address.hex()}: balance does not fit in 256 bits")
        nonce = parse_int(fields.get("nonce", 0), f"account {address.hex()} nonce")
        if nonce >= 2**64:
            raise GenesisError(f"account {address.hex()}: nonce does not fit in 64 bits")
        diff.accounts[address] = Account(nonce=nonce, balance=balance, code_hash=code_hash)
        slots: Dict[int, int] = {}
        for key, value in (fields.get("storage") or {}).items():
            slot = parse_int(key, f"account {address.hex()} storage key")
            val = parse_int(value, f"account {address.hex()} storage value")
            if slot >= 2**256 or val >= 2**256:
                raise GenesisError(f"account {address.hex()}: storage entry does not fit in 256 bits")
            if val:
                slots[slot] = val
        if slots:
            diff.storage[address] = slots
    return diff


def load_alloc_file(path: str) -> Dict[str, Any]:
    """Read an alloc JSON file (a bare alloc, or a geth genesis with an ``alloc`` key)."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        raise GenesisError(f"cannot read genesis alloc {path}: {exc}") from exc
    if isinstance(data, dict) and "alloc" in data and isinstance(data["alloc"], dict):
        data = data["alloc"]
    return data


def system_contracts_alloc() -> Dict[str, Dict[str, Any]]:
    """The four system contracts (EIP-4788, 2935, 7002, 7251) as mainnet runs them."""
    text = resources.files("hyperion.contracts").joinpath("system_contracts.json").read_text()
    contracts = json.loads(text)
    return {
        c["address"]: {"balance": "0x0", "nonce": hex(c["nonce"]), "code": c["code"], "storage": {}}
        for c in contracts.values()
    }


def merge_allocs(*allocs: Mapping[Any, Mapping[str, Any]]) -> Dict[Any, Mapping[str, Any]]:
    merged: Dict[Any, Mapping[str, Any]] = {}
    for alloc in allocs:
        if not isinstance(alloc, Mapping):
            raise GenesisError("the genesis alloc must be a mapping of address -> account")
        for address, fields in alloc.items():
            key = "0x" + parse_address(address).hex()
            merged[key] = fields
    return merged


AllocLike = Union[Mapping[str, Mapping[str, Any]], Mapping[bytes, Mapping[str, Any]]]
