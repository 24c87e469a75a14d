"""Hyperion's hot paths: Cython modules, each with a pure-Python twin of the same API.

Style of msgpack-python: ``_core/_X.pyx`` is compiled, ``_core/X_py.py`` is the twin,
and ``_core/X.py`` chooses at import time.  ``HYPERION_PUREPYTHON=1`` forces the twins;
``HYPERION_REQUIRE_COMPILED=1`` turns a missing extension into an import error (CI uses
it so a broken build cannot silently fall back).
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Dict

PURE_PYTHON: bool = os.environ.get("HYPERION_PUREPYTHON", "") not in ("", "0")
REQUIRE_COMPILED: bool = os.environ.get("HYPERION_REQUIRE_COMPILED", "") not in ("", "0")

#: module name -> True when the compiled implementation is in use
IMPLEMENTATIONS: Dict[str, bool] = {}


def load(name: str) -> ModuleType:
    """Return the compiled ``_<name>`` module, or the ``<name>_py`` twin."""
    if not PURE_PYTHON:
        try:
            module = importlib.import_module(f"hyperion._core._{name}")
            IMPLEMENTATIONS[name] = True
            return module
        except ImportError:
            if REQUIRE_COMPILED:
                raise
    IMPLEMENTATIONS[name] = False
    return importlib.import_module(f"hyperion._core.{name}_py")


def describe() -> str:
    """A one-line summary of which implementation each loaded module uses."""
    if not IMPLEMENTATIONS:
        return "no _core modules loaded"
    return ", ".join(
        f"{name}={'compiled' if compiled else 'python'}"
        for name, compiled in sorted(IMPLEMENTATIONS.items())
    )
