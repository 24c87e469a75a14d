"""The ``ai`` precompile set: integer-only ML kernels for contracts.

Enabled per chain (``ChainConfig(extra_precompiles=("ai",))``, the default of
``ChainConfig.hyperion_default()``); ``"ai@0x0b00"`` moves the set to another base
address.  Default addresses (base 0x0a00)::

    0x0a01 matvec   0x0a02 matmul   0x0a03 relu     0x0a04 sigmoid  0x0a05 tanh
    0x0a06 softmax  0x0a07 dot      0x0a08 cosine   0x0a09 topk     0x0a0a mlp

The byte-level ABI, the data-contract layout of models and vector sets and the gas
schedule are in :mod:`hyperion.precompiles.ai.abi` and docs/ai-precompiles.md.

Importing this package registers the set and nothing more: numba is imported (and the
kernels compiled or loaded from cache) only when a chain that enables the set builds
its state class or calls :func:`warm_up` -- chains without it never pay for it.
"""
from __future__ import annotations

from typing import Dict, Optional

from hyperion.precompiles.ai.abi import DEFAULT_ADDRESSES, DEFAULT_BASE, addresses, parse_base
from hyperion.precompiles.registry import register_set


def precompiles(fork=None, option: Optional[str] = None) -> Dict[bytes, object]:
    """``{address: precompile}`` for the set at its default or configured base."""
    from hyperion.precompiles.ai import backend, runtime

    backend.warm_up()  # compile / load the kernels now, never in the middle of a block
    return {address: runtime.make_precompile(name, address) for name, address in addresses(parse_base(option)).items()}


def warm_up() -> dict:
    """Compile (or load from numba's cache) and exercise every kernel; returns the timing."""
    from hyperion.precompiles.ai import backend

    return dict(backend.warm_up())


register_set("ai", precompiles, warm_up=warm_up, records=True)

__all__ = ["DEFAULT_ADDRESSES", "DEFAULT_BASE", "addresses", "precompiles", "warm_up"]
