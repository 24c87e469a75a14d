"""The compiled/pure-Python switch: each _core module loads the implementation asked for."""
import importlib
import os

import pytest

from hyperion import _core


@pytest.mark.parametrize("name, attr", [("mpt", "update_trie")])
def test_implementation_matches_mode(name, attr):
    module = importlib.import_module(f"hyperion._core.{name}")
    compiled = _core.IMPLEMENTATIONS[name]
    if os.environ.get("HYPERION_PUREPYTHON") == "1":
        assert not compiled
        assert getattr(module, attr) is getattr(importlib.import_module(f"hyperion._core.{name}_py"), attr)
    elif os.environ.get("HYPERION_REQUIRE_COMPILED") == "1":
        assert compiled
        assert getattr(module, attr) is getattr(importlib.import_module(f"hyperion._core._{name}"), attr)


def test_flatdb_implementation_matches_mode():
    from hyperion._core import flatdb

    compiled = _core.IMPLEMENTATIONS["flatdb"]
    if os.environ.get("HYPERION_PUREPYTHON") == "1":
        assert not compiled
        assert flatdb.FlatAccountDB.__module__ == "hyperion._core.flatdb_py"
    elif os.environ.get("HYPERION_REQUIRE_COMPILED") == "1":
        assert compiled
        assert flatdb.FlatAccountDB.__module__ == "hyperion._core._flatdb"


@pytest.mark.parametrize("name", ["flatdb"])
def test_twins_expose_the_same_api(name):
    python_twin = importlib.import_module(f"hyperion._core.{name}_py")
    try:
        compiled = importlib.import_module(f"hyperion._core._{name}")
    except ImportError:
        pytest.skip(f"{name}: compiled extension not built in this environment")
    public = lambda module: {n for n in dir(module) if not n.startswith("_") and n.isupper() or n[:1].isupper()}
    assert public(python_twin) <= set(dir(compiled)) | {"Optional"}
    for cls in ("FlatAccountDB", "WriteSet"):
        py_methods = {m for m in dir(getattr(python_twin, cls)) if not m.startswith("_")}
        c_methods = {m for m in dir(getattr(compiled, cls)) if not m.startswith("_")}
        assert py_methods == c_methods, (cls, py_methods ^ c_methods)
