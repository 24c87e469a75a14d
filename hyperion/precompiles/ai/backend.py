"""Which kernel implementation runs: numba (``kernels_nb``) or the plain-Python twin.

Chosen once per process by ``hyperion.native``: ``HYPERION_PUREPYTHON=1`` forces the
twin; ``HYPERION_REQUIRE_COMPILED=1`` turns a missing numba into an import error;
otherwise numba is used when it imports and the twin when it does not.

Loading the numba module compiles every kernel (or loads it from numba's on-disk cache,
``cache=True``).  :func:`warm_up` does that and measures it; the engine calls it when it
starts and the ``ai`` precompile factory calls it before a state class is built, so no
kernel is ever compiled while a block executes.
"""
from __future__ import annotations

import importlib
import threading
import time
from types import ModuleType
from typing import Any, Dict, Optional

from hyperion import native

_lock = threading.Lock()
_module: Optional[ModuleType] = None
#: what the first warm-up did: backend name, seconds, numba cache hits / misses
STARTUP: Dict[str, Any] = {}


def _load() -> ModuleType:
    return native.choose("ai", "hyperion.precompiles.ai.kernels_nb", "hyperion.precompiles.ai.kernels_py")


def kernels() -> ModuleType:
    """The kernel module of this process (loads and warms it on first use)."""
    module = _module
    if module is None:
        warm_up()
        module = _module
    return module


def warm_up() -> Dict[str, Any]:
    """Load (compile or read from cache) and exercise every kernel; idempotent.

    Returns :data:`STARTUP`: ``{"backend", "seconds", "cache_hits", "cache_misses"}``.
    """
    global _module
    with _lock:
        if _module is not None:
            return STARTUP
        started = time.perf_counter()
        module = _load()
        module.warm()
        STARTUP.update(backend=module.NAME, seconds=time.perf_counter() - started)
        hits = misses = 0
        for value in vars(module).values():
            stats = getattr(value, "stats", None)
            if stats is not None and hasattr(stats, "cache_hits"):
                hits += sum(stats.cache_hits.values())
                misses += sum(stats.cache_misses.values())
        STARTUP.update(cache_hits=hits, cache_misses=misses)
        _module = module
        return STARTUP


def is_loaded() -> bool:
    return _module is not None


def other(name: str) -> ModuleType:
    """A specific implementation (``"numba"`` / ``"python"``), for tests and benchmarks."""
    return importlib.import_module("hyperion.precompiles.ai.kernels_nb" if name == "numba"
                                   else "hyperion.precompiles.ai.kernels_py")
