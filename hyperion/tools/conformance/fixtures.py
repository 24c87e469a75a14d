"""Run ethereum/tests ``BlockchainTests`` and ``GeneralStateTests`` through Hyperion's engine.

Every case runs on an :meth:`Engine.in_memory <hyperion.engine.Engine.in_memory>` store with
``ChainConfig.single_fork(fork, chain_id)`` and the fixture's ``pre`` as genesis, exactly as
any other chain would — never through stock py-evm.  This module finds the fixture files and
runs them; what each suite executes and checks is in
:mod:`~hyperion.tools.conformance.state_tests` and
:mod:`~hyperion.tools.conformance.blockchain_tests`, the options and results in
:mod:`~hyperion.tools.conformance.report`, and what is skipped, and why, in
:mod:`hyperion.tools.conformance.skips` only.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence

from hyperion.chain import ChainConfig
from hyperion.engine import Engine
from hyperion.tools.conformance import WorkerStart, checking_scheduler
from hyperion.tools.conformance.blockchain_tests import network_config, run_blockchain_test
from hyperion.tools.conformance.fixture_json import FixtureFormatError
from hyperion.tools.conformance.report import (
    BLOCKCHAIN,
    FAIL,
    PASS,
    SKIP,
    STATE,
    SUITE_NAMES,
    CaseResult,
    Difference,
    FileResult,
    Report,
    RunOptions,
    case_id,
    first_alloc_difference,
)
from hyperion.tools.conformance.state_tests import diagnose_state_entry, run_state_test, state_test_env

#: what ``hyperion fixtures`` and the tests import from here; most of it is defined in the
#: modules above and re-exported, so callers need not know the split
__all__ = [
    "BLOCKCHAIN", "FAIL", "PASS", "SKIP", "STATE", "SUITE_NAMES", "SUBSET_MODULUS",
    "CaseResult", "Difference", "FileResult", "FixtureRunner", "Report", "RunOptions",
    "case_id", "classify", "corpus_relative", "diagnose_state_entry", "discover", "first_alloc_difference",
    "network_config", "run_paths", "select_subset", "state_test_env",
]

#: pure-Python CI pass: one file in SUBSET_MODULUS (by a hash of its path), plus the first
#: file of every directory, so every family is touched (docs/design.md §13)
SUBSET_MODULUS = 12


# -- discovery -----------------------------------------------------------------------------
def discover(paths: Iterable[os.PathLike]) -> List[Path]:
    """Every ``*.json`` under ``paths`` (files or directories), sorted, hidden ones excluded."""
    found: List[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".json") and not f.startswith("."))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such fixture file or directory: {path}")
    unique = sorted(set(found))
    return unique


def corpus_relative(path: Path) -> str:
    """The path from the suite directory on (``GeneralStateTests/stExample/add11.json``), so
    ids and the subset do not depend on where the corpus is checked out."""
    parts = path.resolve().parts
    for i, part in enumerate(parts):
        if part in ("GeneralStateTests", "BlockchainTests", "state_tests", "blockchain_tests"):
            return "/".join(parts[i:])
    return path.name


def select_subset(files: Sequence[Path], modulus: int = SUBSET_MODULUS) -> List[Path]:
    """A fixed, deterministic part of the corpus (pure-Python CI): every file whose path
    hashes to 0 mod ``modulus``, plus the first file of each directory."""
    chosen = []
    first_in_dir = set()
    seen_dirs = set()
    for path in sorted(files):
        if path.parent not in seen_dirs:
            seen_dirs.add(path.parent)
            first_in_dir.add(path)
    for path in sorted(files):
        digest = hashlib.sha256(corpus_relative(path).encode()).digest()
        if path in first_in_dir or int.from_bytes(digest[:8], "big") % modulus == 0:
            chosen.append(path)
    return chosen


def classify(test: Mapping[str, Any]) -> Optional[str]:
    if not isinstance(test, Mapping):
        return None
    if "blocks" in test or "engineNewPayloads" in test:
        return BLOCKCHAIN
    if "transaction" in test and "post" in test and "env" in test:
        return STATE
    return None


# -- the runner ------------------------------------------------------------------------------
class FixtureRunner:
    """Runs fixture files; every case gets a fresh in-memory engine, and all of them share one
    scheduler (a parallel one keeps its worker processes for the whole run).  Close it, or use
    it as a context manager."""

    def __init__(self, options: Optional[RunOptions] = None) -> None:
        self.options = options or RunOptions()
        #: ``ValueError`` here if the scheduler cannot be built
        self.scheduler = checking_scheduler(self.options.scheduler, self.options.workers)
        # parallel workers boot while the first fixture file is read and parsed
        self._starting = WorkerStart(self.scheduler)

    def new_engine(self, config: ChainConfig) -> Engine:
        return Engine.in_memory(chain_config=config, scheduler=self._starting.wait())

    def close(self) -> None:
        self._starting.close()

    def __enter__(self) -> "FixtureRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- files -------------------------------------------------------------------------
    def run_file(self, path: Path, display: Optional[str] = None) -> FileResult:
        started = time.perf_counter()
        display = display or corpus_relative(path)
        result = FileResult(path=display, suite=None)
        try:
            with open(path) as handle:
                data = json.load(handle)
            if not isinstance(data, dict):
                raise FixtureFormatError("a fixture file is an object of test name -> test")
        except (OSError, ValueError) as exc:
            result.cases.append(CaseResult(display, "?", "<file>", "?", None, FAIL, reason=f"cannot read: {exc}"))
            return result
        for name, test in data.items():
            kind = classify(test)
            if kind is None:
                if name.startswith("_"):
                    continue
                result.cases.append(CaseResult(display, "?", name, "?", None, FAIL,
                                               reason="not a BlockchainTests or GeneralStateTests fixture"))
                continue
            result.suite = result.suite or kind
            if kind == STATE:
                result.cases.extend(self.run_state_test(display, name, test))
            else:
                case = self.run_blockchain_test(display, name, test)
                if case is not None:
                    result.cases.append(case)
        result.seconds = time.perf_counter() - started
        return result

    # -- the two suites (state_tests.py, blockchain_tests.py) -------------------------------
    def run_state_test(self, file: str, name: str, test: Mapping[str, Any]) -> List[CaseResult]:
        return run_state_test(self, file, name, test)

    def run_blockchain_test(self, file: str, name: str, test: Mapping[str, Any]) -> Optional[CaseResult]:
        return run_blockchain_test(self, file, name, test)


def run_paths(paths: Iterable[os.PathLike], options: Optional[RunOptions] = None,
              on_file: Optional[Callable[[FileResult, int, int], None]] = None,
              subset: bool = False) -> Report:
    """Run every fixture file under ``paths``; ``on_file(result, done, total)`` after each."""
    options = options or RunOptions()
    files = discover(paths)
    if subset:
        files = select_subset(files)
    report = Report(options=options)
    started = time.perf_counter()
    with FixtureRunner(options) as runner:
        for done, path in enumerate(files, 1):
            result = runner.run_file(path)
            report.files.append(result)
            if on_file is not None:
                on_file(result, done, len(files))
    report.seconds = time.perf_counter() - started
    return report
