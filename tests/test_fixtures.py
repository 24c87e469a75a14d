"""The shared ethereum/tests corpus through ``hyperion fixtures``' runner (DECISIONS 11).

Compiled mode runs every file (the ones outside the subset are marked ``compiled_only``);
the pure-Python pass (``HYPERION_FIXTURE_SUBSET=1``) runs the fixed, deterministic subset
(:func:`hyperion.conformance.fixtures.select_subset`).  The parallel-scheduler pass runs
the same subset with each non-sequential scheduler, once it can be built.
"""
from __future__ import annotations

import os

import pytest

from conftest import fixtures_root
from hyperion.conformance.fixtures import FAIL, SKIP, FixtureRunner, RunOptions, corpus_relative, discover, select_subset
from hyperion.scheduler import SCHEDULERS, make_scheduler

ROOT = fixtures_root()
SUBSET_ONLY = os.environ.get("HYPERION_FIXTURE_SUBSET", "") not in ("", "0")
SUITES = [ROOT / "BlockchainTests", ROOT / "GeneralStateTests"]


def _corpus():
    suites = [path for path in SUITES if path.is_dir()]
    if not suites:
        return [], set()
    files = discover(suites)
    return files, set(select_subset(files))


FILES, SUBSET = _corpus()


def _params():
    params = []
    for path in FILES:
        in_subset = path in SUBSET
        if SUBSET_ONLY and not in_subset:
            continue
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
    directories = {path.parent for path in FILES}
    assert directories == {path.parent for path in SUBSET}
    assert len(SUBSET) < len(FILES) / 4


@pytest.mark.parametrize("scheduler", [s for s in SCHEDULERS if s != "sequential"])
def test_fixture_subset_with_parallel_scheduler(scheduler):
    try:
        make_scheduler(scheduler, 2).close()
    except ValueError as exc:
        pytest.skip(f"the {scheduler} scheduler cannot be built yet: {exc}")
    if not FILES:
        pytest.skip(f"no ethereum/tests fixtures under {ROOT}")
    runner = FixtureRunner(RunOptions(scheduler=scheduler, workers=2))
    failures = []
    for path in sorted(SUBSET):
        result = runner.run_file(path)
        failures += [f"{c.id}: {c.describe()}" for c in result.cases if c.status == FAIL]
    assert not failures, f"{len(failures)} cases fail with {scheduler}:\n" + "\n".join(failures[:20])
