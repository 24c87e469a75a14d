"""The compact transaction decoder against py-evm's decoder, for every type, valid and malformed.

The record's decoder may refuse more than py-evm (those inputs go to py-evm, which decides),
never less; whatever it accepts must carry py-evm's values; and ``decode_signed`` must give
the same verdict, error text, sender, hash and intrinsic gas as py-evm's path alone.
"""
from __future__ import annotations

import rlp
from eth_keys import keys
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperion.evm import senders, txdecode
from hyperion.evm.forks import get_fork
from hyperion.evm.transactions import PreparedTx, _decode_with_pyevm, _tx_type, decode_signed

from tests import txgen
from tests.fuzz_strategies import mutated, signed_txs, tx_bytes

FIELDS = ("nonce", "gas", "to", "value", "data", "r", "s")
CHAIN_ID = 1337


def _pyevm(fork_name: str, raw: bytes):
    try:
        return txgen.decode(fork_name, raw)
    except Exception:
        return None


def _assert_same_as_pyevm(fork_name: str, raw: bytes) -> None:
    record = txdecode.decode(raw)
    reference = _pyevm(fork_name, raw) if raw and (raw[0] >= 0xC0 or raw[0] <= 4) else None
    if record is not None and raw[0] in get_fork(fork_name).allowed_tx_types + tuple(range(0xC0, 0x100)):
        assert reference is not None, "the record's decoder accepted bytes py-evm refuses"
        inner = getattr(reference, "_inner", reference)
        for name in FIELDS:
            assert getattr(record, name) == getattr(inner, name), name
        if record.type_id is None:
            assert record.v == inner.v and record.gas_price == inner.gas_price
        else:
            assert record.type_id == reference.type_id and record.chain_id == inner.chain_id
            assert record.y_parity == inner.y_parity
            assert record.access_list == tuple((a, tuple(k)) for a, k in inner.access_list)
            if record.type_id == 1:
                assert record.gas_price == inner.gas_price
            else:
                assert record.max_fee_per_gas == inner.max_fee_per_gas
                assert record.max_priority_fee_per_gas == inner.max_priority_fee_per_gas
            if record.type_id == 3:
                assert record.blob_versioned_hashes == tuple(inner.blob_versioned_hashes)
                assert record.max_fee_per_blob_gas == inner.max_fee_per_blob_gas
            if record.type_id == 4:
                assert record.authorization_list == tuple(tuple(a) for a in inner.authorization_list)
    fork = get_fork(fork_name)
    senders.CACHE.clear()
    ours = decode_signed(fork, raw, CHAIN_ID)
    theirs = _decode_with_pyevm(fork, PreparedTx(index=0, encoded=raw, type=_tx_type(raw) if raw else 0), CHAIN_ID) \
        if raw and _tx_type(raw) in fork.allowed_tx_types else ours
    assert (ours.error, ours.sender, ours.hash, ours.type) == (theirs.error, theirs.sender, theirs.hash, theirs.type)
    if ours.error is None:
        assert ours.tx.intrinsic_gas == theirs.tx.intrinsic_gas


@st.composite
def every_type(draw):
    """(fork, signed bytes) of every type the fork has, with access lists, blobs, authorizations."""
    fork_name = draw(st.sampled_from(["frontier", "homestead", "spurious_dragon", "istanbul", "berlin", "london",
                                      "shanghai", "cancun", "prague"]))
    tx_type = draw(st.sampled_from(get_fork(fork_name).allowed_tx_types))
    key = keys.PrivateKey(draw(st.integers(1, 2**200)).to_bytes(32, "big"))
    access_list = draw(st.lists(st.tuples(st.binary(min_size=20, max_size=20),
                                          st.lists(st.integers(0, 2**256 - 1), max_size=3)), max_size=3)) \
        if tx_type else ()
    to = draw(st.one_of(st.none(), st.binary(min_size=20, max_size=20))) if tx_type < 3 else b"\x33" * 20
    authorizations = ()
    if tx_type == 4:
        authorizations = tuple(
            txgen.authorization(key, draw(st.sampled_from([0, CHAIN_ID, 7])), draw(st.binary(min_size=20, max_size=20)),
                                draw(st.integers(0, 2**64 - 1)))
            for _ in range(draw(st.integers(1, 2))))
    raw = txgen.sign(
        fork_name, key, nonce=draw(st.integers(0, 2**64)), to=to, value=draw(st.integers(0, 2**256 - 1)),
        data=draw(st.binary(max_size=120)), gas=draw(st.sampled_from([0, 21_000, 53_000, 10**6, 2**63])),
        tx_type=tx_type, chain_id=draw(st.sampled_from([1, CHAIN_ID, 2**40])),
        eip155=draw(st.booleans()), access_list=access_list,
        max_fee_per_blob_gas=draw(st.integers(0, 2**70)),
        blob_hashes=draw(st.lists(st.binary(min_size=32, max_size=32), min_size=tx_type == 3, max_size=3))
        if tx_type == 3 else (), authorizations=authorizations,
    )
    return fork_name, raw


