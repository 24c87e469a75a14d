"""Run ethereum/tests ``BlockchainTests`` and ``GeneralStateTests`` through Hyperion's engine.

Every case runs on an :meth:`Engine.in_memory <hyperion.engine.Engine.in_memory>` store with
``ChainConfig.single_fork(fork, chain_id)`` and the fixture's ``pre`` as genesis, exactly as
any other chain would — never through stock py-evm.

**State tests** (``GeneralStateTests``): for each post entry of each fork Hyperion supports,
the entry's transaction runs as block ``currentNumber`` the way the execution specs'
``run_state_test`` applies it (no system calls, no withdrawals, no block reward).  Checked:
the state root (``hash``), the logs hash (``logs`` = keccak(rlp(logs))) and validity — an
entry with ``expectException`` must be reported invalid (and then the state is unchanged),
any other entry must be included.  One engine serves all entries of a (test, fork): each
entry is a pending block on the same genesis, discarded after the comparison.

**Blockchain tests** (``BlockchainTests``): every block is decoded from its RLP, its header
checked against its parent (:mod:`hyperion.tools.conformance.rules`), its transactions executed
on its parent (a pending block, so forks of the chain work) and the header's ``stateRoot``,
``receiptTrie``, ``transactionsTrie``, ``gasUsed``, ``bloom``, blob gas, withdrawals root and
requests hash compared with what Hyperion computed, then its hash with the block hash
Hyperion implies.  Blocks with ``expectException`` must be rejected.  The canonical chain
(``lastblockhash``) is committed to the store and the store's state is compared with
``postState`` (account by account) or ``postStateHash``.

What is skipped, and why, lives in :mod:`hyperion.tools.conformance.skips` only.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

from hyperion.chain import ChainConfig, ForkActivation
from hyperion.tools.conformance import checking_scheduler, rules, skips
from hyperion.tools.conformance.fixture_json import (
    HEADER_FIELDS,
    FixtureFormatError,
    Header,
    apply_diff,
    block_from_rlp,
    encode_signed,
    genesis_alloc,
    header_from_json,
    hex_bytes,
    hex_int,
    logs_hash,
    normalize_alloc,
    sign,
    state_test_tx,
    to_address,
    to_bytes,
    to_hash,
    to_int,
)
from hyperion.engine import Engine
from hyperion.errors import HyperionError, InvalidBlockError
from hyperion.evm.forks import Fork, canonical_fork_name, get_fork
from hyperion.evm.header import header_fields
from hyperion.types import BlockEnv, BlockResult, Ommer, TxStatus, ZERO_HASH

STATE = "state"
BLOCKCHAIN = "blockchain"
SUITE_NAMES = {STATE: "GeneralStateTests", BLOCKCHAIN: "BlockchainTests"}

PASS, FAIL, SKIP = "pass", "fail", "skip"

#: pure-Python CI pass: one file in SUBSET_MODULUS (by a hash of its path), plus the first
#: file of every directory, so every family is touched (docs/design.md §13)
SUBSET_MODULUS = 12


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

    def new_engine(self, config: ChainConfig) -> Engine:
        return Engine.in_memory(chain_config=config, scheduler=self.scheduler)

    def close(self) -> None:
        self.scheduler.close()

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

    # -- GeneralStateTests -------------------------------------------------------------
    def run_state_test(self, file: str, name: str, test: Mapping[str, Any]) -> List[CaseResult]:
        results: List[CaseResult] = []
        options = self.options
        prepared = None
        for label, entries in test["post"].items():
            if not options.wants_fork(label):
                continue
            wanted = [(i, e) for i, e in enumerate(entries) if options.wants(case_id(file, name, label, i))]
            if not wanted:
                continue
            rule = skips.fork_skip(label)
            if rule is not None:
                results.extend(CaseResult(file, STATE, name, label, i, SKIP, reason=rule.reason) for i, _ in wanted)
                continue
            try:
                if prepared is None:
                    prepared = normalize_alloc(test["pre"])
                results.extend(self._run_state_fork(file, name, test, label, wanted, prepared))
            except Exception as exc:  # any failure to run a case is that case's failure, never a crash
                results.extend(
                    CaseResult(file, STATE, name, label, i, FAIL, reason=f"could not run: {type(exc).__name__}: {exc}")
                    for i, _ in wanted
                )
        return results

    def _run_state_fork(self, file, name, test, label, wanted, pre) -> List[CaseResult]:
        fork = get_fork(label)
        chain_id = to_int(test.get("config", {}).get("chainid", self.options.chain_id))
        env_json = test["env"]
        env = state_test_env(fork, env_json)
        engine = self.new_engine(ChainConfig.single_fork(label, chain_id=chain_id))
        results = []
        try:
            engine.init_genesis(genesis_alloc(pre), number=env.number - 1, timestamp=max(env.timestamp - 1, 0),
                                gas_limit=env.gas_limit)
            for index, entry in wanted:
                started = time.perf_counter()
                case = CaseResult(file, STATE, name, label, index, PASS)
                try:
                    self._check_state_entry(case, engine, fork, chain_id, env, test, entry, pre)
                except Exception as exc:  # any failure to run a case is that case's failure, never a crash
                    case.status = FAIL
                    case.reason = f"could not run: {type(exc).__name__}: {exc}"
                case.seconds = time.perf_counter() - started
                results.append(case)
        finally:
            engine.close()
        return results

    def _check_state_entry(self, case, engine, fork, chain_id, env, test, entry, pre) -> None:
        if entry.get("txbytes"):
            tx = to_bytes(entry["txbytes"], "txbytes")
        else:
            json_tx = state_test_tx(test["transaction"], entry["indexes"])
            tx = encode_signed(sign(json_tx, chain_id, fork), chain_id)
        try:
            result = engine.execute(env, [tx])
        except InvalidBlockError as exc:  # cannot happen without system calls; report it if it does
            case.status, case.reason = FAIL, f"block exception: {exc}"
            return
        try:
            tx_result = result.tx_results[0]
            expected_invalid = entry.get("expectException")
            invalid = tx_result.status is TxStatus.INVALID
            if expected_invalid and not invalid:
                case.status, case.reason = FAIL, "transaction accepted"
                case.difference = Difference("transaction 0", "validity", f"invalid ({expected_invalid})",
                                             f"included ({tx_result.status.value})")
                return
            if invalid and not expected_invalid:
                case.status, case.reason = FAIL, "transaction rejected"
                case.difference = Difference("transaction 0", "validity", "included", f"invalid: {tx_result.error}")
                return
            if invalid and result.state_root != result.parent_state_root:
                case.status = FAIL
                case.difference = Difference("state", "invalid transaction changed the state", "no change",
                                             hex_bytes(result.state_root))
                return
            expected_root = to_hash(entry["hash"], "hash")
            if result.state_root != expected_root:
                case.status = FAIL
                case.difference = Difference("state", "stateRoot", hex_bytes(expected_root), hex_bytes(result.state_root))
                if isinstance(entry.get("state"), dict):  # execution-spec-tests fixtures carry the post-state
                    detail = first_alloc_difference(normalize_alloc(entry["state"]), apply_diff(pre, result.diff))
                    case.reason = "state root mismatch; first difference from the fixture's post-state"
                    case.difference = detail or case.difference
                elif self.options.diagnose:
                    detail = diagnose_state_entry(fork, env, test, entry, pre, result)
                    if detail is not None:
                        case.reason = "state root mismatch; first difference from the execution specs' post-state"
                        case.difference = detail
                    else:
                        case.reason = "state root mismatch"
                else:
                    case.reason = "state root mismatch"
                return
            expected_logs = to_hash(entry["logs"], "logs")
            got_logs = logs_hash(tx_result.logs)
            if got_logs != expected_logs:
                case.status, case.reason = FAIL, "logs hash mismatch"
                case.difference = Difference("transaction 0", "logs hash", hex_bytes(expected_logs), hex_bytes(got_logs))
        finally:
            engine.discard(result)

    # -- BlockchainTests ---------------------------------------------------------------
    def run_blockchain_test(self, file: str, name: str, test: Mapping[str, Any]) -> Optional[CaseResult]:
        options = self.options
        label = str(test.get("network") or test.get("config", {}).get("network") or "?")
        if not options.wants_fork(label) or not options.wants(case_id(file, name, label, None)):
            return None
        case = CaseResult(file, BLOCKCHAIN, name, label, None, PASS)
        rule = skips.format_skip(test) or skips.fork_skip(label)
        if rule is not None:
            case.status, case.reason = SKIP, rule.reason
            return case
        started = time.perf_counter()
        try:
            _BlockchainRun(self, test, label, case).run()
        except Exception as exc:  # any failure to run a case is that case's failure, never a crash
            case.status, case.reason, case.difference = FAIL, f"could not run: {type(exc).__name__}: {exc}", None
        case.seconds = time.perf_counter() - started
        return case


# -- state tests: environment and diagnosis --------------------------------------------------
def state_test_env(fork: Fork, env: Mapping[str, Any]) -> BlockEnv:
    """The block a state test's transaction runs in (execution specs ``run_state_test``).

    BLOCKHASH: the specs' runner knows only ``previousHash`` (as block ``number - 1``) and
    every other hash is zero; Hyperion is given exactly that, so its own genesis hash never
    leaks into a test.
    """
    number = to_int(env["currentNumber"], "currentNumber")
    known = {}
    if env.get("previousHash"):
        known[number - 1] = to_hash(env["previousHash"], "previousHash")
    block_hashes = {n: known.get(n, ZERO_HASH) for n in range(max(number - 256, 0), number)}
    return BlockEnv(
        number=number,
        timestamp=to_int(env["currentTimestamp"], "currentTimestamp"),
        coinbase=to_address(env["currentCoinbase"], "currentCoinbase"),
        gas_limit=to_int(env["currentGasLimit"], "currentGasLimit"),
        base_fee=to_int(env.get("currentBaseFee", 0), "currentBaseFee") if fork.has_base_fee else None,
        prev_randao=to_hash(env.get("currentRandom") or env.get("currentDifficulty") or "0x00", "currentRandom"),
        difficulty=to_int(env.get("currentDifficulty", 0), "currentDifficulty"),
        parent_hash=known.get(number - 1, ZERO_HASH),
        block_hashes=block_hashes,
        excess_blob_gas=to_int(env.get("currentExcessBlobGas", 0), "currentExcessBlobGas") if fork.has_blobs else None,
        block_reward=-1,
        system_calls=False,
    )


def diagnose_state_entry(fork: Fork, env: BlockEnv, test, entry, pre, result: BlockResult) -> Optional[Difference]:
    """Name the first account/field where Hyperion's post-state differs from the one the
    execution specs compute for this entry (None if the specs are not installed)."""
    try:
        from hyperion.tools.conformance import oracle
    except ImportError:
        return None
    try:
        expected = oracle.spec_state_test_post(fork, test, entry)
    except Exception as exc:  # the oracle is a diagnostic aid only
        return Difference("state", "stateRoot (the execution specs could not run this entry)",
                          entry.get("hash", "?"), f"{hex_bytes(result.state_root)} ({type(exc).__name__}: {exc})")
    if expected is None:
        return None
    spec_root, spec_alloc = expected
    got = apply_diff(pre, result.diff)
    difference = first_alloc_difference(spec_alloc, got)
    if difference is None:
        return Difference("state", "stateRoot (same accounts as the execution specs)", entry.get("hash", "?"),
                          hex_bytes(result.state_root))
    if hex_bytes(spec_root) != entry.get("hash"):
        difference.where += " (the execution specs also disagree with the fixture)"
    return difference


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


# -- blockchain tests --------------------------------------------------------------------------
#: header fields whose values Hyperion is not given and cannot derive, so a block hash
#: that differs only in them is explained, not wrong
UNKNOWABLE_HEADER_FIELDS = {
    "nonce": "the proof-of-work nonce is a seal, not an execution input",
    "uncleHash": "uncle headers are not an execution input (Hyperion writes the empty ommers hash)",
}


@dataclass
class _Node:
    header: Header
    fork: Fork
    result: Optional[BlockResult]
    #: block number -> hash for this block and its ancestors (at most 256 kept)
    hashes: Dict[int, bytes]


def network_config(label: str, chain_id: int) -> ChainConfig:
    transition = skips.parse_transition(label)
    if transition is None:
        return ChainConfig.single_fork(label, chain_id=chain_id)
    first, second, kind, at = transition
    activation = (ForkActivation(canonical_fork_name(second), block=at) if kind == "block"
                  else ForkActivation(canonical_fork_name(second), block=0, timestamp=at))
    return ChainConfig(chain_id=chain_id, schedule=(ForkActivation(canonical_fork_name(first), block=0), activation),
                       system_contracts=False)


class _BlockchainRun:
    def __init__(self, runner: FixtureRunner, test: Mapping[str, Any], label: str, case: CaseResult) -> None:
        self.runner = runner
        self.test = test
        self.case = case
        chain_id = to_int(test.get("config", {}).get("chainid", runner.options.chain_id))
        self.config = network_config(label, chain_id)
        self.engine: Optional[Engine] = None

    def fail(self, reason: str, difference: Optional[Difference] = None) -> None:
        self.case.status = FAIL
        self.case.reason = reason
        self.case.difference = difference

    def run(self) -> None:
        self.engine = self.runner.new_engine(self.config)
        try:
            self._run()
        finally:
            self.engine.close()

    def _genesis_header(self) -> Header:
        test = self.test
        if test.get("genesisRLP"):
            return block_from_rlp(to_bytes(test["genesisRLP"], "genesisRLP")).header
        return header_from_json(test["genesisBlockHeader"])

    def _run(self) -> None:
        test, engine = self.test, self.engine
        genesis = self._genesis_header()
        pre = normalize_alloc(test["pre"])
        genesis_fork = self.config.fork_at(genesis["number"], genesis["timestamp"])
        head = engine.init_genesis(
            genesis_alloc(pre), number=genesis["number"], timestamp=genesis["timestamp"],
            gas_limit=genesis["gasLimit"], base_fee=genesis.get("baseFeePerGas") or 0,
            extra_data=genesis["extraData"],
        )
        if head.state_root != genesis["stateRoot"]:
            return self.fail("genesis state root differs", Difference(
                "genesis", "stateRoot", hex_bytes(genesis["stateRoot"]), hex_bytes(head.state_root)))
        nodes: Dict[bytes, _Node] = {genesis.hash: _Node(genesis, genesis_fork, None, {genesis["number"]: genesis.hash})}
        for position, block_json in enumerate(test.get("blocks", ())):
            expected_error = block_json.get("expectException") or block_json.get("expectExceptionALL")
            if expected_error is None and "blockHeader" not in block_json and "rlp_decoded" not in block_json:
                expected_error = "block without a header in the fixture (invalid)"
            problems, node = self._run_block(position, block_json, nodes)
            if expected_error:
                if not problems:
                    if node is not None and node.result is not None:
                        engine.discard(node.result)
                    return self.fail(f"block {position + 1} was accepted, the fixture expects it to be invalid "
                                     f"({expected_error})")
                self.case.notes.append(f"block {position + 1} rejected as expected ({expected_error}): {problems[0]}")
                continue
            if problems:
                first = problems[0]
                if isinstance(first, Difference):
                    return self.fail(f"block {position + 1}", first)
                return self.fail(f"block {position + 1}: {first}")
            nodes[node.header.hash] = node
        self._check_post(nodes, genesis)

    def _run_block(self, position: int, block_json: Mapping[str, Any], nodes: Dict[bytes, _Node]):
        """Execute one block; returns (problems, node) — an empty list means valid."""
        engine = self.engine
        try:
            block = block_from_rlp(to_bytes(block_json["rlp"], "rlp"))
        except (FixtureFormatError, KeyError) as exc:
            return [f"undecodable block: {exc}"], None
        header = block.header
        parent = nodes.get(header["parentHash"])
        if parent is None:
            return [f"unknown parent {hex_bytes(header['parentHash'])}"], None
        fork = self.config.fork_at(header["number"], header["timestamp"])
        problems: List[Any] = list(rules.header_problems(fork, header, parent.header, parent.fork))
        if block.uncles and fork.is_post_merge:
            problems.append("uncles after the merge")
        if fork.has_withdrawals != (block.withdrawals is not None):
            problems.append(f"withdrawals {'missing' if fork.has_withdrawals else 'not allowed'} in {fork.name}")
        if problems:
            return problems, None
        hashes = dict(parent.hashes)
        hashes[header["number"]] = header.hash
        for number in [n for n in hashes if n < header["number"] - 256]:
            del hashes[number]
        env = BlockEnv(
            number=header["number"],
            timestamp=header["timestamp"],
            coinbase=header["coinbase"],
            gas_limit=header["gasLimit"],
            base_fee=header.get("baseFeePerGas"),
            prev_randao=header["mixHash"],
            difficulty=header["difficulty"],
            parent_hash=header["parentHash"],
            block_hashes={n: h for n, h in hashes.items() if n < header["number"]},
            parent_beacon_block_root=header.get("parentBeaconBlockRoot"),
            withdrawals=tuple(block.withdrawals or ()),
            excess_blob_gas=header.get("excessBlobGas"),
            extra_data=header["extraData"],
            ommers=tuple(Ommer(header["number"] - u["number"], u["coinbase"]) for u in block.uncles),
        )
        try:
            result = engine.execute(env, block.transactions, parent=parent.result)
        except InvalidBlockError as exc:
            if exc.result is not None:
                engine_result = exc.result
                return [f"block exception: {engine_result.block_exception}"], None
            return [f"block exception: {exc}"], None
        node = _Node(header, fork, result, hashes)
        problems = self._compare_block(header, result, fork)
        if problems:
            engine.discard(result)
            return problems, None
        return [], node

    def _compare_block(self, header: Header, result: BlockResult, fork: Fork) -> List[Any]:
        problems: List[Any] = []
        for tx in result.tx_results:
            if tx.status is TxStatus.INVALID:
                problems.append(Difference(f"transaction {tx.index}", "validity", "included", f"invalid: {tx.error}"))
                return problems
        checks = [
            ("stateRoot", header["stateRoot"], result.state_root),
            ("receiptTrie", header["receiptTrie"], result.receipts_root),
            ("transactionsTrie", header["transactionsTrie"], result.transactions_root),
            ("gasUsed", header["gasUsed"], result.gas_used),
            ("bloom", header["bloom"], result.logs_bloom),
        ]
        if fork.has_withdrawals:
            checks.append(("withdrawalsRoot", header["withdrawalsRoot"], result.withdrawals_root))
        if fork.has_blobs:
            checks.append(("blobGasUsed", header["blobGasUsed"], result.blob_gas_used))
        if fork.has_requests:
            checks.append(("requestsHash", header["requestsHash"], result.requests_hash))
        for name, expected, got in checks:
            if expected != got:
                show = hex_int if isinstance(expected, int) else hex_bytes
                problems.append(Difference(f"block {header['number']} header", name, show(expected),
                                           show(got) if got is not None else "none"))
                return problems
        if result.block_hash != header.hash:
            mine = header_fields(fork, result.env, result.env.parent_hash, result.state_root, result.transactions_root,
                                 result.receipts_root, result.logs_bloom, result.gas_used, result.withdrawals_root,
                                 result.blob_gas_used, result.requests_hash)
            names = [n for n, a, b in zip(HEADER_FIELDS, header.rlp_fields, _as_rlp_list(mine)) if a != b]
            unknown = [n for n in names if n not in UNKNOWABLE_HEADER_FIELDS]
            if unknown or len(mine) != len(header.rlp_fields):
                problems.append(Difference(f"block {header['number']}", f"block hash (fields differing: "
                                           f"{', '.join(unknown) or 'field count'})", hex_bytes(header.hash),
                                           hex_bytes(result.block_hash)))
            else:
                self.case.notes.append(
                    f"block {header['number']} hash differs only in " + "; ".join(
                        f"{n} ({UNKNOWABLE_HEADER_FIELDS[n]})" for n in names))
        return problems

    def _check_post(self, nodes: Dict[bytes, _Node], genesis: Header) -> None:
        engine = self.engine
        test = self.test
        last = to_hash(test["lastblockhash"], "lastblockhash") if test.get("lastblockhash") else None
        if last is None:
            return self.fail("fixture without lastblockhash")
        head = nodes.get(last)
        if head is None:
            return self.fail("the fixture's last block is not a block Hyperion accepted",
                             Difference("chain", "last block hash", hex_bytes(last), "not found"))
        path = []
        node = head
        while node.result is not None:
            path.append(node)
            node = nodes[node.header["parentHash"]]
        for node in reversed(path):
            engine.commit(node.result)
        final_root = engine.head.state_root
        if test.get("postStateHash"):
            expected_root = to_hash(test["postStateHash"], "postStateHash")
            if final_root != expected_root:
                return self.fail("post-state differs", Difference("state", "postStateHash", hex_bytes(expected_root),
                                                                  hex_bytes(final_root)))
            return
        expected = normalize_alloc(test.get("postState") or {})
        pre = normalize_alloc(test["pre"])
        candidates = set(expected) | set(pre)
        slots: Dict[bytes, set] = {a: set(acc["storage"]) for a, acc in pre.items()}
        for node in path:
            diff = node.result.diff
            candidates |= set(diff.accounts) | set(diff.storage)
            for address, changed in diff.storage.items():
                slots.setdefault(address, set()).update(changed)
        got: Dict[bytes, Dict[str, Any]] = {}
        for address in candidates:
            account = engine.get_account(address)
            if account is None:
                continue
            wanted_slots = slots.get(address, set()) | set(expected.get(address, {}).get("storage", {}))
            storage = {s: v for s in wanted_slots if (v := engine.get_storage(address, s))}
            got[address] = {"nonce": account.nonce, "balance": account.balance,
                            "code": engine.get_code(address), "storage": storage}
        difference = first_alloc_difference(expected, got)
        if difference is not None:
            return self.fail("post-state differs", difference)


def _as_rlp_list(fields: Sequence[Any]) -> list:
    import rlp

    return rlp.decode(rlp.encode(list(fields)))


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
