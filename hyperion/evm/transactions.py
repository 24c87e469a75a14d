"""Transactions in: EIP-2718 bytes or :class:`~hyperion.types.UnsignedTx`, decoded once.

Decoding turns each input into a :class:`PreparedTx` holding the transaction execution
runs -- for signed bytes the compact record of :mod:`hyperion.evm.txdecode`, which py-evm's
executor reads like its own objects; py-evm's object only for inputs that record's decoder
refuses and for explicit-sender inputs -- with its sender already recovered, its hash and
its canonical encoding for the transactions root.  Anything that
makes a transaction unusable regardless of state (malformed RLP, a type the fork does not
know, a bad signature, a wrong chain id, too little gas for its intrinsic cost) is found
here and carried as ``error``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import rlp
from eth_hash.auto import keccak

from hyperion.evm import senders, txdecode
from hyperion.evm.forks import Fork
from hyperion.types import UnsignedTx

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
TX_TYPE_NAMES = {0: "legacy", 1: "EIP-2930", 2: "EIP-1559", 3: "EIP-4844 blob", 4: "EIP-7702 set-code"}


@dataclass
class PreparedTx:
    """One input transaction after decoding (see the module docstring)."""

    index: int
    tx: object = None  #: py-evm signed transaction, or None if undecodable
    sender: Optional[bytes] = None
    hash: Optional[bytes] = None
    encoded: bytes = b""  #: EIP-2718 encoding (what the transactions trie holds)
    type: int = 0
    error: Optional[str] = None  #: why it can never be included, if so
    unsigned: bool = False

    @property
    def gas(self) -> int:
        return self.tx.gas if self.tx is not None else 0


def _tx_type(raw: bytes) -> int:
    return 0 if raw[0] >= 0xC0 else raw[0]


def decode_signed(fork: Fork, raw: bytes, chain_id: int, index: int = 0,
                  sender: Optional[bytes] = None) -> PreparedTx:
    """Decode EIP-2718 ``raw`` bytes and recover the sender.

    ``sender``, when given, is the sender a recovery stage already found for these bytes
    (``hyperion.evm.senders``); otherwise the cache of recovered senders is asked, then the
    signature.  Execution uses the compact record (:mod:`hyperion.evm.txdecode`); bytes the
    record's decoder does not accept go through py-evm's decoder, which says why.
    """
    prepared = PreparedTx(index=index, encoded=bytes(raw))
    if not raw:
        prepared.error = "malformed transaction: empty input"
        return prepared
    tx_type = _tx_type(raw)
    prepared.type = tx_type
    if tx_type not in fork.allowed_tx_types:
        name = TX_TYPE_NAMES.get(tx_type, f"{tx_type:#x}")
        prepared.error = f"transaction type {name} is not valid in {fork.name}"
        return prepared
    tx = txdecode.decode(prepared.encoded)
    if tx is None:
        return _decode_with_pyevm(fork, prepared, chain_id)
    if tx_type == 4:
        tx.authorization_list = _pyevm_authorizations(tx.authorization_list)
    tx.intrinsic_gas = _intrinsic_gas_function(fork, tx_type)(tx)
    prepared.tx = tx
    prepared.hash = tx.hash = keccak(prepared.encoded)
    error = _check_signature_fields(fork, tx, tx_type, chain_id)
    if error is not None:
        prepared.error = error
        return prepared
    if sender is None:
        sender = senders.CACHE.get(prepared.hash)
        if sender is None:
            sender = senders.recover(tx)
            if sender is None:  # py-evm names the signature's fault
                return _decode_with_pyevm(fork, PreparedTx(index=index, encoded=prepared.encoded, type=tx_type),
                                          chain_id)
            senders.CACHE.put(prepared.hash, sender)
    else:
        senders.CACHE.put(prepared.hash, sender)
    tx.sender = sender
    prepared.sender = sender
    prepared.error = _check_static(fork, tx)
    return prepared


def _decode_with_pyevm(fork: Fork, prepared: PreparedTx, chain_id: int) -> PreparedTx:
    """py-evm's decoder and sender recovery: the judge of inputs the record's decoder refuses."""
    raw = prepared.encoded
    builder = fork.vm_class.get_transaction_builder()
    try:
        if prepared.type == 0:
            tx = rlp.decode(raw, sedes=builder.legacy_signed if hasattr(builder, "legacy_signed") else builder)
        else:
            tx = builder.decode(raw)
    except Exception as exc:  # rlp raises several unrelated types
        prepared.error = f"malformed transaction: {type(exc).__name__}: {exc}"
        return prepared
    prepared.tx = tx
    prepared.hash = keccak(raw)
    error = _check_signature_fields(fork, tx, prepared.type, chain_id)
    if error is None:
        try:
            tx.sender  # recovers once; cached on the object by py-evm
        except Exception as exc:
            error = f"invalid signature: {exc}"
    if error is not None:
        prepared.error = error
        return prepared
    prepared.sender = tx.sender
    prepared.error = _check_static(fork, tx)
    return prepared


# -- what the record needs from py-evm ----------------------------------------------------------
#: (fork name, type) -> py-evm's intrinsic-gas function of that fork's transaction class
_INTRINSIC: Dict[Tuple[str, int], Callable] = {}
#: a minimal canonical signed transaction of each type, decoded once per fork to find its class
_PROBES = {
    0: lambda: rlp.encode([0, 0, 0, b"", 0, b"", 27, 1, 1]),
    1: lambda: b"\x01" + rlp.encode([1, 0, 0, 0, b"", 0, b"", [], 0, 1, 1]),
    2: lambda: b"\x02" + rlp.encode([1, 0, 0, 0, 0, b"", 0, b"", [], 0, 1, 1]),
    3: lambda: b"\x03" + rlp.encode([1, 0, 0, 0, 0, b"", 0, b"", [], 0, [], 0, 1, 1]),
    4: lambda: b"\x04" + rlp.encode([1, 0, 0, 0, 0, b"", 0, b"", [], [], 0, 1, 1]),
}


def _intrinsic_gas_function(fork: Fork, tx_type: int) -> Callable:
    """The fork's own ``get_intrinsic_gas`` for this type, applied to a record.

    py-evm's intrinsic-gas rules read only the transaction's attributes (data, to, access
    and authorization lists), so calling them on the record gives py-evm's figure for every
    fork without restating the rules here.
    """
    key = (fork.name, tx_type)
    function = _INTRINSIC.get(key)
    if function is None:
        builder = fork.vm_class.get_transaction_builder()
        raw = _PROBES[tx_type]()
        if tx_type == 0:
            probe = rlp.decode(raw, sedes=builder.legacy_signed if hasattr(builder, "legacy_signed") else builder)
        else:
            probe = builder.decode(raw)
        inner = getattr(probe, "_inner", probe)  # typed transactions wrap their payload
        function = _INTRINSIC[key] = type(inner).get_intrinsic_gas
    return function


def _pyevm_authorizations(fields: tuple) -> tuple:
    """EIP-7702 authorizations as py-evm's objects (its set-code processing recovers their
    authorities through them)."""
    from eth.vm.forks.prague.transactions import Authorization

    return tuple(Authorization(*entry) for entry in fields)


def _check_signature_fields(fork: Fork, tx, tx_type: int, chain_id: int) -> Optional[str]:
    r, s = tx.r, tx.s
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        return "invalid signature: r or s out of range"
    # EIP-2: high-s signatures are malleable and invalid from Homestead on
    if fork.at_least("homestead") and s > SECP256K1_N // 2:
        return "invalid signature: s is in the upper half of the curve order (EIP-2)"
    if tx_type == 0:
        v = tx.v
        if v in (27, 28):
            return None
        if fork.has_eip161 and v in (2 * chain_id + 35, 2 * chain_id + 36):
            return None
        if fork.has_eip161 and v >= 35:
            return f"wrong chain id: signed for chain {(v - 35) // 2}, this chain is {chain_id}"
        return f"invalid signature: v={v}"
    if tx.chain_id != chain_id:
        return f"wrong chain id: signed for chain {tx.chain_id}, this chain is {chain_id}"
    if tx.y_parity not in (0, 1):
        return f"invalid signature: y_parity={tx.y_parity}"
    return None


def _check_static(fork: Fork, tx) -> Optional[str]:
    """The state-independent rules (execution specs ``validate_transaction``)."""
    intrinsic = tx.intrinsic_gas
    if intrinsic > tx.gas:
        return f"intrinsic gas too low: gas {tx.gas} < intrinsic cost {intrinsic}"
    if fork.has_calldata_floor:
        floor = calldata_floor_gas(tx.data)
        if floor > tx.gas:
            return f"intrinsic gas too low: gas {tx.gas} < EIP-7623 calldata floor {floor}"
    if tx.nonce >= 2**64 - 1:
        return "nonce too high: EIP-2681 caps nonces below 2**64-1"
    if fork.has_init_code_limit and not tx.to and len(tx.data) > 2 * 24576:
        return f"init code too large: {len(tx.data)} bytes > 49152 (EIP-3860)"
    return None


def calldata_floor_gas(data: bytes) -> int:
    """EIP-7623: 21000 + 10 per token, a zero byte one token and a non-zero byte four."""
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * 4
    return 21000 + 10 * tokens


def prepare_unsigned(fork: Fork, utx: UnsignedTx, chain_id: int, index: int = 0) -> PreparedTx:
    """Build py-evm's transaction for an explicit-sender input (signature all zero)."""
    prepared = PreparedTx(index=index, type=utx.type, unsigned=True)
    if utx.type not in fork.allowed_tx_types or utx.type == 3:
        prepared.error = f"unsigned transactions of type {utx.type} are not supported in {fork.name}"
        return prepared
    if len(utx.sender) != 20:
        prepared.error = "sender must be a 20-byte address"
        return prepared
    builder = fork.vm_class.get_transaction_builder()
    to = utx.to or b""
    tx_chain_id = chain_id if utx.chain_id is None else utx.chain_id
    access_list = [(e.address, list(e.storage_keys)) for e in utx.access_list]
    try:
        if utx.type == 0:
            gas_price = utx.gas_price if utx.gas_price is not None else (utx.max_fee_per_gas or 0)
            tx = builder.new_transaction(
                nonce=utx.nonce, gas_price=gas_price, gas=utx.gas, to=to, value=utx.value, data=utx.data,
                v=27, r=0, s=0,
            )
        elif utx.type == 1:
            tx = builder.new_access_list_transaction(
                chain_id=tx_chain_id, nonce=utx.nonce, gas_price=utx.gas_price or 0, gas=utx.gas, to=to,
                value=utx.value, data=utx.data, access_list=access_list, y_parity=0, r=0, s=0,
            )
        elif utx.type == 2:
            max_fee = utx.max_fee_per_gas if utx.max_fee_per_gas is not None else (utx.gas_price or 0)
            tip = utx.max_priority_fee_per_gas if utx.max_priority_fee_per_gas is not None else max_fee
            tx = builder.new_dynamic_fee_transaction(
                chain_id=tx_chain_id, nonce=utx.nonce, max_priority_fee_per_gas=tip, max_fee_per_gas=max_fee,
                gas=utx.gas, to=to, value=utx.value, data=utx.data, access_list=access_list,
                y_parity=0, r=0, s=0,
            )
        else:  # 4
            max_fee = utx.max_fee_per_gas if utx.max_fee_per_gas is not None else (utx.gas_price or 0)
            tip = utx.max_priority_fee_per_gas if utx.max_priority_fee_per_gas is not None else max_fee
            auths = [
                dict(chain_id=a.chain_id, address=a.address, nonce=a.nonce, y_parity=a.y_parity, r=a.r, s=a.s)
                for a in utx.authorization_list
            ]
            tx = builder.new_set_code_transaction(
                chain_id=tx_chain_id, nonce=utx.nonce, max_priority_fee_per_gas=tip, max_fee_per_gas=max_fee,
                gas=utx.gas, to=to, value=utx.value, data=utx.data, access_list=access_list,
                authorization_list=auths, y_parity=0, r=0, s=0,
            )
    except Exception as exc:
        prepared.error = f"malformed unsigned transaction: {type(exc).__name__}: {exc}"
        return prepared
    tx.__dict__["sender"] = bytes(utx.sender)  # py-evm caches the sender here
    prepared.tx = tx
    prepared.sender = bytes(utx.sender)
    prepared.encoded = tx.encode() if utx.type else rlp.encode(tx)
    prepared.hash = keccak(prepared.encoded)
    prepared.error = _check_static(fork, tx)
    return prepared