@settings(max_examples=120)
@given(every_type())
def test_valid_transactions_of_every_type_decode_as_pyevm_decodes_them(case):
    fork_name, raw = case
    assert txdecode.decode(raw) is not None  # valid bytes never need py-evm's decoder
    _assert_same_as_pyevm(fork_name, raw)


@settings(max_examples=150)
@given(st.one_of(tx_bytes(), mutated(every_type().map(lambda case: case[1]))),
       st.sampled_from(["frontier", "berlin", "london", "cancun", "prague"]))
def test_malformed_bytes_get_pyevms_verdict_and_error_text(raw, fork_name):
    _assert_same_as_pyevm(fork_name, raw)


def test_non_canonical_rlp_is_left_to_pyevm():
    key = keys.PrivateKey(b"\x07" * 32)
    raw = txgen.sign("prague", key, nonce=5, to=b"\x02" * 20, tx_type=2, chain_id=CHAIN_ID)
    fields = rlp.decode(raw[1:])
    assert fields[1] == b"\x05"
    # the nonce 5 as a one-byte string (0x81 0x05) instead of the byte itself: pyrlp refuses it
    payload = b"".join(b"\x81\x05" if i == 1 else rlp.encode(f) for i, f in enumerate(fields))
    size = (len(payload).bit_length() + 7) // 8
    header = bytes([0xC0 + len(payload)]) if len(payload) < 56 else bytes([0xF7 + size]) + len(payload).to_bytes(size, "big")
    bad = b"\x02" + header + payload
    assert txdecode.decode(bad) is None
    prepared = decode_signed(get_fork("prague"), bad, CHAIN_ID)
    assert prepared.error.startswith("malformed transaction") and prepared.sender is None


_RLP_ITEMS = st.recursive(
    st.one_of(st.binary(max_size=70), st.integers(0, 2**300), st.integers(-5, -1), st.booleans()),
    lambda children: st.lists(children, max_size=6), max_leaves=30)


@given(_RLP_ITEMS)
def test_the_field_encoder_is_pyrlps(item):
    try:
        expected = rlp.encode(item)
    except Exception as exc:  # negative integers: pyrlp's own refusal, unchanged
        try:
            txdecode.encode(item)
        except Exception as ours:
            assert type(ours) is type(exc) and str(ours) == str(exc)
            return
        raise AssertionError("encoded what pyrlp refuses")
    assert txdecode.encode(item) == expected


_BODY_ITEMS = st.lists(st.one_of(
    signed_txs(),  # every type; a legacy one is an RLP list
    st.builds(lambda first, rest: bytes([first]) + rest, st.integers(1, 0x7F), st.binary(max_size=70)),  # typed
    st.recursive(st.one_of(st.binary(max_size=70), st.integers(0, 2**300)), lambda children: st.lists(
        children, max_size=6), max_leaves=20).filter(lambda item: isinstance(item, list)).map(rlp.encode),
), max_size=12)


@given(_BODY_ITEMS)
def test_a_t8n_body_from_the_signed_bytes_is_the_decode_and_reencode_one(items):
    """``t8n --output.body`` puts the signed bytes together as they are; before, each legacy
    transaction was decoded and re-encoded by pyrlp (the same bytes for canonical RLP)."""
    from hyperion.tools.conformance.t8n import encode_body

    expected = rlp.encode([rlp.decode(raw) if raw[0] >= 0xC0 else raw for raw in items if raw])
    assert encode_body(items, get_fork("prague"), CHAIN_ID) == expected
