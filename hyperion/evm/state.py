"""The py-evm state class a block runs with: decided here and nowhere else.

A fork's own state class (:attr:`Fork.state_class <hyperion.evm.forks.Fork.state_class>`:
the flat account DB and the execution-specs fixes), extended, when the chain enables extra
precompile sets, by a computation class that also knows the sets' addresses.  The engine,
its genesis check and every Block-STM worker call :func:`state_class_for`, so sequential
and parallel execution run exactly the same rules.

The classes exist only in the process that built them and are never pickled: a block
message carries the fork's name and the set names, and a worker calls
:func:`state_class_for` with those (cached per process, like the engine's).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Tuple

from hyperion.evm.forks import Fork
from hyperion.precompiles.records import ENABLED_ATTRIBUTE
from hyperion.precompiles.registry import PrecompileTable, split_entry, table_for


@lru_cache(maxsize=None)
def state_class_for(fork: Fork, precompile_sets: Tuple[str, ...] = ()) -> type:
    """The state class of ``fork`` on a chain whose ``extra_precompiles`` are ``precompile_sets``.

    Raises ``ChainConfigError`` for a set that is unknown or collides with another
    precompile (``Engine.init_genesis`` calls it for every scheduled fork to find out).
    """
    if not precompile_sets:
        return fork.state_class
    taken = fork.state_class.computation_class._precompiles
    return with_precompiles(fork, table_for(fork, tuple(precompile_sets), taken))


def with_precompiles(fork: Fork, table: PrecompileTable) -> type:
    """``fork``'s state class whose computation class also runs ``table``'s precompiles."""
    base_state = fork.state_class
    base_computation = base_state.computation_class
    suffix = "".join(split_entry(name)[0].title() for name in table.names)
    computation = type(
        f"{base_computation.__name__}With{suffix}",
        (base_computation,),
        {"_precompiles": {**base_computation._precompiles, **table.precompiles}, ENABLED_ATTRIBUTE: table.records},
    )
    return type(f"{base_state.__name__}With{suffix}", (base_state,), {"computation_class": computation})
