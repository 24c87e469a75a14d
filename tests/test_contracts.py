"""The checked-in contract artifacts (hyperion/contracts/*.json) match their Vyper sources.

Users never need a compiler; this test (which does) fails when a source under contracts/
was edited without running ``python contracts/build.py``.
"""
import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

SOURCES = sorted((ROOT / "contracts").glob("*.vy"))


def _build_module():
    spec = importlib.util.spec_from_file_location("contracts_build", ROOT / "contracts" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.compiled_only  # mode independent: once per CI run is enough
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_artifact_matches_source(source):
    pytest.importorskip("vyper", reason="vyper==0.4.3 (the test extra) compiles the example contracts")
    artifact_path = ROOT / "hyperion" / "contracts" / f"{source.stem}.json"
    assert artifact_path.exists(), f"no artifact for {source.name}: run python contracts/build.py"
    built = _build_module().compile_source(source)
    stored = json.loads(artifact_path.read_text())
    assert stored == built, f"{artifact_path.name} is stale: run python contracts/build.py"
