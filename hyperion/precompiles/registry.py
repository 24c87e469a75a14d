"""Extra precompile sets a chain can enable (``ChainConfig.extra_precompiles``).

A *precompile set* is a name (``"ai"``) mapped to a function returning
``{address: callable(computation)}``.  :func:`state_class_for` builds, once per fork and
set combination, a py-evm state class whose computation class knows the extra addresses,
so sequential and parallel execution run exactly the same rules.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Dict, Tuple

from hyperion.errors import ChainConfigError
from hyperion.evm.forks import Fork

PrecompileFn = Callable[[object], object]
_SETS: Dict[str, Callable[[Fork], Dict[bytes, PrecompileFn]]] = {}

#: Ethereum's precompiles occupy 0x01-0x11 and P-256 0x100; extra sets must avoid them.
RESERVED = {i.to_bytes(20, "big") for i in range(1, 0x12)} | {(0x100).to_bytes(20, "big")}


def register_set(name: str, factory: Callable[[Fork], Dict[bytes, PrecompileFn]]) -> None:
    _SETS[name] = factory


def available_sets() -> Tuple[str, ...]:
    _load_builtin_sets()
    return tuple(sorted(_SETS))


def _load_builtin_sets() -> None:
    # Imported lazily so that chains without extra precompiles never load their kernels.
    try:
        import hyperion.precompiles.ai  # noqa: F401  (registers "ai")
    except ImportError:
        pass


@lru_cache(maxsize=None)
def state_class_for(fork: Fork, names: Tuple[str, ...]) -> type:
    if not names:
        return fork.state_class
    _load_builtin_sets()
    extra: Dict[bytes, PrecompileFn] = {}
    for name in names:
        if name not in _SETS:
            raise ChainConfigError(f"unknown precompile set {name!r}; available: {', '.join(available_sets()) or 'none'}")
        for address, fn in _SETS[name](fork).items():
            if address in RESERVED:
                raise ChainConfigError(f"precompile set {name!r} uses reserved address {address.hex()}")
            extra[address] = fn
    base_state = fork.state_class
    base_computation = base_state.computation_class
    computation = type(
        f"{base_computation.__name__}With{''.join(n.title() for n in names)}",
        (base_computation,),
        {"_precompiles": {**base_computation._precompiles, **extra}},
    )
    return type(f"{base_state.__name__}With{''.join(n.title() for n in names)}", (base_state,), {"computation_class": computation})
