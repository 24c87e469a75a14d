"""Steady block times: the engine's one request to Python's cyclic garbage collector.

A block of thousands of transactions allocates millions of objects, so the collector runs
inside every block: dozens of young collections and, every few blocks, a full one.  A full
collection walks every tracked object in the process, and most of them are the tens of
thousands that start-up leaves (modules, fork and state classes, precompile tables), alive
until the process ends.  Whether a full collection fell inside a given block depended on
the blocks before it, so the same block cost more or less depending on history
(docs/design.md §16 has the measurement).

:func:`freeze_startup_heap`, called once per process by the engine's ``warm_up()`` or
first ``execute()``, moves everything alive at that point out of the collector's sight
(``gc.freeze``).  Full collections then walk only what blocks and the caller allocate
since.  Frozen objects are still freed by reference counting when released; only a frozen
object in a reference cycle that becomes garbage later stays (start-up objects do not
become garbage).  Results are unaffected: the collector only frees unreachable objects.

Only the young generations are collected first, not the whole heap: a full collection at
that point walks every start-up object (tens of milliseconds, a tenth of a short
``hyperion t8n`` run) and found about 40 garbage objects (a leftover of imports), which
the freeze then keeps for the life of the process instead.
"""
from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> None:
    """Collect the young generations, then exempt every object alive now from later
    collections (once per process)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect(1)
    gc.freeze()
