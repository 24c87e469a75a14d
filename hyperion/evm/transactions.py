"""Transactions in: EIP-2718 bytes or :class:`~hyperion.types.UnsignedTx`, decoded once.

Decoding turns each input into a :class:`PreparedTx` holding py-evm's transaction object
with its sender already recovered (cached on the object, so py-evm never recovers it
again), its hash and its canonical encoding for the transactions root.  Anything that
makes a transaction unusable regardless of state (malformed RLP, a type the fork does not
know, a bad signature, a wrong chain id, too little gas for its intrinsic cost) is found
here and carried as ``error``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import rlp
from eth_hash.auto import keccak

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
                  known_sender: Optional[bytes] = None) -> PreparedTx:
    """Decode EIP-2718 ``raw`` bytes and recover the sender (unless ``known_sender``
    says who it is: recovered from these very bytes before, e.g. by another Block-STM worker)."""
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
    builder = fork.vm_class.get_transaction_builder()
    try:
        if tx_type == 0:
            tx = rlp.decode(raw, sedes=builder.legacy_signed if hasattr(builder, "legacy_signed") else builder)
        else:
            tx = builder.decode(raw)
    except Exception as exc:  # rlp raises several unrelated types
        prepared.error = f"malformed transaction: {type(exc).__name__}: {exc}"
        return prepared
    prepared.tx = tx
    prepared.hash = keccak(raw)

    error = _check_signature_fields(fork, tx, tx_type, chain_id)
    if error is None:
        sender = known_sender or fast_sender(raw, tx_type, tx)
        if sender is not None:
            tx.__dict__["sender"] = sender  # where py-evm's cached_property keeps it
        try:
            tx.sender  # recovers once (unless done above); cached on the object by py-evm
        except Exception as exc:
            error = f"invalid signature: {exc}"
    if error is not None:
        prepared.error = error
        return prepared
    prepared.sender = tx.sender
    prepared.error = _check_static(fork, tx)
    return prepared


# -- sender recovery straight from the signed bytes ---------------------------------------------
# py-evm recovers a sender by re-encoding the unsigned transaction with pyrlp and going through
# eth-keys' objects: ~3/4 of the cost of decoding a transaction.  The signed bytes already hold
# the unsigned fields (a successful strict decode proves them canonical), so the signing hash is
# a slice of them under a new list header, and coincurve recovers the key directly.
try:
    from coincurve import PublicKey as _PublicKey
except ImportError:  # pragma: no cover - coincurve is a dependency; py-evm's path still works
    _PublicKey = None


def _item_end(data: bytes, pos: int) -> int:
    """End offset of the RLP item starting at ``pos`` (``data`` is known to be valid RLP)."""
    first = data[pos]
    if first < 0x80:
        return pos + 1
    if first < 0xB8:
        return pos + 1 + first - 0x80
    if first < 0xC0:
        size = first - 0xB7
        return pos + 1 + size + int.from_bytes(data[pos + 1:pos + 1 + size], "big")
    if first < 0xF8:
        return pos + 1 + first - 0xC0
    size = first - 0xF7
    return pos + 1 + size + int.from_bytes(data[pos + 1:pos + 1 + size], "big")


def _list_items(data: bytes, pos: int) -> List[int]:
    """Start offsets of the items of the RLP list at ``pos``, plus its end offset."""
    first = data[pos]
    start = pos + 1 if first < 0xF8 else pos + 1 + first - 0xF7
    end = _item_end(data, pos)
    offsets = []
    while start < end:
        offsets.append(start)
        start = _item_end(data, start)
    offsets.append(end)
    return offsets


def _list_prefix(length: int) -> bytes:
    if length < 56:
        return bytes([0xC0 + length])
    size = (length.bit_length() + 7) // 8
    return bytes([0xF7 + size]) + length.to_bytes(size, "big")


def signing_hash(raw: bytes, tx_type: int, v: int = 0) -> bytes:
    """The hash a transaction's signature signs, from its (canonical) signed encoding."""
    if tx_type == 0:
        items = _list_items(raw, 0)
        body = raw[items[0]:items[6]]  # nonce .. data
        if v not in (27, 28):  # EIP-155: chain id, 0, 0
            body += rlp.encode((v - 35) // 2) + b"\x80\x80"
        return keccak(_list_prefix(len(body)) + body)
    items = _list_items(raw, 1)
    body = raw[items[0]:items[-4]]  # everything before y_parity, r, s
    return keccak(raw[:1] + _list_prefix(len(body)) + body)


def fast_sender(raw: bytes, tx_type: int, tx) -> Optional[bytes]:
    """The sender of decoded ``tx`` (signed bytes ``raw``), or None to let py-evm recover it."""
    if _PublicKey is None:
        return None
    try:
        if tx_type == 0:
            v = tx.v
            parity = v - 27 if v in (27, 28) else (v - 35) % 2
        else:
            v, parity = 0, tx.y_parity
        signature = tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big") + bytes([parity])
        public_key = _PublicKey.from_signature_and_message(signature, signing_hash(raw, tx_type, v), hasher=None)
        return keccak(public_key.format(compressed=False)[1:])[12:]
    except Exception:  # py-evm's path reports the error in its own words
        return None


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
                known_sender: Optional[bytes] = None) -> PreparedTx:
    """Decode (and recover the sender of) one input; see :func:`decode_signed` for ``known_sender``."""
    if isinstance(item, UnsignedTx):
        return prepare_unsigned(fork, item, chain_id, index)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return decode_signed(fork, bytes(item), chain_id, index, known_sender)
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

