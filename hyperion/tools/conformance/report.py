"""What a fixture run is asked for and what it produces: options, per-case and per-file
results, the first difference found, and the report ``hyperion fixtures`` prints or writes."""
from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional

from hyperion.errors import HyperionError
from hyperion.evm.forks import canonical_fork_name
from hyperion.tools.conformance import skips
from hyperion.tools.conformance.fixture_json import hex_bytes, hex_int

STATE = "state"
BLOCKCHAIN = "blockchain"
SUITE_NAMES = {STATE: "GeneralStateTests", BLOCKCHAIN: "BlockchainTests"}

PASS, FAIL, SKIP = "pass", "fail", "skip"


# -- results -----------------------------------------------------------------------------
@dataclass
class Difference:
    """The first place Hyperion's answer differs from the fixture's."""

    where: str
    field: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field} expected {self.expected}, got {self.got}"


@dataclass
class CaseResult:
    file: str
    suite: str
    name: str
    fork: str
    index: Optional[int]
    status: str
    reason: Optional[str] = None
    difference: Optional[Difference] = None
    notes: List[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def id(self) -> str:
        return case_id(self.file, self.name, self.fork, self.index)

    def describe(self) -> str:
        text = self.reason or ""
        if self.difference is not None:
            text = f"{text}: {self.difference}" if text else str(self.difference)
        return text

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["id"] = self.id
        return data


@dataclass
class FileResult:
    path: str
    suite: Optional[str]
    cases: List[CaseResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for c in self.cases if c.status == status)

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.cases)


def case_id(file: str, name: str, fork: str, index: Optional[int]) -> str:
    suffix = f"[{fork}]" if index is None else f"[{fork}-{index}]"
    return f"{file}::{name}{suffix}"


@dataclass
class RunOptions:
    scheduler: str = "sequential"
    workers: Optional[int] = None
    #: canonical fork names to run (None = all)
    forks: Optional[frozenset] = None
    #: ``-k``: a substring (or glob) of the case id
    pattern: Optional[str] = None
    #: on a state-root mismatch, ask the execution specs for the expected post-state to
    #: name the first differing account (needs ``ethereum-execution``)
    diagnose: bool = True
    chain_id: int = 1

    def wants_fork(self, label: str) -> bool:
        if self.forks is None:
            return True
        transition = skips.parse_transition(label)
        labels = (transition[0], transition[1]) if transition else (label,)
        for name in labels:
            try:
                if canonical_fork_name(name) in self.forks:
                    return True
            except HyperionError:
                if name.lower() in self.forks:
                    return True
        return False

    def wants(self, ident: str) -> bool:
        if not self.pattern:
            return True
        pattern = self.pattern
        if pattern.lower() in ident.lower():
            return True
        if any(ch in pattern for ch in "*?"):  # a glob; brackets stay literal (ids hold "[fork-i]")
            glob = pattern.replace("[", "[[]")
            return fnmatch.fnmatchcase(ident, glob) or fnmatch.fnmatchcase(ident, f"*{glob}*")
        return False


# -- comparing post-states ------------------------------------------------------------------
def first_alloc_difference(expected: Mapping[bytes, Mapping[str, Any]], got: Mapping[bytes, Mapping[str, Any]]
                           ) -> Optional[Difference]:
    """First difference between two normalized allocs (account, field, expected, got)."""
    for address in sorted(set(expected) | set(got)):
        where = f"account {hex_bytes(address)}"
        want, have = expected.get(address), got.get(address)
        if want is None:
            return Difference(where, "existence", "absent", _describe_account(have))
        if have is None:
            return Difference(where, "existence", _describe_account(want), "absent")
        for name in ("nonce", "balance"):
            if want[name] != have[name]:
                return Difference(where, name, hex_int(want[name]), hex_int(have[name]))
        if want["code"] != have["code"]:
            return Difference(where, "code", _short(want["code"]), _short(have["code"]))
        slots_w, slots_h = want["storage"], have["storage"]
        for slot in sorted(set(slots_w) | set(slots_h)):
            if slots_w.get(slot, 0) != slots_h.get(slot, 0):
                return Difference(where, f"storage[{hex_int(slot)}]", hex_int(slots_w.get(slot, 0)),
                                  hex_int(slots_h.get(slot, 0)))
    return None


def _short(code: bytes) -> str:
    text = hex_bytes(code)
    return text if len(text) <= 42 else f"{text[:42]}... ({len(code)} bytes)"


def _describe_account(account: Mapping[str, Any]) -> str:
    return (f"nonce {account['nonce']}, balance {hex_int(account['balance'])}, {len(account['code'])} code bytes, "
            f"{len(account['storage'])} slots")


# -- the whole run ------------------------------------------------------------------------------
@dataclass
class Report:
    files: List[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    options: Optional[RunOptions] = None

    def cases(self) -> Iterator[CaseResult]:
        for file in self.files:
            yield from file.cases

    def totals(self) -> Dict[str, int]:
        totals = {PASS: 0, FAIL: 0, SKIP: 0}
        for case in self.cases():
            totals[case.status] += 1
        return totals

    def by_suite_and_fork(self) -> Dict[str, Dict[str, Dict[str, int]]]:
        table: Dict[str, Dict[str, Dict[str, int]]] = {}
        for case in self.cases():
            suite = SUITE_NAMES.get(case.suite, case.suite)
            row = table.setdefault(suite, {}).setdefault(case.fork, {PASS: 0, FAIL: 0, SKIP: 0})
            row[case.status] += 1
        return table

    def skip_reasons(self) -> Dict[str, int]:
        reasons: Dict[str, int] = {}
        for case in self.cases():
            if case.status == SKIP:
                reasons[case.reason or "?"] = reasons.get(case.reason or "?", 0) + 1
        return reasons

    @property
    def ok(self) -> bool:
        return not any(case.status == FAIL for case in self.cases())

    def to_json(self) -> Dict[str, Any]:
        return {
            "summary": self.totals(),
            "seconds": round(self.seconds, 3),
            "scheduler": self.options.scheduler if self.options else "sequential",
            "by_suite_and_fork": self.by_suite_and_fork(),
            "skip_reasons": self.skip_reasons(),
            "skip_rules": {rule.name: rule.reason for rule in skips.RULES},
            "files": [
                {"path": f.path, "suite": SUITE_NAMES.get(f.suite or "", f.suite), "seconds": round(f.seconds, 3),
                 "pass": f.count(PASS), "fail": f.count(FAIL), "skip": f.count(SKIP),
                 "cases": [c.to_json() for c in f.cases]}
                for f in self.files
            ],
        }

