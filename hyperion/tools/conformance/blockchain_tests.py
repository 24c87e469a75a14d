"""``BlockchainTests``: every block is decoded from its RLP, its header checked against its
parent (:mod:`hyperion.tools.conformance.rules`), its transactions executed on its parent (a
pending block, so forks of the chain work) and the header's ``stateRoot``, ``receiptTrie``,
``transactionsTrie``, ``gasUsed``, ``bloom``, blob gas, withdrawals root and requests hash
compared with what Hyperion computed, then its hash with the block hash Hyperion implies.
Blocks with ``expectException`` must be rejected.  The canonical chain (``lastblockhash``)
is committed to the store and the store's state is compared with ``postState`` (account by
account) or ``postStateHash``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence

from hyperion.chain import ChainConfig, ForkActivation
from hyperion.engine import Engine
from hyperion.errors import InvalidBlockError
from hyperion.evm.forks import Fork, canonical_fork_name
from hyperion.evm.header import header_fields
from hyperion.tools.conformance import rules, skips
from hyperion.tools.conformance.fixture_json import (
    HEADER_FIELDS,
    FixtureFormatError,
    Header,
    block_from_rlp,
    genesis_alloc,
    header_from_json,
    hex_bytes,
    hex_int,
    normalize_alloc,
    to_bytes,
    to_hash,
    to_int,
)
from hyperion.tools.conformance.report import (
    BLOCKCHAIN, FAIL, PASS, SKIP, CaseResult, Difference, case_id, first_alloc_difference,
)
from hyperion.types import BlockEnv, BlockResult, Ommer, TxStatus

if TYPE_CHECKING:  # the runner imports this module
    from hyperion.tools.conformance.fixtures import FixtureRunner


def run_blockchain_test(runner: FixtureRunner, file: str, name: str, test: Mapping[str, Any]) -> Optional[CaseResult]:
    """The test's one result, or None if the runner's options do not select it."""
    options = runner.options
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
        _BlockchainRun(runner, test, label, case).run()
    except Exception as exc:  # any failure to run a case is that case's failure, never a crash
        case.status, case.reason, case.difference = FAIL, f"could not run: {type(exc).__name__}: {exc}", None
    case.seconds = time.perf_counter() - started
    return case


# -- one run --------------------------------------------------------------------------
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
