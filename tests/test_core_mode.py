"""The compiled/pure-Python switch (hyperion.native): each native module loads the
implementation the mode asks for."""
import importlib
import os

import pytest

from hyperion import native

#: (short name, chooser module, package of the pair, an attribute both implementations define)
NATIVE_MODULES = [
    ("mpt", "hyperion.state.trie.mpt", "hyperion.state.trie", "update_trie"),
    ("flatdb", "hyperion.evm.accountdb", "hyperion.evm.accountdb", "FlatAccountDB"),
    ("mvmemory", "hyperion.scheduler.blockstm.mvmemory", "hyperion.scheduler.blockstm", "MVMemory"),
    ("shared", "hyperion.scheduler.blockstm.shared", "hyperion.scheduler.blockstm", "SharedScheduler"),
]


@pytest.mark.parametrize("name, chooser, package, attr", NATIVE_MODULES)
def test_implementation_matches_mode(name, chooser, package, attr):
    module = importlib.import_module(chooser)
    compiled = native.IMPLEMENTATIONS[name]
    if os.environ.get("HYPERION_PUREPYTHON") == "1":
        assert not compiled
        expected = importlib.import_module(f"{package}.{name}_py")
    elif os.environ.get("HYPERION_REQUIRE_COMPILED") == "1":
        assert compiled
        expected = importlib.import_module(f"{package}._{name}")
    else:
        pytest.skip("neither HYPERION_PUREPYTHON nor HYPERION_REQUIRE_COMPILED is set: no mode to check")
    assert getattr(module, attr) is getattr(expected, attr)


def test_twins_expose_the_same_api():
    python_twin = importlib.import_module("hyperion.evm.accountdb.flatdb_py")
    try:
        compiled = importlib.import_module("hyperion.evm.accountdb._flatdb")
    except ImportError:
        pytest.skip("flatdb: compiled extension not built in this environment")
    public = lambda module: {n for n in dir(module) if not n.startswith("_") and n.isupper() or n[:1].isupper()}
    assert public(python_twin) <= set(dir(compiled)) | {"Optional"}
    for cls in ("FlatAccountDB", "WriteSet"):
        py_methods = {m for m in dir(getattr(python_twin, cls)) if not m.startswith("_")}
        c_methods = {m for m in dir(getattr(compiled, cls)) if not m.startswith("_")}
        assert py_methods == c_methods, (cls, py_methods ^ c_methods)
