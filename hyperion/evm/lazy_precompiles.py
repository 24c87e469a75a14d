"""py-evm's BLS12-381 precompiles (EIP-2537), imported when first called instead of with ``eth``.

``import eth`` imports every precompile, and the BLS12-381 ones pull in py_ecc's
``optimized_bls12_381``, which precomputes curve constants at import: about a third of the
CPU time of ``import eth``, paid by every ``hyperion`` command and worker process, most of
which never run those precompiles.  :func:`install` puts a stand-in for py-evm's
``eth.precompiles.bls12_381`` package into ``sys.modules`` before ``eth`` is imported: each
function it exports is a wrapper that imports py-evm's real submodule on first call and
calls the real function, so results are unchanged.  (The BN254 precompiles cannot be
deferred this way: py-evm curries them with their gas costs while it defines its forks.)

It does nothing once ``eth`` is imported (py-evm already holds the real functions) or with
``HYPERION_LAZY_PRECOMPILES=0``.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types

PACKAGE = "eth.precompiles.bls12_381"
#: function -> the submodule of the package that defines it (the package only re-exports)
FUNCTIONS = {
    "bls12_g1_add": "bls12_381_g1", "bls12_g1_msm": "bls12_381_g1", "bls12_map_fp_to_g1": "bls12_381_g1",
    "bls12_g2_add": "bls12_381_g2", "bls12_g2_msm": "bls12_381_g2", "bls12_map_fp2_to_g2": "bls12_381_g2",
    "bls12_pairing_check": "bls12_381_pairing",
}


def _wrapper(name: str):
    real = None

    def call(*args, **kwargs):
        nonlocal real
        if real is None:
            real = getattr(importlib.import_module(f"{PACKAGE}.{FUNCTIONS[name]}"), name)
        return real(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"py-evm's {PACKAGE}.{name}, imported on first call (hyperion.evm.lazy_precompiles)."
    return call


def install() -> bool:
    """Put the stand-ins in place; -> whether it did (see the module docstring)."""
    if "eth" in sys.modules or os.environ.get("HYPERION_LAZY_PRECOMPILES", "1") == "0":
        return False
    spec = importlib.util.find_spec("eth")
    if spec is None or spec.origin is None:  # pragma: no cover - py-evm is a dependency
        return False
    stand_in = types.ModuleType(PACKAGE)
    # the real package's folder, so that its submodules import as usual
    stand_in.__path__ = [os.path.join(os.path.dirname(spec.origin), "precompiles", "bls12_381")]
    for name in FUNCTIONS:
        setattr(stand_in, name, _wrapper(name))
    sys.modules[PACKAGE] = stand_in
    return True
