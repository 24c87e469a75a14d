"""Signed EIP-2718 bytes -> :class:`DecodedTx`, the compact record execution uses directly.

One pass over the bytes, no py-evm objects: every field is sliced out of the signed
encoding and checked against exactly the rules py-evm's decoder (pyrlp, strict) applies --
canonical RLP (a single byte below 0x80 is its own encoding, long forms only from 56 bytes
on, no leading zero in a length), no trailing bytes, the right number of fields of the right
kind per type, integers without leading zeros, addresses of 0 or 20 bytes, storage keys of
32.  When all of that holds the record carries the same values py-evm's object would; when
anything does not, :func:`decode` answers None and the caller asks py-evm, which rejects the
input in its own words (docs/design.md §19: one decoder, py-evm's error texts).

The record also carries what sender recovery needs (``signing_hash``, the hash the
signature signs, and the recovery id), so a pipelined recovery stage needs nothing else.

This file is also the source of the compiled module (Cython pure-Python mode, typed by
``_txdecode.pxd``; ``hyperion.native`` picks one).  It imports nothing from py-evm, so the
sender-recovery helper process starts quickly.
"""
from __future__ import annotations

from eth_hash.auto import keccak

#: py-evm's ``type_id`` of each supported type (None: legacy)
LEGACY, ACCESS_LIST, DYNAMIC_FEE, BLOB, SET_CODE = 0, 1, 2, 3, 4
#: number of RLP fields of each signed type
_FIELD_COUNT = (9, 11, 12, 14, 13)


class DecodedTx:
    """One signed transaction's fields, under the attribute names py-evm's executor reads.

    Legacy and EIP-2930 transactions have ``max_fee_per_gas == max_priority_fee_per_gas
    == gas_price`` (as py-evm's legacy objects do); EIP-1559 and later have ``gas_price``
    None.  ``access_list`` is a tuple of ``(address, (slot, ...))``; ``authorization_list``
    holds ``(chain_id, address, nonce, y_parity, r, s)`` tuples until the caller swaps in
    py-evm's objects.  ``sender``, ``intrinsic_gas`` and ``hash`` (the transaction hash, as
    py-evm's objects have it: tracers pair traces with results by it) are filled in by the
    caller.
    """

    __slots__ = ("type_id", "chain_id", "nonce", "gas_price", "max_priority_fee_per_gas", "max_fee_per_gas",
                 "gas", "to", "value", "data", "access_list", "max_fee_per_blob_gas", "blob_versioned_hashes",
                 "authorization_list", "v", "y_parity", "r", "s", "signing_hash", "sender", "intrinsic_gas", "hash")

    def __init__(self):
        self.type_id = None
        self.chain_id = None
        self.gas_price = None
        self.access_list = ()
        self.max_fee_per_blob_gas = 0
        self.blob_versioned_hashes = ()
        self.authorization_list = ()
        self.v = 0
        self.signing_hash = None
        self.sender = None
        self.intrinsic_gas = 0
        self.hash = None

    def recovery_id(self) -> int:
        """The signature's y parity (EIP-155 folds it into ``v`` for legacy transactions)."""
        if self.type_id is None:
            v = self.v
            return v - 27 if v < 35 else (v - 35) % 2
        return self.y_parity


class _Malformed(Exception):
    """Not decodable the way py-evm decodes; py-evm gives the reason."""


def _item(data, pos, end):
    """``(is_list, payload_start, payload_end)`` of the canonical RLP item at ``pos``."""
    if pos >= end:
        raise _Malformed
    first = data[pos]
    if first < 0x80:
        return False, pos, pos + 1
    if first < 0xB8:
        start = pos + 1
        stop = start + first - 0x80
        if stop > end or (stop == start + 1 and data[start] < 0x80):
            raise _Malformed
        return False, start, stop
    if first < 0xC0:
        is_list = False
        size = first - 0xB7
    elif first < 0xF8:
        stop = pos + 1 + first - 0xC0
        if stop > end:
            raise _Malformed
        return True, pos + 1, stop
    else:
        is_list = True
        size = first - 0xF7
    start = pos + 1 + size
    if start > end or data[pos + 1] == 0:
        raise _Malformed
    length = int.from_bytes(data[pos + 1:start], "big")
    if length < 56 or start + length > end:
        raise _Malformed
    return is_list, start, start + length


