"""Decoding signed transactions: Hyperion's sender recovery equals py-evm's."""
from __future__ import annotations

from eth_keys import keys
from hypothesis import given
from hypothesis import strategies as st

from hyperion.evm.forks import get_fork
from hyperion.evm import senders, txdecode
from hyperion.evm.transactions import decode_signed

from tests import txgen


@given(
    secret=st.integers(1, txgen.SECP256K1_N - 1),
    fork_name=st.sampled_from(["frontier", "spurious_dragon", "berlin", "london", "prague"]),
    tx_type=st.sampled_from([0, 1, 2]),
    eip155=st.booleans(),
    chain_id=st.sampled_from([1, 1337, 2**32 + 5]),
    nonce=st.integers(0, 2**64 - 2),
    to=st.one_of(st.none(), st.binary(min_size=20, max_size=20)),
    value=st.integers(0, 2**256 - 1),
    data=st.binary(max_size=300),
)
def test_sender_from_the_signed_bytes_equals_pyevms(secret, fork_name, tx_type, eip155, chain_id, nonce, to,
                                                      value, data):
    fork = get_fork(fork_name)
    if tx_type not in fork.allowed_tx_types:
        tx_type = 0
    key = keys.PrivateKey(secret.to_bytes(32, "big"))
    raw = txgen.sign(fork_name, key, nonce=nonce, to=to, value=value, data=data, gas=10**6, tx_type=tx_type,
                     chain_id=chain_id, eip155=eip155)
    tx = txgen.decode(fork_name, raw)
    expected = txgen.decode(fork_name, raw).sender  # py-evm's own recovery
    assert expected == key.public_key.to_canonical_address()
    record = txdecode.decode(raw)
    assert senders.recover(record) == expected
    inner = getattr(tx, "_inner", tx)
    message = inner.get_message_for_signing()
    from eth_hash.auto import keccak

    assert record.signing_hash == keccak(message)
    senders.CACHE.clear()  # recovered here, not found in the cache
    prepared = decode_signed(fork, raw, chain_id)
    if prepared.error is None or "intrinsic" in prepared.error or "nonce" in prepared.error:
        assert prepared.sender == expected


def test_an_unrecoverable_signature_is_reported_by_pyevms_path():
    key = keys.PrivateKey(b"\x01" * 32)
    raw = txgen.sign("prague", key, nonce=0, to=b"\x02" * 20, tx_type=2, chain_id=1337)
    # r = 5 is not the x coordinate of a curve point: no key can be recovered
    broken = txgen.with_signature("prague", raw, r=5)
    assert senders.recover(txdecode.decode(broken)) is None
    prepared = decode_signed(get_fork("prague"), broken, 1337)
    assert prepared.error.startswith("invalid signature") and prepared.sender is None


@given(st.lists(st.tuples(st.binary(min_size=20, max_size=20),
                          st.lists(st.binary(min_size=32, max_size=32), max_size=4)), max_size=5))
def test_bloom_bits_equal_eth_bloom(entries):
    from eth_bloom import BloomFilter

    from hyperion.evm.receipts import bloom_bits
    from hyperion.types import Log

    logs = [Log(address, tuple(topics), b"") for address, topics in entries]
    expected = BloomFilter()
    for address, topics in entries:
        expected.add(address)
        for topic in topics:
            expected.add(topic)
    assert bloom_bits(logs) == int(expected)


def test_hyperion_executors_use_the_quiet_copies_only_of_the_methods_they_copy():
    import eth

    from hyperion.evm import quiet
    from hyperion.evm.forks import FORKS

    for fork in FORKS.values():
        executor = fork.state_class.transaction_executor_class
        original = fork.vm_class._state_class.transaction_executor_class
        for name in ("build_evm_message", "finalize_computation"):
            mine, theirs = getattr(executor, name), getattr(original, name)
            if eth.__version__ == quiet.COPIED_FROM:
                assert mine is quiet._REPLACEMENTS[name][theirs], (fork.name, name)
            else:
                assert mine is theirs
        computation = fork.state_class.computation_class
        stock = fork.vm_class._state_class.computation_class
        if eth.__version__ == quiet.COPIED_FROM:
            assert computation.apply_message.__func__ is quiet.frontier_apply_message, fork.name
        else:
            assert computation.apply_message.__func__ is stock.apply_message.__func__
