"""The block header a result implies, and its hash.

Hyperion does not seal blocks, but a sequencer needs the header its execution implies:
the fields come from the block environment and the execution result, in the order each
fork's header has them (London adds the base fee, Shanghai the withdrawals root, Cancun
the blob fields and parent beacon root, Prague the requests hash).  PoW fields
(``nonce``) are zero; ``mix_hash`` is ``prev_randao``.
"""
from __future__ import annotations

from typing import List, Optional

import rlp
from eth_hash.auto import keccak

from hyperion.evm.forks import Fork
from hyperion.types import BlockEnv, ZERO_HASH

EMPTY_OMMERS_HASH = bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")


def header_fields(
    fork: Fork,
    env: BlockEnv,
    parent_hash: bytes,
    state_root: bytes,
    transactions_root: bytes,
    receipts_root: bytes,
    logs_bloom: bytes,
    gas_used: int,
    withdrawals_root: Optional[bytes],
    blob_gas_used: int,
    requests_hash: Optional[bytes],
) -> List[object]:
    fields: List[object] = [
        parent_hash,
        EMPTY_OMMERS_HASH,
        env.coinbase,
        state_root,
        transactions_root,
        receipts_root,
        logs_bloom,
        0 if fork.is_post_merge else env.difficulty,
        env.number,
        env.gas_limit,
        gas_used,
        env.timestamp,
        env.extra_data,
        env.prev_randao,
        b"\x00" * 8,
    ]
    if fork.has_base_fee:
        fields.append(env.base_fee)
    if fork.has_withdrawals:
        fields.append(withdrawals_root)
    if fork.has_blobs:
        fields.extend([blob_gas_used, env.excess_blob_gas or 0, env.parent_beacon_block_root or ZERO_HASH])
    if fork.has_requests:
        fields.append(requests_hash)
    return fields


def block_hash(fields: List[object]) -> bytes:
    return keccak(rlp.encode(fields))