def _items(data, start, stop):
    """``[(is_list, payload_start, payload_end), ...]`` of the list payload ``start..stop``."""
    out = []
    pos = start
    while pos < stop:
        item = _item(data, pos, stop)
        out.append(item)
        pos = item[2]
    return out


def _int(data, item):
    is_list, start, stop = item
    if is_list or (stop > start and data[start] == 0):
        raise _Malformed
    return int.from_bytes(data[start:stop], "big")


def _bytes(data, item):
    if item[0]:
        raise _Malformed
    return data[item[1]:item[2]]


def _address(data, item):
    value = _bytes(data, item)
    if len(value) != 20 and len(value) != 0:
        raise _Malformed
    return value


def _list(data, item):
    if not item[0]:
        raise _Malformed
    return _items(data, item[1], item[2])


def _access_list(data, item):
    entries = []
    for entry in _list(data, item):
        fields = _list(data, entry)
        if len(fields) != 2:
            raise _Malformed
        keys = []
        for key in _list(data, fields[1]):
            raw_key = _bytes(data, key)
            if len(raw_key) != 32:
                raise _Malformed
            keys.append(int.from_bytes(raw_key, "big"))
        entries.append((_address(data, fields[0]), tuple(keys)))
    return tuple(entries)


def _authorizations(data, item):
    out = []
    for entry in _list(data, item):
        fields = _list(data, entry)
        if len(fields) != 6:
            raise _Malformed
        out.append((_int(data, fields[0]), _address(data, fields[1]), _int(data, fields[2]),
                    _int(data, fields[3]), _int(data, fields[4]), _int(data, fields[5])))
    return tuple(out)


def _list_prefix(length):
    if length < 56:
        return bytes([0xC0 + length])
    size = (length.bit_length() + 7) // 8
    return bytes([0xF7 + size]) + length.to_bytes(size, "big")


def _encode_int(value):
    """RLP of a non-negative integer."""
    if value == 0:
        return b"\x80"
    if value < 0x80:
        return bytes([value])
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if len(raw) < 56:
        return bytes([0x80 + len(raw)]) + raw
    size = (len(raw).bit_length() + 7) // 8
    return bytes([0xB7 + size]) + len(raw).to_bytes(size, "big") + raw


def decode(raw: bytes):
    """The :class:`DecodedTx` of signed ``raw``, or None where py-evm must judge the input."""
    try:
        return _decode(raw)
    except _Malformed:
        return None