def prepare_one(fork: Fork, item: Union[bytes, UnsignedTx], chain_id: int, index: int,
                sender: Optional[bytes] = None) -> PreparedTx:
    """Decode (and recover the sender of) one input; ``sender`` as for :func:`decode_signed`."""
    if isinstance(item, UnsignedTx):
        return prepare_unsigned(fork, item, chain_id, index)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return decode_signed(fork, bytes(item), chain_id, index, sender)
    return PreparedTx(index=index, error=f"unsupported transaction input of type {type(item).__name__}")


def light_prepare(fork: Fork, item: Union[bytes, UnsignedTx], chain_id: int, index: int) -> PreparedTx:
    """What a block summary needs (hash, encoding, type) without decoding signed bytes.

    The parallel scheduler's workers decode and recover senders; the coordinator only
    needs this for the transactions root and the results.
    """
    if isinstance(item, (bytes, bytearray, memoryview)):
        raw = bytes(item)
        if not raw:
            return PreparedTx(index=index, encoded=raw, error="malformed transaction: empty input")
        return PreparedTx(index=index, encoded=raw, hash=keccak(raw), type=_tx_type(raw))
    return prepare_one(fork, item, chain_id, index)


def prepare_transactions(
    fork: Fork, inputs: Sequence[Union[bytes, UnsignedTx]], chain_id: int, start_index: int = 0
) -> List[PreparedTx]:
    """Decode a batch; each input becomes exactly one :class:`PreparedTx` at its index."""
    return [prepare_one(fork, item, chain_id, start_index + offset) for offset, item in enumerate(inputs)]

