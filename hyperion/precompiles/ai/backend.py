"""Which kernel implementation runs: numba (``kernels_nb``) or the plain-Python twin.

Chosen once per process by ``hyperion.native``: ``HYPERION_PUREPYTHON=1`` forces the
twin; ``HYPERION_REQUIRE_COMPILED=1`` turns a missing numba into an import error;
otherwise numba is used when it imports and the twin when it does not.

Loading the numba module compiles every kernel (or loads it from numba's on-disk cache,
``cache=True``).  :func:`warm_up` does that and measures it; the engine calls it when it
starts and the ``ai`` precompile factory calls it before a state class is built, so no
kernel is ever compiled while a block executes.

numba's on-disk cache goes to a per-user directory (:func:`configure_numba_cache`), never
next to the installed kernels: files pip does not know about would survive an uninstall
and leave a ``site-packages/hyperion/`` folder behind that hides a later install.
"""
from __future__ import annotations

import importlib
import os
import sys
import tempfile
import threading
import time
from types import ModuleType
from typing import Any, Dict, Optional

from hyperion import native

_lock = threading.Lock()
_module: Optional[ModuleType] = None
#: what the first warm-up did: backend name, seconds, numba cache hits / misses
STARTUP: Dict[str, Any] = {}


def numba_cache_dir() -> str:
    """Where numba caches the compiled kernels: ``$NUMBA_CACHE_DIR`` if the user set it, else
    ``$XDG_CACHE_HOME/hyperion/numba`` (``~/.cache/hyperion/numba``)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hyperion", "numba")


def configure_numba_cache() -> str:
    """Point numba's cache at :func:`numba_cache_dir` (before numba compiles anything).

    A user's ``NUMBA_CACHE_DIR`` is kept.  numba falls back to ``__pycache__`` beside the
    source when the configured directory is not writable, so an unwritable home directory
    falls back here to a per-user temporary directory instead.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    path = numba_cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
        path = os.path.join(tempfile.gettempdir(), f"hyperion-{uid}", "numba")
    os.environ["NUMBA_CACHE_DIR"] = path  # inherited by Block-STM worker processes
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba was imported before: make it read the variable again
        config.reload_config()
    return path


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
