"""Extra precompile sets a chain can enable (``ChainConfig.extra_precompiles``).

A *precompile set* is a name (``"ai"``) mapped to a factory returning
``{address: callable(computation)}``.  An entry of ``extra_precompiles`` is the set's
name, optionally followed by ``@option`` (``"ai@0x0b00"``: the ``ai`` set at base
address 0x0b00); the option is passed to the factory.  :func:`table_for` resolves a chain's
entries into one :class:`PrecompileTable`; this module holds tables only and knows nothing
of py-evm: :func:`hyperion.evm.state.state_class_for` builds the state class that runs a
table, for sequential and parallel execution alike.

Sets may also declare a ``warm_up`` hook (compile kernels, fill caches) that the engine
runs when it starts -- and a parallel worker should run when *it* starts --
(:func:`warm_up`), and whether their precompiles leave inference records
(``records=True``; see :mod:`hyperion.precompiles.records`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Collection, Dict, Mapping, Optional, Tuple

from hyperion.errors import ChainConfigError

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


@dataclass(frozen=True, eq=False)
class PrecompileTable:
    """The extra precompiles a chain's ``extra_precompiles`` entries give one fork."""

    names: Tuple[str, ...]  #: the entries it was built from (``("ai@0x0b00",)``)
    precompiles: Mapping[bytes, PrecompileFn]  #: address -> precompile
    records: bool  #: whether any of its precompiles leaves inference records


def table_for(fork, names: Tuple[str, ...], taken: Collection[bytes] = ()) -> PrecompileTable:
    """Resolve ``names`` for ``fork`` into one table; ``taken``: the fork's own precompile addresses.

    Refuses (``ChainConfigError``) unknown sets, bad options and any address that is
    reserved, is one of the fork's precompiles or belongs to two sets.
    """
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
            if address in taken:
                raise ChainConfigError(f"precompile set {entry!r}: 0x{address.hex()} is a {fork.name} precompile")
            if address in extra:
                raise ChainConfigError(f"precompile set {entry!r}: 0x{address.hex()} is already taken by another set")
            extra[address] = fn
        records = records or spec.records
    return PrecompileTable(tuple(names), extra, records)
