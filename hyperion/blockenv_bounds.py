"""The bounds a block environment must respect: what a block header can hold.

One check, run when a :class:`~hyperion.types.BlockEnv` is built, so the Python API, gRPC
(``hyperion.rpc.convert``) and ``hyperion t8n`` refuse the same values with the same
words.  Numbers a header encodes as uint64 (number, timestamp, gas limit, excess blob gas,
withdrawal fields) must fit in 64 bits, uint256 ones (base fee, difficulty, block reward)
in 256; hashes are 32 bytes and addresses 20.  Of the header rules that need no parent:
the gas limit is at least 5,000 (the Yellow Paper's minimum) and at most 2**63 - 1
(EIP-1985), extra data is at most 32 bytes, an uncle is 1 to 6 generations back.

Without these an out-of-range value reached code that cannot take it: a block number
past 2**64 does not fit the store's 8-byte block key, and an unbounded excess blob gas
made the blob base fee computation run for hours under the engine's lock.
"""
from __future__ import annotations

from typing import Any

from hyperion.errors import HyperionError

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
GAS_LIMIT_MINIMUM = 5000
#: EIP-1985: the gas limit is a signed 64-bit number in clients
GAS_LIMIT_MAXIMUM = 2**63 - 1
MAX_EXTRA_DATA = 32
MAX_OMMER_DEPTH = 6


class BlockEnvError(HyperionError, ValueError):
    """A block environment field is out of the range a block header allows.

    ``field`` names it (``gas_limit``, ``withdrawals[2].amount``, ...) and ``reason`` says
    what is wrong, so each interface can phrase it in its own terms.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"block environment: {field}: {reason}")
        self.field = field
        self.reason = reason


def _int(field: str, value: Any, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BlockEnvError(field, f"expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        shown = value if value.bit_length() <= 80 else f"a {value.bit_length()}-bit number"
        raise BlockEnvError(field, f"{shown} is out of range ({what})")


def _uint64(field: str, value: Any) -> None:
    _int(field, value, 0, UINT64_MAX, "a uint64: 0 to 2**64 - 1")


def _uint256(field: str, value: Any) -> None:
    _int(field, value, 0, UINT256_MAX, "a uint256: 0 to 2**256 - 1")


def _bytes(field: str, value: Any, size: int) -> None:
    if not isinstance(value, bytes):
        raise BlockEnvError(field, f"expected {size} bytes, got {type(value).__name__}")
    if len(value) != size:
        raise BlockEnvError(field, f"expected {size} bytes, got {len(value)}")


def check_block_env(env: Any) -> None:
    """Raise :class:`BlockEnvError` for the first field of ``env`` out of bounds."""
    _uint64("number", env.number)
    _uint64("timestamp", env.timestamp)
    _bytes("coinbase", env.coinbase, 20)
    _int("gas_limit", env.gas_limit, GAS_LIMIT_MINIMUM, GAS_LIMIT_MAXIMUM,
         f"{GAS_LIMIT_MINIMUM} to 2**63 - 1 (the header minimum, EIP-1985)")
    if env.base_fee is not None:
        _uint256("base_fee", env.base_fee)
    _bytes("prev_randao", env.prev_randao, 32)
    _uint256("difficulty", env.difficulty)
    if env.parent_hash is not None:
        _bytes("parent_hash", env.parent_hash, 32)
    for number, block_hash in env.block_hashes.items():
        _uint64("block_hashes key", number)
        _bytes(f"block_hashes[{number}]", block_hash, 32)
    if env.parent_beacon_block_root is not None:
        _bytes("parent_beacon_block_root", env.parent_beacon_block_root, 32)
    for i, withdrawal in enumerate(env.withdrawals):
        try:
            fields = (withdrawal.index, withdrawal.validator_index, withdrawal.amount, withdrawal.address)
        except AttributeError:
            raise BlockEnvError(f"withdrawals[{i}]", "expected a Withdrawal") from None
        for name, value in zip(("index", "validator_index", "amount"), fields):
            _uint64(f"withdrawals[{i}].{name}", value)
        _bytes(f"withdrawals[{i}].address", fields[3], 20)
    if env.excess_blob_gas is not None:
        _uint64("excess_blob_gas", env.excess_blob_gas)
    if not isinstance(env.extra_data, bytes):
        raise BlockEnvError("extra_data", f"expected bytes, got {type(env.extra_data).__name__}")
    if len(env.extra_data) > MAX_EXTRA_DATA:
        raise BlockEnvError("extra_data", f"{len(env.extra_data)} bytes (a header holds at most {MAX_EXTRA_DATA})")
    if env.block_reward is not None and env.block_reward != -1:
        _uint256("block_reward", env.block_reward)
    if env.max_blob_gas_per_block is not None:
        _uint64("max_blob_gas_per_block", env.max_blob_gas_per_block)
    for i, ommer in enumerate(env.ommers):
        try:
            delta, address = ommer.delta, ommer.address
        except AttributeError:
            raise BlockEnvError(f"ommers[{i}]", "expected an Ommer") from None
        _int(f"ommers[{i}].delta", delta, 1, MAX_OMMER_DEPTH, f"an uncle is 1 to {MAX_OMMER_DEPTH} blocks back")
        _bytes(f"ommers[{i}].address", address, 20)