def _decode(raw):
    end = len(raw)
    if end == 0:
        return None
    first = raw[0]
    if first >= 0xC0:
        tx_type = LEGACY
        offset = 0
    elif LEGACY < first <= SET_CODE:
        tx_type = first
        offset = 1
    else:
        return None
    outer = _item(raw, offset, end)
    if not outer[0] or outer[2] != end:
        raise _Malformed
    items = _items(raw, outer[1], outer[2])
    if len(items) != _FIELD_COUNT[tx_type]:
        raise _Malformed
    tx = DecodedTx()
    if tx_type == LEGACY:
        tx.nonce = _int(raw, items[0])
        tx.gas_price = _int(raw, items[1])
        tx.max_fee_per_gas = tx.max_priority_fee_per_gas = tx.gas_price
        tx.gas = _int(raw, items[2])
        tx.to = _address(raw, items[3])
        tx.value = _int(raw, items[4])
        tx.data = _bytes(raw, items[5])
        v = tx.v = _int(raw, items[6])
        tx.r = _int(raw, items[7])
        tx.s = _int(raw, items[8])
        if v == 27 or v == 28:
            tx.y_parity = v - 27
            body = raw[_start(raw, items, 0):_start(raw, items, 6)]
        elif v >= 35:
            tx.y_parity = (v - 35) % 2
            # EIP-155: the signed list ends with the chain id and two empty strings
            body = raw[_start(raw, items, 0):_start(raw, items, 6)] + _encode_int((v - 35) // 2) + b"\x80\x80"
        else:
            tx.y_parity = 0
            body = None  # no valid signature has this v; the static checks reject it
        if body is not None:
            tx.signing_hash = keccak(_list_prefix(len(body)) + body)
        return tx
    tx.type_id = tx_type
    tx.chain_id = _int(raw, items[0])
    tx.nonce = _int(raw, items[1])
    if tx_type == ACCESS_LIST:
        tx.gas_price = _int(raw, items[2])
        tx.max_fee_per_gas = tx.max_priority_fee_per_gas = tx.gas_price
        at = 3
    else:
        tx.max_priority_fee_per_gas = _int(raw, items[2])
        tx.max_fee_per_gas = _int(raw, items[3])
        at = 4
    tx.gas = _int(raw, items[at])
    tx.to = _address(raw, items[at + 1])
    tx.value = _int(raw, items[at + 2])
    tx.data = _bytes(raw, items[at + 3])
    tx.access_list = _access_list(raw, items[at + 4])
    if tx_type == BLOB:
        tx.max_fee_per_blob_gas = _int(raw, items[at + 5])
        tx.blob_versioned_hashes = tuple(_bytes(raw, h) for h in _list(raw, items[at + 6]))
    elif tx_type == SET_CODE:
        tx.authorization_list = _authorizations(raw, items[at + 5])
    count = len(items)  # no negative indexes: the compiled module is built without wraparound
    tx.y_parity = _int(raw, items[count - 3])
    tx.r = _int(raw, items[count - 2])
    tx.s = _int(raw, items[count - 1])
    body = raw[_start(raw, items, 0):_start(raw, items, count - 3)]
    tx.signing_hash = keccak(raw[:1] + _list_prefix(len(body)) + body)
    return tx


def _start(raw, items, index):
    """Where item ``index``'s encoding (its prefix included) begins."""
    if index == 0:
        return _header_end(raw, items)
    return items[index - 1][2]


def _header_end(raw, items):
    """Start of the first field: the end of the outer list's prefix."""
    first = raw[0]
    offset = 0 if first >= 0xC0 else 1
    prefix = raw[offset]
    return offset + 1 if prefix < 0xF8 else offset + 1 + prefix - 0xF7


# -- the other direction, for inputs that arrive as fields (t8n JSON) ---------------------------
class _Unsupported(Exception):
    """An item pyrlp must encode (or refuse) itself."""


def encode(item) -> bytes:
    """RLP of nested lists of bytes and non-negative integers, as ``rlp.encode`` gives it.

    pyrlp infers a serializer for every item (about 30 us for a transaction's fields);
    anything outside this plain shape (a negative integer, a bool, another type) goes to
    pyrlp, which encodes or refuses it in its own words.
    """
    try:
        return _encode_item(item)
    except _Unsupported:
        import rlp

        return rlp.encode(item)


def encode_list(encoded_items) -> bytes:
    """RLP list of items each already RLP-encoded (a block body of signed transactions)."""
    payload = b"".join(encoded_items)
    return _length_prefix(len(payload), 0xC0) + payload


def _encode_item(item):
    if isinstance(item, (bytes, bytearray)):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _length_prefix(len(item), 0x80) + bytes(item)
    if isinstance(item, (list, tuple)):
        payload = b"".join([_encode_item(entry) for entry in item])
        return _length_prefix(len(payload), 0xC0) + payload
    if type(item) is int and item >= 0:
        if item < 0x80:
            return b"\x80" if item == 0 else bytes([item])
        raw = item.to_bytes((item.bit_length() + 7) // 8, "big")
        return _length_prefix(len(raw), 0x80) + raw
    raise _Unsupported


def _length_prefix(length, offset):
    if length < 56:
        return bytes([offset + length])
    size = (length.bit_length() + 7) // 8
    return bytes([offset + 55 + size]) + length.to_bytes(size, "big")
