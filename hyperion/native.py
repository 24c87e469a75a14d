"""The one place that chooses compiled or pure-Python implementations.

Every compiled module is a Cython extension ``pkg/_X.pyx`` with a pure-Python twin
``pkg/X_py.py`` of the same API, kept next to the code that uses it (the msgpack-python
layout); the AI precompiles' numba kernels follow the same rule.  ``HYPERION_PUREPYTHON=1``
forces the twins everywhere; ``HYPERION_REQUIRE_COMPILED=1`` turns a missing extension
into an import error (CI sets it, so a broken build cannot silently fall back).

:func:`install_fast_keccak` also lives here: it routes ``eth_hash.auto.keccak`` (used by
py-evm, eth-utils and Hyperion alike) through the trie module's compiled keccak.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Dict

PURE_PYTHON: bool = os.environ.get("HYPERION_PUREPYTHON", "") not in ("", "0")
REQUIRE_COMPILED: bool = os.environ.get("HYPERION_REQUIRE_COMPILED", "") not in ("", "0")

#: short name -> True when the compiled implementation is in use
IMPLEMENTATIONS: Dict[str, bool] = {}


def choose(name: str, compiled: str, twin: str) -> ModuleType:
    """Import module ``compiled`` (or, in pure mode or when it is missing, ``twin``)."""
    if not PURE_PYTHON:
        try:
            module = importlib.import_module(compiled)
            IMPLEMENTATIONS[name] = True
            return module
        except ImportError:
            if REQUIRE_COMPILED:
                raise
    IMPLEMENTATIONS[name] = False
    return importlib.import_module(twin)


def load(package: str, name: str) -> ModuleType:
    """``package._name`` (Cython) or its twin ``package.name_py``."""
    return choose(name, f"{package}._{name}", f"{package}.{name}_py")


def describe() -> str:
    """A one-line summary of which implementation each loaded module uses."""
    if not IMPLEMENTATIONS:
        return "no native modules loaded"
    return ", ".join(
        f"{name}={'compiled' if compiled else 'python'}"
        for name, compiled in sorted(IMPLEMENTATIONS.items())
    )


# -- one keccak for the whole process -----------------------------------------------------
# eth-hash's default backend (pycryptodome) costs ~15 us per call; the trie module's
# compiled keccak-f[1600] ~1 us.  ``Keccak256`` keeps its hash function in the ``hasher``
# attribute, so pointing that attribute at the compiled function speeds up every caller
# without touching them.  Installed only in compiled mode, only after the compiled function
# reproduces pycryptodome's digests at the lengths where the sponge's padding changes, and
# never with HYPERION_FAST_KECCAK=0.  Those digests are checked through one known answer
# rather than by importing pycryptodome: its import (through cffi, which parses C
# declarations at import: ~30 ms) is then left to the processes that import py-evm (whose
# ethash module imports it), not paid by every ``import hyperion`` (the sender-recovery
# helper); with the hasher replaced before its first call eth-hash never loads its backend.
_CHECK_LENGTHS = (0, 1, 31, 32, 33, 55, 56, 64, 135, 136, 137, 200, 271, 272, 273, 1000)
#: keccak256 of the concatenated keccak256 digests of ``check_input(n)`` for each length
#: above, as pycryptodome computes them (tests/test_encoding.py recomputes it)
CHECK_DIGEST = bytes.fromhex("45c06fac0bef8c2633b91c1b8a0f30b4495296cc0ad9340f293485468db22cd9")

FAST_KECCAK_INSTALLED = False


def check_input(length: int) -> bytes:
    """The known-answer input of ``length`` bytes."""
    return bytes((i * 131 + length) & 0xFF for i in range(length))


def install_fast_keccak() -> bool:
    """Route ``eth_hash.auto.keccak`` through the compiled keccak; -> whether it did."""
    global FAST_KECCAK_INSTALLED
    if FAST_KECCAK_INSTALLED:
        return True
    if PURE_PYTHON or os.environ.get("HYPERION_FAST_KECCAK", "1") == "0":
        return False
    from hyperion.state.trie import mpt

    if not IMPLEMENTATIONS.get("mpt"):
        return False
    from eth_hash.auto import keccak

    digests = b"".join(mpt.keccak256(check_input(length)) for length in _CHECK_LENGTHS)
    as_bytearrays = b"".join(mpt.keccak256(bytearray(check_input(length))) for length in _CHECK_LENGTHS)
    if mpt.keccak256(digests) != CHECK_DIGEST or as_bytearrays != digests:
        raise RuntimeError("compiled keccak256 disagrees with pycryptodome's known answers")
    keccak.hasher = mpt.keccak256
    FAST_KECCAK_INSTALLED = True
    return True
