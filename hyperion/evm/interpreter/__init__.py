"""Hyperion's compiled EVM interpreter and the switch that chooses it.

Every call frame's bytecode runs either through the compiled interpreter
(``_interp.pyx``, over the cached per-code analysis of :mod:`.analysis`) or through py-evm's
own opcode loop; results are identical either way (docs/interpreter.md, docs/design.md §20).

The choice, in order:

- ``HYPERION_PUREPYTHON=1`` or a missing extension: py-evm's loop (there is no pure-Python
  twin: py-evm's loop is the fallback);
- ``HYPERION_INTERPRETER=pyevm``: py-evm's loop, for comparison and as the reference;
- otherwise the compiled interpreter, unless code has switched it off with
  :func:`set_enabled` or is inside :func:`stock_loop` (a tracer that must see every opcode
  through py-evm runs its traced execution there).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional

from hyperion import native

MODES = ("compiled", "pyevm")


def _load_compiled():
    """The compiled module, or None where py-evm's loop is the only choice."""
    if native.PURE_PYTHON:
        native.IMPLEMENTATIONS["interp"] = False
        return None
    try:
        from hyperion.evm.interpreter import _interp
    except ImportError:
        if native.REQUIRE_COMPILED:
            raise
        native.IMPLEMENTATIONS["interp"] = False
        return None
    native.IMPLEMENTATIONS["interp"] = True
    return _interp


def _mode_from_environment() -> str:
    mode = os.environ.get("HYPERION_INTERPRETER", "compiled").strip().lower() or "compiled"
    if mode not in MODES:
        raise ValueError(f"HYPERION_INTERPRETER must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


compiled_module = _load_compiled()
_enabled: bool = compiled_module is not None and _mode_from_environment() == "compiled"


def available() -> bool:
    """Whether the compiled interpreter is built and allowed in this process."""
    return compiled_module is not None


def enabled() -> bool:
    """Whether new call frames run through the compiled interpreter."""
    return _enabled


def set_enabled(flag: bool) -> None:
    """Switch the compiled interpreter on or off for this process (on needs it built)."""
    global _enabled
    if flag and compiled_module is None:
        raise RuntimeError("the compiled interpreter is not available (pure-Python mode or not built)")
    _enabled = bool(flag)


@contextmanager
def stock_loop(active: bool = True) -> Iterator[None]:
    """Run frames started inside this block through py-evm's loop (when ``active``)."""
    global _enabled
    previous = _enabled
    if active:
        _enabled = False
    try:
        yield
    finally:
        _enabled = previous


def describe() -> str:
    return "compiled" if _enabled else "pyevm"


def opcode_counts() -> Optional[tuple]:
    """``(compiled, delegated)`` per-opcode counts of this process, or None without the
    compiled module: how often each opcode ran compiled or was handed to py-evm."""
    if compiled_module is None:
        return None
    return compiled_module.opcode_counts()


def coverage_report() -> str:
    """A table of the opcodes run in this process: compiled, and handed to py-evm."""
    counts = opcode_counts()
    if counts is None:
        return "the compiled interpreter is not loaded: no counts\n"
    from eth.vm.forks import PragueVM

    names = {op: fn.mnemonic for op, fn in PragueVM._state_class.computation_class.opcodes.items()
             if hasattr(fn, "mnemonic")}
    compiled, delegated = counts
    lines = [f"{'opcode':<8}{'name':<16}{'compiled':>14}{'py-evm':>14}"]
    for op in range(256):
        if compiled[op] or delegated[op]:
            lines.append(f"0x{op:02x}    {names.get(op, '?'):<16}{compiled[op]:>14,}{delegated[op]:>14,}")
    ran = sum(1 for op in range(256) if compiled[op])
    lines.append(f"{ran} opcodes ran compiled; {sum(compiled):,} compiled executions, "
                 f"{sum(delegated):,} handed to py-evm")
    return "\n".join(lines) + "\n"
