"""Extra precompile sets a chain can enable (``ChainConfig.extra_precompiles``).

A *precompile set* is a name (``"ai"``) mapped to a factory returning
``{address: callable(computation)}``.  An entry of ``extra_precompiles`` is the set's
name, optionally followed by ``@option`` (``"ai@0x0b00"``: the ``ai`` set at base
address 0x0b00); the option is passed to the factory.  :func:`state_class_for` builds,
once per fork and set combination, a py-evm state class whose computation class knows the
extra addresses, so sequential and parallel execution run exactly the same rules.

Sets may also declare a ``warm_up`` hook (compile kernels, fill caches) that the engine
runs when it starts -- and a parallel worker should run when *it* starts --
(:func:`warm_up`), and whether their precompiles leave inference records
(``records=True``; see :mod:`hyperion.precompiles.records`).
"""
from __future__ import annotations

import copyreg
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Dict, Optional, Tuple

from hyperion.errors import ChainConfigError
from hyperion.evm.forks import FORKS, Fork
from hyperion.precompiles.records import ENABLED_ATTRIBUTE

PrecompileFn = Callable[[object], object]


@dataclass(frozen=True)
class PrecompileSet:
    name: str
    factory: Callable[..., Dict[bytes, PrecompileFn]]
    warm_up: Optional[Callable[[], object]] = None
    records: bool = False


_SETS: Dict[str, PrecompileSet] = {}

#: Ethereum's precompiles occupy 0x01-0x11 and P-256 0x100; extra sets must avoid them.
RESERVED = {i.to_bytes(20, "big") for i in range(1, 0x12)} | {(0x100).to_bytes(20, "big")}

#: seconds each set's warm-up took the first time it ran in this process
STARTUP_SECONDS: Dict[str, float] = {}


def register_set(
    name: str,
    factory: Callable[..., Dict[bytes, PrecompileFn]],
    *,
    warm_up: Optional[Callable[[], object]] = None,
    records: bool = False,
) -> None:
    """Register ``factory(fork[, option]) -> {address: fn}`` under ``name``."""
    _SETS[name] = PrecompileSet(name, factory, warm_up, records)


def available_sets() -> Tuple[str, ...]:
    _load_builtin_sets()
    return tuple(sorted(_SETS))


def _load_builtin_sets() -> None:
    # Imported lazily so that chains without extra precompiles never load their kernels.
    # (Importing hyperion.precompiles.ai only registers the set; numba loads on first use.)
    try:
        import hyperion.precompiles.ai  # noqa: F401  (registers "ai")
    except ImportError:
        pass


def split_entry(entry: str) -> Tuple[str, Optional[str]]:
    """``"ai@0x0b00"`` -> ``("ai", "0x0b00")``; ``"ai"`` -> ``("ai", None)``."""
    name, sep, option = entry.partition("@")
    return name.strip(), (option.strip() if sep else None)


def _get(entry: str) -> Tuple[PrecompileSet, Optional[str]]:
    name, option = split_entry(entry)
    if name not in _SETS:
        _load_builtin_sets()
    if name not in _SETS:
        raise ChainConfigError(f"unknown precompile set {name!r}; available: {', '.join(available_sets()) or 'none'}")
    return _SETS[name], option


def warm_up(names: Tuple[str, ...]) -> Dict[str, float]:
    """Run the warm-up hook of every set in ``names``; returns seconds per set.

    Idempotent: a set already warm in this process reports the time of its first
    warm-up.  Call it when an engine or a worker process starts, so that nothing is
    compiled while a block executes.
    """
    out: Dict[str, float] = {}
    for entry in names:
        spec, _ = _get(entry)
        if spec.name not in STARTUP_SECONDS:
            started = time.perf_counter()
            if spec.warm_up is not None:
                spec.warm_up()
            STARTUP_SECONDS[spec.name] = time.perf_counter() - started
        out[spec.name] = STARTUP_SECONDS[spec.name]
    return out


@lru_cache(maxsize=None)
def state_class_for(fork: Fork, names: Tuple[str, ...]) -> type:
    if not names:
        return fork.state_class
    base_state = fork.state_class
    base_computation = base_state.computation_class
    extra: Dict[bytes, PrecompileFn] = {}
    records = False
    for entry in names:
        spec, option = _get(entry)
        try:
            table = spec.factory(fork) if option is None else spec.factory(fork, option)
        except ValueError as exc:
            raise ChainConfigError(f"precompile set {entry!r}: {exc}") from exc
        for address, fn in table.items():
            if address in RESERVED:
                raise ChainConfigError(f"precompile set {entry!r} uses reserved address 0x{address.hex()}")
            if address in base_computation._precompiles:
                raise ChainConfigError(f"precompile set {entry!r}: 0x{address.hex()} is a {fork.name} precompile")
            if address in extra:
                raise ChainConfigError(f"precompile set {entry!r}: 0x{address.hex()} is already taken by another set")
            extra[address] = fn
        records = records or spec.records
    suffix = "".join(split_entry(n)[0].title() for n in names)
    common = {"_hyperion_fork": fork.name, "_hyperion_sets": tuple(names)}
    computation = _meta_for(base_computation)(
        f"{base_computation.__name__}With{suffix}",
        (base_computation,),
        {"_precompiles": {**base_computation._precompiles, **extra}, ENABLED_ATTRIBUTE: records,
         "_hyperion_part": "computation", **common},
    )
    return _meta_for(base_state)(
        f"{base_state.__name__}With{suffix}", (base_state,),
        {"computation_class": computation, "_hyperion_part": "state", **common},
    )


# The classes built above exist only in the process that built them.  So that a job (a
# processor, a state class) can be sent to a worker process, they pickle as "the state /
# computation class of fork F with sets N", rebuilt on the other side by state_class_for.
_METAS: Dict[type, type] = {}


def _meta_for(base: type) -> type:
    base_meta = type(base)
    meta = _METAS.get(base_meta)
    if meta is None:
        meta = type(f"WithPrecompileSets{base_meta.__name__}", (base_meta,), {})
        copyreg.pickle(meta, _reduce_class)
        _METAS[base_meta] = meta
    return meta


def _reduce_class(cls):
    return _rebuild_class, (cls._hyperion_fork, cls._hyperion_sets, cls._hyperion_part)


def _rebuild_class(fork_name: str, names: Tuple[str, ...], part: str) -> type:
    state = state_class_for(FORKS[fork_name], tuple(names))
    return state if part == "state" else state.computation_class
