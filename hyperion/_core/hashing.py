"""One keccak for the whole process.

py-evm, eth-utils and Hyperion all hash through ``eth_hash.auto.keccak``, whose default
backend (pycryptodome) costs ~15 us per call here; the compiled keccak-f[1600] of
``hyperion._core._mpt`` costs ~1 us.  ``Keccak256`` keeps its hash function in the
``hasher`` attribute (it swaps in the backend's after a first-run check), so pointing
that attribute at the compiled function speeds up every caller without touching them.

It is installed only in compiled mode, only after the compiled function reproduces
known digests at the lengths where the sponge's padding changes, and it can be turned
off with ``HYPERION_FAST_KECCAK=0``.
"""
from __future__ import annotations

import os

from hyperion import _core

#: keccak256 test vectors at the lengths around the 136-byte rate (computed once with
#: pycryptodome below, so a broken compiled function can never be installed)
_CHECK_LENGTHS = (0, 1, 31, 32, 33, 55, 56, 64, 135, 136, 137, 200, 271, 272, 273, 1000)

INSTALLED = False


def install() -> bool:
    """Route ``eth_hash.auto.keccak`` through the compiled keccak; -> whether it did."""
    global INSTALLED
    if INSTALLED:
        return True
    if _core.PURE_PYTHON or os.environ.get("HYPERION_FAST_KECCAK", "1") == "0":
        return False
    from hyperion._core import mpt

    if not _core.IMPLEMENTATIONS.get("mpt"):
        return False
    from Crypto.Hash import keccak as reference
    from eth_hash.auto import keccak

    for length in _CHECK_LENGTHS:
        data = bytes((i * 131 + length) & 0xFF for i in range(length))
        expected = reference.new(digest_bits=256, data=data).digest()
        if mpt.keccak256(data) != expected or mpt.keccak256(bytearray(data)) != expected:
            raise RuntimeError(f"compiled keccak256 disagrees with pycryptodome at length {length}")
    keccak(b"")  # let eth-hash finish its own first-run setup before replacing the hasher
    keccak.hasher = mpt.keccak256
    INSTALLED = True
    return True
