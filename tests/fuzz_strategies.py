"""Hypothesis strategies of hostile inputs, for tests/test_fuzz.py.

Each mixes well-formed values (so the fuzzing gets past the first check), boundary values
of the formats (2**64 - 1, 2**64, 2**256, -1, 19/20/21 and 31/32/33 bytes) and junk.
"""
from __future__ import annotations

from typing import Dict

import rlp
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import strategies as st

from hyperion.tools import workloads

BOUNDARY_INTS = [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**255, 2**256 - 1, 2**256, 2**300, -1, -(2**64)]
SIZED_BYTES = st.one_of(*(st.binary(min_size=n, max_size=n) for n in (0, 1, 19, 20, 21, 31, 32, 33)))


def ints():
    return st.one_of(st.sampled_from(BOUNDARY_INTS), st.integers(0, 2**70), st.integers(-(2**300), 2**300))


def json_scalars():
    return st.one_of(st.none(), st.booleans(), ints(), st.floats(allow_nan=False), st.text(max_size=12),
                     ints().map(hex), SIZED_BYTES.map(lambda b: "0x" + b.hex()))


def json_values():
    return st.recursive(json_scalars(), lambda children: st.lists(children, max_size=4)
                        | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=12)


# -- transactions ----------------------------------------------------------------------------------
def _rlp_items():
    return st.recursive(st.one_of(st.binary(max_size=40), ints().filter(lambda v: v >= 0).map(
        lambda v: v.to_bytes((v.bit_length() + 7) // 8, "big"))), lambda children: st.lists(children, max_size=14),
        max_leaves=30)


@st.composite
def signed_txs(draw):
    """A valid signed transaction of some type, for mutation."""
    tx_type = draw(st.sampled_from([0, 1, 2, 4]))
    sender = workloads.wallet(draw(st.integers(0, 9)))
    authorizations = ()
    if tx_type == 4:
        authorizations = ((31337, b"\x11" * 20, 0),)
    try:
        return workloads.sign_transaction(
            sender.key, nonce=draw(st.integers(0, 3)), to=b"\x22" * 20, value=draw(st.integers(0, 10**18)),
            data=draw(st.binary(max_size=64)), gas=draw(st.sampled_from([21_000, 100_000, 20_999])), tx_type=tx_type,
            authorizations=authorizations)
    except Exception:  # a combination the signer itself refuses: use a plain transfer
        return workloads.sign_tx(sender, 0, b"\x22" * 20)


@st.composite
def mutated(draw, base):
    raw = bytearray(draw(base))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del raw[at:at + draw(st.integers(1, 8))]
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(raw)


def tx_bytes():
    """Raw transaction inputs: junk, typed envelopes of random RLP, mutated valid ones."""
    envelope = st.tuples(st.sampled_from([b"", b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x7f"]),
                         _rlp_items()).map(lambda t: t[0] + rlp.encode(t[1]))
    return st.one_of(st.binary(max_size=200), envelope, signed_txs(), mutated(signed_txs()))


# -- protobuf messages from their descriptors -------------------------------------------------------
_SCALARS = {
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1), FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
}


def _scalar(field):
    if field.type in _SCALARS:
        low, high = _SCALARS[field.type]
        return st.one_of(st.sampled_from([low, high, 0, 1, 2, 30_000_000]), st.integers(low, high))
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_STRING:
        return st.text(max_size=10)
    if field.type == FieldDescriptor.TYPE_BYTES:
        if field.name == "signed":
            return tx_bytes()
        return st.one_of(SIZED_BYTES, st.binary(max_size=40))
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.integers(0, 9))
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=False, width=32)
    raise NotImplementedError(field.type)


def messages(descriptor, depth: int = 0):
    """Messages of ``descriptor`` with any subset of their fields set."""
    fields: Dict[str, object] = {}
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            entry = field.message_type
            if entry.GetOptions().map_entry:
                key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
                fields[field.name] = st.dictionaries(_scalar(key), _scalar(value), max_size=3)
                continue
            if depth >= 3:
                continue
            value = messages(entry, depth + 1)
        else:
            value = _scalar(field)
        fields[field.name] = st.lists(value, max_size=3) if field.is_repeated else value
    cls = message_factory.GetMessageClass(descriptor)
    return st.fixed_dictionaries({}, optional=fields).map(lambda kwargs: cls(**kwargs))
