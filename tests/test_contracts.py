"""The checked-in contract artifacts (hyperion/contracts/*.json) are what contracts/*.vy compile to.

Users never need a compiler, so the artifacts are committed; this test recompiles every
source with vyper 0.4.3 (the ``test`` extra installs it) and fails if an artifact is stale.
"""
from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

from hyperion import BlockEnv, ChainConfig, Engine, TxStatus
from hyperion.tools import workloads
from hyperion.genesis import system_contracts_alloc

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "contracts").glob("*.vy"))
ARTIFACTS = ROOT / "hyperion" / "contracts"


def _build_module():
    spec = importlib.util.spec_from_file_location("contracts_build", ROOT / "contracts" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_is_one_artifact_per_source():
    artifacts = {p.stem for p in ARTIFACTS.glob("*.json")} - {"system_contracts"}
    assert SOURCES and artifacts == {p.stem for p in SOURCES}


@pytest.mark.compiled_only  # mode independent: once per CI run is enough
@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_artifact_matches_the_source_compiled_with_vyper_0_4_3(source):
    import vyper  # the test extra installs vyper==0.4.3

    assert vyper.__version__.startswith("0.4.3"), f"artifacts are built with vyper 0.4.3, found {vyper.__version__}"
    fresh = _build_module().compile_source(source)
    stored = json.loads((ARTIFACTS / f"{source.stem}.json").read_text())
    for key in ("source", "compiler", "bytecode", "runtime", "abi", "storage_layout"):
        assert stored[key] == fresh[key], f"{source.name}: {key} is stale; run python contracts/build.py"


def test_token_genesis_storage_is_what_the_constructor_writes():
    """workloads.genesis_alloc writes the token's storage directly; it must equal a real deployment."""
    deployer = workloads.wallet(0)
    supply = 10**24
    config = ChainConfig.single_fork("prague")
    with Engine.in_memory(chain_config=config) as engine:
        engine.init_genesis({"0x" + deployer.address.hex(): {"balance": hex(10**20)}} | system_contracts_alloc())
        tx = workloads.sign_tx(deployer, 0, None, data=workloads.token_init_code(supply), gas=3_000_000, chain_id=1)
        result = engine.execute(BlockEnv(number=1, timestamp=12, base_fee=10**9), [tx])
        (receipt,) = result.tx_results
        assert receipt.status is TxStatus.SUCCESS, receipt.error
        token = receipt.contract_address
        assert engine.get_code(token, at=result) == workloads.token_runtime()
        written = result.diff.storage[token]
    expected = {int(k, 16): int(v, 16) for k, v in workloads.token_genesis_storage([deployer.address], supply).items()}
    assert written == expected
