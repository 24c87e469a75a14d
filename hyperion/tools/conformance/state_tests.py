"""``GeneralStateTests``: for each post entry of each fork Hyperion supports, the entry's
transaction runs as block ``currentNumber`` the way the execution specs' ``run_state_test``
applies it (no system calls, no withdrawals, no block reward).

Checked: the state root (``hash``), the logs hash (``logs`` = keccak(rlp(logs))) and
validity — an entry with ``expectException`` must be reported invalid (and then the state
is unchanged), any other entry must be included.  One engine serves all entries of a
(test, fork): each entry is a pending block on the same genesis, discarded after the
comparison.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, List, Mapping, Optional

from hyperion.chain import ChainConfig
from hyperion.errors import InvalidBlockError
from hyperion.evm.forks import Fork, get_fork
from hyperion.tools.conformance import skips
from hyperion.tools.conformance.fixture_json import (
    apply_diff,
    encode_signed,
    genesis_alloc,
    hex_bytes,
    logs_hash,
    normalize_alloc,
    sign,
    state_test_tx,
    to_address,
    to_bytes,
    to_hash,
    to_int,
)
from hyperion.tools.conformance.report import (
    FAIL, PASS, SKIP, STATE, CaseResult, Difference, case_id, first_alloc_difference,
)
from hyperion.types import BlockEnv, BlockResult, TxStatus, ZERO_HASH

if TYPE_CHECKING:  # the runner imports this module
    from hyperion.tools.conformance.fixtures import FixtureRunner


def run_state_test(runner: FixtureRunner, file: str, name: str, test: Mapping[str, Any]) -> List[CaseResult]:
    """One result per post entry the runner's options select, of every fork."""
    results: List[CaseResult] = []
    options = runner.options
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
            results.extend(_run_state_fork(runner, file, name, test, label, wanted, prepared))
        except Exception as exc:  # any failure to run a case is that case's failure, never a crash
            results.extend(
                CaseResult(file, STATE, name, label, i, FAIL, reason=f"could not run: {type(exc).__name__}: {exc}")
                for i, _ in wanted
            )
    return results


def _run_state_fork(runner: FixtureRunner, file, name, test, label, wanted, pre) -> List[CaseResult]:
    fork = get_fork(label)
    chain_id = to_int(test.get("config", {}).get("chainid", runner.options.chain_id))
    env_json = test["env"]
    env = state_test_env(fork, env_json)
    engine = runner.new_engine(ChainConfig.single_fork(label, chain_id=chain_id))
    results = []
    try:
        engine.init_genesis(genesis_alloc(pre), number=env.number - 1, timestamp=max(env.timestamp - 1, 0),
                            gas_limit=env.gas_limit)
        for index, entry in wanted:
            started = time.perf_counter()
            case = CaseResult(file, STATE, name, label, index, PASS)
            try:
                _check_state_entry(runner, case, engine, fork, chain_id, env, test, entry, pre)
            except Exception as exc:  # any failure to run a case is that case's failure, never a crash
                case.status = FAIL
                case.reason = f"could not run: {type(exc).__name__}: {exc}"
            case.seconds = time.perf_counter() - started
            results.append(case)
    finally:
        engine.close()
    return results


def _check_state_entry(runner: FixtureRunner, case, engine, fork, chain_id, env, test, entry, pre) -> None:
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
            elif runner.options.diagnose:
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


# -- environment and diagnosis --------------------------------------------------
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

