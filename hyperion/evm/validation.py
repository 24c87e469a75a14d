"""Can this transaction be included here? The execution specs' ``check_transaction``.

Written after ``ethereum.forks.<fork>.fork.check_transaction`` (PyPI
``ethereum-execution``), in its order, so the first rule a transaction breaks is the one
reported.  Two rules stock py-evm 0.12.1b1 misses are enforced here (docs/design.md §1):
a max priority fee above the max fee, and a sender with code other than an EIP-7702
delegation (EIP-3607).
"""
from __future__ import annotations

from typing import Optional

from hyperion.evm.forks import Fork
from hyperion.evm.transactions import PreparedTx

GAS_PER_BLOB = 2**17
VERSIONED_HASH_VERSION_KZG = b"\x01"
DELEGATION_PREFIX = b"\xef\x01\x00"


class InvalidTransaction(Exception):
    """The transaction cannot be included; the message says which rule it broke."""


def is_delegation(code: bytes) -> bool:
    """EIP-7702: ``0xef0100 || address``."""
    return len(code) == 23 and code.startswith(DELEGATION_PREFIX)


def blob_gas_of(tx) -> int:
    if getattr(tx, "type_id", None) != 3:
        return 0
    return GAS_PER_BLOB * len(tx.blob_versioned_hashes)


def check_transaction(
    fork: Fork,
    prepared: PreparedTx,
    state,
    gas_available: int,
    blob_gas_available: int,
    base_fee: Optional[int],
    blob_gas_price: int,
) -> None:
    """Raise :class:`InvalidTransaction` if ``prepared`` cannot be included now."""
    if prepared.error is not None:
        raise InvalidTransaction(prepared.error)
    tx = prepared.tx
    tx_type = prepared.type
    if tx.gas > gas_available:
        raise InvalidTransaction(f"block gas limit exceeded: tx gas {tx.gas} > {gas_available} gas left in the block")
    tx_blob_gas = blob_gas_of(tx)
    if tx_blob_gas > blob_gas_available:
        raise InvalidTransaction(f"blob gas limit exceeded: {tx_blob_gas} > {blob_gas_available} left in the block")

    if tx_type in (2, 3, 4):
        if tx.max_fee_per_gas < tx.max_priority_fee_per_gas:
            raise InvalidTransaction(
                f"priority fee greater than max fee: {tx.max_priority_fee_per_gas} > {tx.max_fee_per_gas}"
            )
        if tx.max_fee_per_gas < base_fee:
            raise InvalidTransaction(f"max fee per gas {tx.max_fee_per_gas} below the block's base fee {base_fee}")
        max_gas_fee = tx.gas * tx.max_fee_per_gas
    else:
        if fork.has_base_fee and tx.gas_price < base_fee:
            raise InvalidTransaction(f"gas price {tx.gas_price} below the block's base fee {base_fee}")
        max_gas_fee = tx.gas * tx.gas_price

    if tx_type == 3:
        hashes = tx.blob_versioned_hashes
        if len(hashes) == 0:
            raise InvalidTransaction("blob transaction without blobs")
        for versioned_hash in hashes:
            if versioned_hash[:1] != VERSIONED_HASH_VERSION_KZG:
                raise InvalidTransaction(f"invalid blob versioned hash version {versioned_hash[:1].hex()}")
        if tx.max_fee_per_blob_gas < blob_gas_price:
            raise InvalidTransaction(
                f"max fee per blob gas {tx.max_fee_per_blob_gas} below the blob gas price {blob_gas_price}"
            )
        max_gas_fee += tx_blob_gas * tx.max_fee_per_blob_gas

    if tx_type in (3, 4) and not tx.to:
        raise InvalidTransaction(f"type {tx_type} transactions cannot create contracts")
    if tx_type == 4 and len(tx.authorization_list) == 0:
        raise InvalidTransaction("set-code transaction with an empty authorization list")

    sender = prepared.sender
    nonce = state.get_nonce(sender)
    if nonce > tx.nonce:
        raise InvalidTransaction(f"nonce too low: sender nonce is {nonce}, transaction nonce {tx.nonce}")
    if nonce < tx.nonce:
        raise InvalidTransaction(f"nonce too high: sender nonce is {nonce}, transaction nonce {tx.nonce}")
    balance = state.get_balance(sender)
    if balance < max_gas_fee + tx.value:
        raise InvalidTransaction(
            f"insufficient funds: balance {balance} < max gas fee {max_gas_fee} + value {tx.value}"
        )
    code = state.get_code(sender)
    if code and not (fork.at_least("prague") and is_delegation(code)):
        raise InvalidTransaction("sender is not an EOA: it has code (EIP-3607)")
