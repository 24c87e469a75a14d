"""Blocks, transactions, receipts and logs in the dict shapes eth-tester's backends return.

The shapes (key names, raw ``bytes`` and ``int`` values) are those of eth-tester's own
py-evm backend, so eth-tester's normalizers and web3.py read them unchanged.
"""
from __future__ import annotations

from typing import Any, Dict, List

from eth_utils import to_int

from hyperion.evm.header import EMPTY_OMMERS_HASH

LEGACY, ACCESS_LIST, DYNAMIC_FEE, BLOB, SET_CODE = 0, 1, 2, 3, 4


def tx_type(tx) -> int:
    return getattr(tx, "type_id", None) or LEGACY


def effective_gas_price(tx, base_fee: int) -> int:
    if tx_type(tx) >= DYNAMIC_FEE:
        return min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + base_fee)
    return tx.gas_price


def transaction(block, tx, index: int, pending: bool) -> Dict[str, Any]:
    """``block``: a :class:`hyperion.ecosystem.chain.MinedBlock` (or the pending block)."""
    kind = tx_type(tx)
    out: Dict[str, Any] = {
        "type": kind, "hash": tx.hash, "nonce": tx.nonce,
        "block_hash": None if pending else block.hash, "block_number": None if pending else block.number,
        "transaction_index": None if pending else index, "from": tx.sender, "to": tx.to, "value": tx.value,
        "gas": tx.gas, "data": tx.data,
    }
    if kind in (LEGACY, ACCESS_LIST):
        out["gas_price"] = tx.gas_price
    if kind > LEGACY:
        out["chain_id"] = tx.chain_id
        out["access_list"] = tx.access_list or ()
    if kind >= DYNAMIC_FEE:
        out["max_fee_per_gas"] = tx.max_fee_per_gas
        out["max_priority_fee_per_gas"] = tx.max_priority_fee_per_gas
        out["gas_price"] = tx.max_fee_per_gas if pending else effective_gas_price(tx, block.base_fee)
    if kind == BLOB:
        out["max_fee_per_blob_gas"] = tx.max_fee_per_blob_gas
        out["blob_versioned_hashes"] = tx.blob_versioned_hashes
    if kind == SET_CODE:
        out["authorization_list"] = [
            {"chain_id": a.chain_id, "address": a.address, "nonce": a.nonce, "y_parity": a.y_parity, "r": a.r,
             "s": a.s} for a in tx.authorization_list]
    v = tx.y_parity if kind > LEGACY else tx.v
    out.update(v=v, s=tx.s, r=tx.r)
    if kind > LEGACY:
        out["y_parity"] = v
    return out


def block(block, full_transactions: bool, pending: bool) -> Dict[str, Any]:
    txs: List[Any] = [transaction(block, tx, i, pending) if full_transactions else tx.hash
                      for i, tx in enumerate(block.transactions)]
    out = {
        "number": block.number, "hash": block.hash, "parent_hash": block.parent_hash, "nonce": b"\0" * 8,
        "sha3_uncles": EMPTY_OMMERS_HASH, "logs_bloom": to_int(block.logs_bloom),
        "transactions_root": block.transactions_root, "receipts_root": block.receipts_root,
        "state_root": block.state_root, "coinbase": block.coinbase, "difficulty": 0, "total_difficulty": 0,
        "mix_hash": block.prev_randao, "size": block.size, "extra_data": b"\0" * 32, "gas_limit": block.gas_limit,
        "gas_used": block.gas_used, "timestamp": block.timestamp, "transactions": txs, "uncles": [],
        "base_fee_per_gas": block.base_fee,
    }
    if block.withdrawals_root is not None:  # Shanghai on
        out.update(withdrawals=[], withdrawals_root=block.withdrawals_root)
    if block.parent_beacon_block_root is not None:  # Cancun on
        out.update(parent_beacon_block_root=block.parent_beacon_block_root, blob_gas_used=block.blob_gas_used,
                   excess_blob_gas=0)
    if block.requests_hash is not None:  # Prague on
        out["requests_hash"] = block.requests_hash
    return out


def receipt(block, tx, index: int, pending: bool) -> Dict[str, Any]:
    result = block.results[index]
    kind = tx_type(tx)
    return {
        "block_hash": None if pending else block.hash, "block_number": None if pending else block.number,
        "contract_address": result.contract_address if not tx.to else None,
        "cumulative_gas_used": result.cumulative_gas_used,
        "effective_gas_price": effective_gas_price(tx, block.base_fee), "from": tx.sender,
        "gas_used": result.gas_used,
        "logs": [log(block, tx, index, entry, result.first_log_index + i, pending)
                 for i, entry in enumerate(result.logs)],
        "state_root": b"\x01" if result.status.value == "success" else b"\x00",
        "status": 1 if result.status.value == "success" else 0,
        "to": tx.to, "transaction_hash": tx.hash, "transaction_index": None if pending else index, "type": kind,
    }


def log(block, tx, index: int, entry, log_index: int, pending: bool) -> Dict[str, Any]:
    return {
        "type": "pending" if pending else "mined", "log_index": log_index,
        "transaction_index": None if pending else index, "transaction_hash": tx.hash,
        "block_hash": None if pending else block.hash, "block_number": None if pending else block.number,
        "address": entry.address, "data": entry.data, "topics": list(entry.topics),
    }

