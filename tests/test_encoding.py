"""Hand-written encoders and the compiled keccak agree with the reference libraries."""
import rlp
from Crypto.Hash import keccak as reference
from hypothesis import given, strategies as st

from hyperion.state.trie import mpt
from hyperion.evm.receipts import bloom_bits, encode_receipt
from hyperion.types import Log

logs = st.lists(
    st.builds(
        Log,
        address=st.binary(min_size=20, max_size=20),
        topics=st.lists(st.binary(min_size=32, max_size=32), max_size=4).map(tuple),
        data=st.one_of(st.binary(max_size=70), st.binary(min_size=1, max_size=1), st.binary(min_size=200, max_size=400)),
    ),
    max_size=5,
).map(tuple)


@given(
    tx_type=st.sampled_from([0, 1, 2, 3, 4]),
    status=st.one_of(st.just(b""), st.just(b"\x01"), st.binary(min_size=32, max_size=32)),
    gas=st.one_of(st.integers(0, 300), st.integers(0, 2**64)),
    entries=logs,
)
def test_receipt_encoding_equals_pyrlp(tx_type, status, gas, entries):
    body = rlp.encode([status, gas, bloom_bits(entries).to_bytes(256, "big"),
                       [[e.address, list(e.topics), e.data] for e in entries]])
    expected = body if tx_type == 0 else bytes([tx_type]) + body
    assert encode_receipt(tx_type, status, gas, entries) == expected


@given(st.binary(max_size=600))
def test_keccak_used_by_the_process_equals_pycryptodome(data):
    from eth_hash.auto import keccak

    expected = reference.new(digest_bits=256, data=data).digest()
    assert keccak(data) == expected
    assert mpt.keccak256(data) == expected


def test_compiled_keccak_is_installed_only_in_compiled_mode():
    from hyperion import native

    assert native.FAST_KECCAK_INSTALLED == (not native.PURE_PYTHON and native.IMPLEMENTATIONS.get("mpt", False))


def test_fast_keccak_known_answer_is_pycryptodomes():
    """The start-up self-check of the compiled keccak compares with one known answer; it must
    be pycryptodome's digests, and a wrong compiled digest must change it."""
    from hyperion import native

    digests = [reference.new(digest_bits=256, data=native.check_input(n)).digest() for n in native._CHECK_LENGTHS]
    assert reference.new(digest_bits=256, data=b"".join(digests)).digest() == native.CHECK_DIGEST
    digests[5] = bytes(32)
    assert reference.new(digest_bits=256, data=b"".join(digests)).digest() != native.CHECK_DIGEST
