"""Signed transactions for tests, including deliberately broken ones (bad signature, malformed)."""
from __future__ import annotations

from typing import Optional

import rlp

from hyperion.evm.forks import get_fork
from hyperion.tools.workloads import sign_transaction

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GWEI = 10**9


def builder_for(fork_name: str):
    return get_fork(fork_name).vm_class.get_transaction_builder()


def sign(
    fork_name: str,
    key,
    *,
    nonce: int,
    to: Optional[bytes],
    value: int = 0,
    data: bytes = b"",
    gas: int = 100_000,
    tx_type: int = 0,
    gas_price: int = 2 * GWEI,
    max_fee: int = 3 * GWEI,
    tip: int = GWEI,
    chain_id: int = 1337,
    eip155: bool = True,
    access_list=(),
    max_fee_per_blob_gas: int = 1,
    blob_hashes=(),
    authorizations=(),
) -> bytes:
    """EIP-2718 bytes of a signed transaction of ``tx_type`` valid in ``fork_name``."""
    return sign_transaction(
        key, fork=fork_name, nonce=nonce, to=to, value=value, data=data, gas=gas, tx_type=tx_type,
        gas_price=gas_price, max_fee=max_fee, tip=tip, chain_id=chain_id, eip155=eip155, access_list=access_list,
        max_fee_per_blob_gas=max_fee_per_blob_gas, blob_hashes=blob_hashes, authorizations=authorizations,
    )


def decode(fork_name: str, raw: bytes):
    builder = builder_for(fork_name)
    if raw[0] >= 0xC0:
        return rlp.decode(raw, sedes=getattr(builder, "legacy_signed", builder))
    return builder.decode(raw)


def with_signature(fork_name: str, raw: bytes, **signature) -> bytes:
    """Re-encode ``raw`` with some of ``v``/``y_parity``, ``r``, ``s`` replaced (no re-signing)."""
    builder = builder_for(fork_name)
    tx = decode(fork_name, raw)
    if raw[0] >= 0xC0:
        fields = dict(nonce=tx.nonce, gas_price=tx.gas_price, gas=tx.gas, to=tx.to, value=tx.value, data=tx.data,
                      v=tx.v, r=tx.r, s=tx.s)
        fields.update(signature)
        return rlp.encode(builder.new_transaction(**fields))
    common = dict(chain_id=tx.chain_id, nonce=tx.nonce, gas=tx.gas, to=tx.to, value=tx.value, data=tx.data,
                  access_list=[(a, list(k)) for a, k in tx.access_list], y_parity=tx.y_parity, r=tx.r, s=tx.s)
    common.update(signature)
    if raw[0] == 1:
        return builder.new_access_list_transaction(gas_price=tx.gas_price, **common).encode()
    return builder.new_dynamic_fee_transaction(
        max_priority_fee_per_gas=tx.max_priority_fee_per_gas, max_fee_per_gas=tx.max_fee_per_gas, **common
    ).encode()


def authorization(key, chain_id: int, delegate: bytes, nonce: int) -> dict:
    """A signed EIP-7702 authorization (as py-evm's builder takes it)."""
    from eth_hash.auto import keccak

    signature = key.sign_msg_hash(keccak(b"\x05" + rlp.encode([chain_id, delegate, nonce])))
    return dict(chain_id=chain_id, address=delegate, nonce=nonce, y_parity=signature.v, r=signature.r, s=signature.s)
