"""py-evm's elliptic-curve precompiles, imported when first called instead of with ``eth``.

``import eth`` imports every precompile, and the curve ones pull in py_ecc, which
precomputes curve constants at import: the BLS12-381 ones (EIP-2537, ``optimized_bls12_381``)
about a third of the CPU time of ``import eth``, the BN254 ones (EIP-196/197,
``optimized_bn128``) about 35 ms, a twentieth of a short ``hyperion t8n`` run.  Every ``hyperion``
command and worker process paid for them, and most never run them.  :func:`install` puts
stand-ins into ``sys.modules`` before ``eth`` is imported:

- for the package ``eth.precompiles.bls12_381``, whose functions are wrappers that import
  py-evm's real submodule on first call and call the real function;
- for each BN254 module (``eth.precompiles.ecadd``, ``ecmul``, ``ecpairing``), whose one
  function py-evm curries with its gas costs while it defines its forks
  (``precompiles.ecadd(gas_cost=...)``): the stand-in function, given only gas costs,
  returns itself with them bound, as py-evm's curried one does; given the computation it
  executes py-evm's own module from its file on first call (and puts it into
  ``sys.modules`` in place of the stand-in) and calls the real function with the same
  arguments.

Results are unchanged.  One side effect moves with the import: py_ecc's package raises the
recursion limit to 100,000, which deep call chains (1,024 nested calls) have run under
since ``eth`` imported it; :func:`install` raises it the same way, so deferring py_ecc
changes no limit.

It does nothing once ``eth`` is imported (py-evm already holds the real functions) or with
``HYPERION_LAZY_PRECOMPILES=0``.
"""
from __future__ import annotations

import functools
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
#: BN254 precompile module -> the curried function it defines
BN254 = {"eth.precompiles.ecadd": "ecadd", "eth.precompiles.ecmul": "ecmul", "eth.precompiles.ecpairing": "ecpairing"}
#: what ``import py_ecc`` sets (``sys.setrecursionlimit(max(100000, ...))``), see above
PY_ECC_RECURSION_LIMIT = 100_000


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


def _load_real(module: str, path: str) -> types.ModuleType:
    """Execute py-evm's module ``module`` from its file; it replaces the stand-in."""
    spec = importlib.util.spec_from_file_location(module, path)
    real = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real)
    sys.modules[module] = real
    return real


_NO_COMPUTATION = object()


def _curried_wrapper(module: str, path: str):
    name = BN254[module]
    real = None

    def call(computation=_NO_COMPUTATION, **gas_costs):
        nonlocal real
        if computation is _NO_COMPUTATION:  # a fork binding its gas costs, as with py-evm's curry
            return functools.partial(call, **gas_costs)
        if real is None:
            real = getattr(_load_real(module, path), name)
        return real(computation, **gas_costs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"py-evm's {module}.{name}, imported on first call (hyperion.evm.lazy_precompiles)."
    stand_in = types.ModuleType(module)
    stand_in.__file__ = path
    setattr(stand_in, name, call)
    return stand_in


def install() -> bool:
    """Put the stand-ins in place; -> whether it did (see the module docstring)."""
    if "eth" in sys.modules or os.environ.get("HYPERION_LAZY_PRECOMPILES", "1") == "0":
        return False
    spec = importlib.util.find_spec("eth")
    if spec is None or spec.origin is None:  # pragma: no cover - py-evm is a dependency
        return False
    precompiles = os.path.join(os.path.dirname(spec.origin), "precompiles")
    stand_in = types.ModuleType(PACKAGE)
    # the real package's folder, so that its submodules import as usual
    stand_in.__path__ = [os.path.join(precompiles, "bls12_381")]
    for name in FUNCTIONS:
        setattr(stand_in, name, _wrapper(name))
    sys.modules[PACKAGE] = stand_in
    for module in BN254:
        sys.modules[module] = _curried_wrapper(module, os.path.join(precompiles, module.rsplit(".", 1)[1] + ".py"))
    sys.setrecursionlimit(max(PY_ECC_RECURSION_LIMIT, sys.getrecursionlimit()))
    return True
