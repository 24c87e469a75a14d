"""Shared test configuration: hypothesis profiles, fixture locations, engine factories."""
from __future__ import annotations

import os
import pathlib

import pytest
from hypothesis import HealthCheck, Phase, settings

ROOT = pathlib.Path(__file__).resolve().parent.parent

# CI: fixed example counts, derandomized (docs/design.md §13).  Locally: HYPOTHESIS_PROFILE=dev.
settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
# Fast triage of a failure: no shrinking, first failure only.
settings.register_profile(
    "debug", max_examples=25, derandomize=True, deadline=None, print_blob=True, report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PURE_PYTHON = os.environ.get("HYPERION_PUREPYTHON", "") not in ("", "0")


def fixtures_root() -> pathlib.Path:
    """The ethereum/tests fixtures: $HYPERION_FIXTURES, else ../shared/fixtures/ethereum-tests
    (the nearest ``shared`` beside the clone or beside one of its parents, so a git worktree
    under ``wt/`` finds the same corpus as the clone)."""
    configured = os.environ.get("HYPERION_FIXTURES")
    if configured:
        return pathlib.Path(configured)
    default = ROOT.parent / "shared" / "fixtures" / "ethereum-tests"
    for parent in ROOT.parents:
        candidate = parent / "shared" / "fixtures" / "ethereum-tests"
        if candidate.is_dir():
            return candidate
    return default


@pytest.fixture
def memory_engine():
    from hyperion import ChainConfig, Engine

    engine = Engine.in_memory(chain_config=ChainConfig())
    yield engine
    engine.close()


@pytest.fixture
def lmdb_engine(tmp_path):
    from hyperion import ChainConfig, Engine

    engine = Engine.open(str(tmp_path / "data"), chain_config=ChainConfig())
    yield engine
    engine.close()


def pytest_sessionfinish(session, exitstatus):
    """With HYPERION_OPCODE_COVERAGE=<file>: which opcodes the compiled interpreter ran in
    this session, and which it handed to py-evm (docs/interpreter.md)."""
    target = os.environ.get("HYPERION_OPCODE_COVERAGE")
    if not target:
        return
    from hyperion.evm.interpreter import coverage_report

    pathlib.Path(target).write_text(coverage_report())
