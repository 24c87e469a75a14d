"""The shared ethereum/tests corpus through ``hyperion fixtures``' runner (docs/design.md §13).

Compiled mode runs every file (the ones outside the subset are marked ``compiled_only``);
the pure-Python pass (``HYPERION_FIXTURE_SUBSET=1``) runs the fixed, deterministic subset
(:func:`hyperion.tools.conformance.fixtures.select_subset`).  The parallel-scheduler pass runs
the same subset, plus every file with a block of two or more transactions, with each
parallel scheduler.
"""
from __future__ import annotations

import json
import os

import pytest

from tests.conftest import fixtures_root
from hyperion.tools.conformance.fixtures import FAIL, SKIP, FixtureRunner, RunOptions, corpus_relative, discover, select_subset
from hyperion.scheduler import SCHEDULERS

ROOT = fixtures_root()
SUBSET_ONLY = os.environ.get("HYPERION_FIXTURE_SUBSET", "") not in ("", "0")
SUITES = [ROOT / "BlockchainTests", ROOT / "GeneralStateTests"]

#: The very slow files, moved out of CI into the documented long run (docs/design.md §13;
#: ``python tests/run.py --long``).  Measured with the compiled extension, one core of
#: the shared 2-core machine; every other file of the corpus takes under 25 s.  They are
#: slow in py-evm's interpreter or in pure-Python precompiles, not in Hyperion's layers.
LONG_RUN = {
    "GeneralStateTests/VMTests/vmPerformance/loopMul.json": "22 million MUL loop iterations (minutes)",
    "GeneralStateTests/stTimeConsuming/CALLBlake2f_MaxRounds.json": "2**32-1 BLAKE2 rounds (~2.5 min with blake2b-py)",
    "GeneralStateTests/stZeroKnowledge/ecpairing_inputs.json": "py_ecc pairings (~50 s)",
    "GeneralStateTests/stStaticCall/static_Call50000.json": "50,000 calls per entry (~45 s)",
    "GeneralStateTests/stStaticCall/static_Call50000_rip160.json": "50,000 calls per entry (~35 s)",
    "GeneralStateTests/stStaticCall/static_Call50000_identity.json": "50,000 calls per entry (~35 s)",
    "GeneralStateTests/stStaticCall/static_LoopCallsThenRevert.json": "deep call loops (~30 s)",
}


def _corpus():
    suites = [path for path in SUITES if path.is_dir()]
    if not suites:
        return [], set()
    files = [path for path in discover(suites)]
    quick = [path for path in files if corpus_relative(path) not in LONG_RUN]
    return files, set(select_subset(quick))


FILES, SUBSET = _corpus()


def _params():
    params = []
    for path in FILES:
        in_subset = path in SUBSET
        if SUBSET_ONLY and not in_subset:
            continue
        if corpus_relative(path) in LONG_RUN:
            marks = (pytest.mark.compiled_only, pytest.mark.long_run)
        else:
            marks = () if in_subset else (pytest.mark.compiled_only,)
        params.append(pytest.param(path, id=corpus_relative(path), marks=marks))
    if not params:
        params.append(pytest.param(None, id="no-fixtures",
                                   marks=pytest.mark.skip(reason=f"no ethereum/tests fixtures under {ROOT}")))
    return params


def _check(result) -> None:
    failures = [c for c in result.cases if c.status == FAIL]
    if failures:
        shown = "\n".join(f"{c.id}\n    {c.describe()}" for c in failures[:10])
        more = f"\n... and {len(failures) - 10} more" if len(failures) > 10 else ""
        pytest.fail(f"{len(failures)} of {len(result.cases)} cases fail:\n{shown}{more}", pytrace=False)


@pytest.mark.parametrize("path", _params())
def test_fixture_file(path):
    result = FixtureRunner(RunOptions()).run_file(path)
    assert result.cases, f"{path} holds no test"
    _check(result)
    if all(c.status == SKIP for c in result.cases):
        pytest.skip("; ".join(sorted({c.reason for c in result.cases})))


def test_the_subset_is_fixed_and_covers_every_family():
    if not FILES:
        pytest.skip(f"no ethereum/tests fixtures under {ROOT}")
    assert select_subset(FILES) == select_subset(list(reversed(FILES)))
    directories = {path.parent for path in FILES if corpus_relative(path) not in LONG_RUN}
    assert directories == {path.parent for path in SUBSET}
    assert not any(corpus_relative(path) in LONG_RUN for path in SUBSET)
    assert len(SUBSET) < len(FILES) / 4


def _multi_transaction_files():
    """The BlockchainTests files with a block of two or more transactions (the blocks a
    parallel scheduler really runs in parallel, see hyperion.tools.conformance.CHECKING_MIN_TXS)."""
    out = []
    for path in FILES:
        if "BlockchainTests" not in path.parts or corpus_relative(path) in LONG_RUN:
            continue
        with open(path) as handle:
            tests = json.load(handle)
        if any(len(block.get("transactions", ())) >= 2
               for test in tests.values() if isinstance(test, dict) for block in test.get("blocks", ())):
            out.append(path)
    return out


@pytest.mark.parametrize("scheduler", [s for s in SCHEDULERS if s != "sequential"])
def test_fixtures_with_parallel_scheduler(scheduler):
    """The subset plus every file with multi-transaction blocks, on 2 worker processes."""
    if not FILES:
        pytest.skip(f"no ethereum/tests fixtures under {ROOT}")
    paths = sorted(set(SUBSET) | set(_multi_transaction_files()))
    failures = []
    with FixtureRunner(RunOptions(scheduler=scheduler, workers=2)) as runner:
        for path in paths:
            result = runner.run_file(path)
            failures += [f"{c.id}: {c.describe()}" for c in result.cases if c.status == FAIL]
        parallel_blocks = runner.scheduler.parallel_blocks
    assert not failures, f"{len(failures)} cases fail with {scheduler}:\n" + "\n".join(failures[:20])
    # counted by the scheduler only for blocks its workers finished without any fallback
    assert parallel_blocks > 0, "no block was finished by the workers without a fallback"
