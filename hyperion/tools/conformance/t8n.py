"""The state-transition tool (``t8n``) every execution client offers, on Hyperion's engine.

Inputs and outputs follow geth's ``evm t8n`` and the execution specs' ``ethereum-spec-evm t8n``:
an alloc (pre-state), an env (the block) and a list of transactions in; the result (roots,
receipts, rejected transactions, gas) and the post-state alloc out.  The block runs on an
in-memory engine whose genesis is the alloc at block ``currentNumber - 1``.

Env fields: ``currentCoinbase, currentGasLimit, currentNumber, currentTimestamp``,
``currentDifficulty`` (or ``parentDifficulty``/``parentTimestamp``/``parentUncleHash``, pre-merge),
``currentRandom`` (post-merge), ``currentBaseFee`` (or ``parentBaseFee``/``parentGasUsed``/
``parentGasLimit``), ``currentExcessBlobGas`` (or ``parentExcessBlobGas``/``parentBlobGasUsed``),
``parentBeaconBlockRoot``, ``withdrawals``, ``blockHashes``, ``ommers``, ``parentHash``.
BLOCKHASH sees ``blockHashes`` only (other numbers give zero).
"""
from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import rlp

from hyperion.chain import ChainConfig
from hyperion.tools.conformance import WorkerStart, checking_scheduler, skips
from hyperion.tools.conformance.fixture_json import (
    FixtureFormatError,
    alloc_to_json,
    apply_diff,
    genesis_alloc,
    hex_bytes,
    hex_int,
    logs_hash,
    normalize_alloc,
    to_address,
    to_bytes,
    to_hash,
    to_int,
    tx_from_json,
    tx_input,
    txs_from_rlp,
    withdrawal_from_json,
)
from hyperion.tools.conformance.rules import base_fee_from_parent, excess_blob_gas_from_parent
from hyperion.engine import Engine
from hyperion.blockenv_bounds import (
    GAS_LIMIT_MAXIMUM,
    GAS_LIMIT_MINIMUM,
    UINT64_MAX,
    UINT256_MAX,
    BlockEnvError,
)
from hyperion.errors import ChainConfigError, GenesisError, InvalidBlockError
from hyperion.evm import txdecode
from hyperion.evm.forks import Fork, get_fork
from hyperion.evm.header import EMPTY_OMMERS_HASH
from hyperion.evm.transactions import prepare_unsigned
from hyperion.trace.hooks import TraceSession
from hyperion.trace.run import TxTrace, collect
from hyperion.types import BlockEnv, BlockResult, Ommer, TxStatus, UnsignedTx, ZERO_ADDRESS, ZERO_HASH


#: exit codes of geth's t8n (cmd/evm/internal/t8ntool), which t8n users script against
ERROR_EVM = 2  #: execution failed (the block as a whole, the scheduler)
ERROR_CONFIG = 3  #: unknown fork, or an env missing what the fork needs
ERROR_MISSING_BLOCKHASH = 4
ERROR_JSON = 10  #: input that is not JSON, or JSON of the wrong shape or range
ERROR_IO = 11  #: a file that cannot be read or written
ERROR_RLP = 12  #: transactions RLP that does not decode


class T8nError(Exception):
    """Bad t8n input; ``exit_code`` is geth's t8n's for the kind of problem."""

    def __init__(self, message: str, exit_code: int = ERROR_JSON) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class T8nOutput:
    result: Dict[str, Any]
    alloc: Dict[str, Any]
    #: RLP list of the transactions as run (signed bytes), for ``--output.body``
    body: bytes
    block: Optional[BlockResult] = None
    #: (index in the input list, trace) of each traced transaction, with ``trace=``
    traces: Tuple[Tuple[int, TxTrace], ...] = ()


def resolve_fork(name: str, number: int, timestamp: int) -> Fork:
    """A fork name, or a transition network (``BerlinToLondonAt5``) resolved at the block."""
    rule = skips.fork_skip(name)
    if rule is not None:
        raise T8nError(f"unsupported fork {name}: {rule.reason}", exit_code=3)
    transition = skips.parse_transition(name)
    try:
        if transition is None:
            return get_fork(name)
        first, second, kind, at = transition
        reached = number >= at if kind == "block" else timestamp >= at
        return get_fork(second if reached else first)
    except ChainConfigError as exc:
        raise T8nError(str(exc), exit_code=3) from None


#: the bounds a block header puts on the env's numbers (hyperion.blockenv_bounds), checked
#: as they are read: the difficulty and base fee are derived from them before the BlockEnv
#: exists, and py-evm's difficulty formula raises 2 to a power that grows with the number
_BOUNDS = {
    "currentNumber": (0, UINT64_MAX), "currentTimestamp": (0, UINT64_MAX),
    "currentGasLimit": (GAS_LIMIT_MINIMUM, GAS_LIMIT_MAXIMUM), "currentExcessBlobGas": (0, UINT64_MAX),
    "parentGasLimit": (GAS_LIMIT_MINIMUM, GAS_LIMIT_MAXIMUM), "parentGasUsed": (0, UINT64_MAX),
    "parentExcessBlobGas": (0, UINT64_MAX), "parentBlobGasUsed": (0, UINT64_MAX), "parentTimestamp": (0, UINT64_MAX),
}


#: from this block on the difficulty bomb alone (2 ** (number // 100,000 - 2), at most 11.4M
#: blocks delayed) is past 2**256, where a header cannot hold the difficulty: py-evm would
#: compute a power of two of up to 2**64 / 100,000 bits first
_BOMB_PAST_UINT256 = 40_000_000


def _env_int(env: Mapping[str, Any], key: str) -> int:
    value = to_int(env[key], key)
    low, high = _BOUNDS.get(key, (0, UINT256_MAX))
    if not low <= value <= high:
        shown = value if value.bit_length() <= 80 else f"a {value.bit_length()}-bit number"
        raise T8nError(f"env: {key}: {shown} is out of range ({low} to {high})")
    return value


def _opt_int(env: Mapping[str, Any], key: str) -> Optional[int]:
    return None if env.get(key) is None else _env_int(env, key)


def build_env(fork: Fork, env: Mapping[str, Any], reward: Optional[int] = None, state_test: bool = False
              ) -> Tuple[BlockEnv, Dict[str, Any]]:
    """The :class:`BlockEnv` for a t8n env object, and the derived values the result reports."""
    try:
        number = _env_int(env, "currentNumber")
        timestamp = _env_int(env, "currentTimestamp")
        gas_limit = _env_int(env, "currentGasLimit")
        coinbase = to_address(env["currentCoinbase"], "currentCoinbase")
    except KeyError as exc:
        raise T8nError(f"env: missing {exc.args[0]}") from None
    if number < 1:
        raise T8nError("env: currentNumber must be at least 1 (the pre-state is block currentNumber - 1)",
                       ERROR_CONFIG)
    derived: Dict[str, Any] = {}

    difficulty = 0
    if not fork.is_post_merge:
        if env.get("currentDifficulty") is not None:
            difficulty = _env_int(env, "currentDifficulty")
        elif env.get("parentDifficulty") is not None and env.get("parentTimestamp") is not None:
            parent = types.SimpleNamespace(
                timestamp=_opt_int(env, "parentTimestamp"),
                difficulty=_opt_int(env, "parentDifficulty"),
                uncles_hash=to_hash(env["parentUncleHash"]) if env.get("parentUncleHash") else EMPTY_OMMERS_HASH,
                block_number=number - 1,
            )
            if number >= _BOMB_PAST_UINT256:
                raise T8nError(f"env: currentDifficulty: the difficulty bomb at block {number} is past 2**256 (give "
                               f"currentDifficulty)")
            try:
                difficulty = fork.vm_class.compute_difficulty(parent, timestamp)
            except Exception as exc:
                raise T8nError(f"env: cannot compute the difficulty from the parent: {exc}", ERROR_CONFIG) from None
        else:
            raise T8nError("env: currentDifficulty (or parentDifficulty and parentTimestamp) is required before the "
                           "merge", ERROR_CONFIG)
        derived["currentDifficulty"] = difficulty

    prev_randao = ZERO_HASH
    if fork.is_post_merge:
        if env.get("currentRandom") is None:
            raise T8nError("env: currentRandom is required after the merge", ERROR_CONFIG)
        prev_randao = to_hash(env["currentRandom"], "currentRandom")

    base_fee = None
    if fork.has_base_fee:
        base_fee = _opt_int(env, "currentBaseFee")
        if base_fee is None:
            parent = [_opt_int(env, k) for k in ("parentGasLimit", "parentGasUsed", "parentBaseFee")]
            if None in parent:
                raise T8nError("env: currentBaseFee (or parentBaseFee, parentGasUsed and parentGasLimit) is required "
                               "from London on", ERROR_CONFIG)
            base_fee = base_fee_from_parent(gas_limit, *parent)
        derived["currentBaseFee"] = base_fee

    excess_blob_gas = None
    if fork.has_blobs:
        excess_blob_gas = _opt_int(env, "currentExcessBlobGas")
        if excess_blob_gas is None:
            excess_blob_gas = excess_blob_gas_from_parent(
                fork, _opt_int(env, "parentExcessBlobGas") or 0, _opt_int(env, "parentBlobGasUsed") or 0)
        derived["currentExcessBlobGas"] = excess_blob_gas

    known = {to_int(k, "blockHashes key"): to_hash(v, "blockHashes value")
             for k, v in (env.get("blockHashes") or {}).items() if v is not None}
    block_hashes = {n: known.get(n, ZERO_HASH) for n in range(max(number - 256, 0), number)}
    parent_hash = known.get(number - 1)
    if parent_hash is None:
        parent_hash = to_hash(env["parentHash"], "parentHash") if env.get("parentHash") else ZERO_HASH

    withdrawals = ()
    if fork.has_withdrawals:
        withdrawals = tuple(withdrawal_from_json(w) for w in env.get("withdrawals") or ())
    elif env.get("withdrawals"):
        raise T8nError(f"env: withdrawals are not valid in {fork.name}", ERROR_CONFIG)

    root = env.get("parentBeaconBlockRoot")
    ommers = tuple(Ommer(to_int(o["delta"], "ommer delta"), to_address(o["address"], "ommer address"))
                   for o in env.get("ommers") or ())
    try:
        block_env = BlockEnv(
            number=number,
            timestamp=timestamp,
            coinbase=coinbase,
            gas_limit=gas_limit,
            base_fee=base_fee,
            prev_randao=prev_randao,
            difficulty=difficulty,
            parent_hash=parent_hash,
            block_hashes=block_hashes,
            parent_beacon_block_root=to_hash(root, "parentBeaconBlockRoot") if root else None,
            withdrawals=withdrawals,
            excess_blob_gas=excess_blob_gas,
            extra_data=to_bytes(env.get("currentExtraData") or "0x", "currentExtraData"),
            block_reward=-1 if state_test else reward,
            system_calls=not state_test,
            ommers=ommers,
        )
    except BlockEnvError as exc:  # a value no block header can hold (geth: a JSON error)
        raise T8nError(f"env: {_ENV_KEYS.get(exc.field, exc.field)}: {exc.reason}") from None
    return block_env, derived


#: BlockEnv field -> the t8n env key (or option) it comes from, where the names differ
_ENV_KEYS = {
    "difficulty": "currentDifficulty", "block_hashes key": "blockHashes", "extra_data": "currentExtraData",
    "block_reward": "--state.reward",
}


def parse_txs(txs: Any, fork: Fork, chain_id: int) -> Tuple[List[Tuple[int, Union[bytes, UnsignedTx]]], Dict[int, str]]:
    """(index, engine input) for each usable transaction, and the parse errors by index."""
    inputs: List[Tuple[int, Union[bytes, UnsignedTx]]] = []
    errors: Dict[int, str] = {}
    if txs is None:
        return inputs, errors
    if isinstance(txs, str):  # txs.rlp: an RLP list of signed transactions
        try:
            raw = txs_from_rlp(to_bytes(txs, "txs"))
        except (FixtureFormatError, rlp.DecodingError) as exc:
            raise T8nError(f"txs: not an RLP list of transactions: {exc}", ERROR_RLP) from None
        return list(enumerate(raw)), errors
    if not isinstance(txs, list):
        raise T8nError("txs: expected a list of transactions or an RLP hex string")
    for index, obj in enumerate(txs):
        try:
            inputs.append((index, tx_input(tx_from_json(obj), chain_id, fork)))
        except (FixtureFormatError, ValueError, TypeError, AttributeError) as exc:
            errors[index] = f"failed to parse transaction {index}: {exc}"
    return inputs, errors


def run_t8n(
    alloc: Mapping[str, Any],
    env: Mapping[str, Any],
    txs: Any,
    fork: str,
    chain_id: int = 1,
    reward: Optional[int] = None,
    scheduler: Union[str, WorkerStart] = "sequential",
    workers: Optional[int] = None,
    state_test: bool = False,
    trace: Optional[TraceSession] = None,
) -> T8nOutput:
    """Apply ``txs`` to ``alloc`` in the block ``env`` describes, on Hyperion's engine.

    ``reward``: ``None`` = the fork's block reward, ``-1`` = none, else that many wei
    (pre-merge only).  ``state_test``: apply the transactions without system calls or
    rewards (``t8n --state-test``).  ``scheduler``: a name, or a :class:`WorkerStart` whose
    workers started while the caller read the input (the caller closes it).  ``trace``: the
    transactions run in this process under that session's tracers (``t8n --trace``), and the
    output carries the traces.
    """
    for name, value, shapes in (("alloc", alloc, "an object"), ("env", env, "an object")):
        if not isinstance(value, Mapping):
            raise T8nError(f"{name}: expected {shapes}, got {_json_type(value)}")
    if not (txs is None or isinstance(txs, (list, str))):
        raise T8nError(f"txs: expected a list of transactions or an RLP hex string, got {_json_type(txs)}")
    try:
        number = to_int(env.get("currentNumber", 0), "currentNumber")
        timestamp = to_int(env.get("currentTimestamp", 0), "currentTimestamp")
        the_fork = resolve_fork(fork, number, timestamp)
        block_env, derived = build_env(the_fork, env, reward, state_test)
        pre = normalize_alloc(alloc)
        inputs, rejected = parse_txs(txs, the_fork, chain_id)
    except (FixtureFormatError, TypeError, AttributeError, KeyError) as exc:
        # TypeError & co.: a value of the wrong JSON type where an object or list belongs
        raise T8nError(f"malformed input: {exc}" if not isinstance(exc, FixtureFormatError) else str(exc)) from None
    try:
        config = ChainConfig.single_fork(the_fork.name, chain_id=chain_id)
    except ChainConfigError as exc:
        raise T8nError(str(exc), exit_code=ERROR_CONFIG) from None
    # a WorkerStart: the caller started the workers while it read the input, and closes them
    the_scheduler = scheduler.wait() if isinstance(scheduler, WorkerStart) else checking_scheduler(scheduler, workers)
    engine = Engine.in_memory(chain_config=config, scheduler=the_scheduler)
    try:
        try:
            engine.init_genesis(genesis_alloc(pre), number=block_env.number - 1, gas_limit=block_env.gas_limit,
                                timestamp=max(block_env.timestamp - 1, 0))
        except GenesisError as exc:  # an alloc the state cannot hold (a balance past 2**256, ...)
            raise T8nError(f"alloc: {exc}") from None
        block_exception = None
        if trace is not None:  # a simulation reports a block-level failure in the result
            result = engine.simulate(block_env, [item for _, item in inputs], trace=trace)
            block_exception = result.block_exception
        else:
            try:
                result = engine.execute(block_env, [item for _, item in inputs])
            except InvalidBlockError as exc:
                if exc.result is None:
                    raise
                result = exc.result
                block_exception = result.block_exception or str(exc)
    finally:
        engine.close()
        if not isinstance(scheduler, WorkerStart):
            the_scheduler.close()

    original_index = [index for index, _ in inputs]
    for tx in result.tx_results:
        if tx.status is TxStatus.INVALID:
            rejected[original_index[tx.index]] = tx.error or "invalid"
    post = apply_diff(pre, result.diff)
    output = _result_json(the_fork, result, derived, rejected, original_index, block_exception)
    body = encode_body([item for _, item in inputs], the_fork, chain_id)
    traces = tuple((original_index[t.index], t) for t in collect(result, trace)) if trace is not None else ()
    return T8nOutput(result=output, alloc=alloc_to_json(post), body=body, block=result, traces=traces)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
             int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def encode_body(items: Sequence[Union[bytes, UnsignedTx]], fork: Fork, chain_id: int) -> bytes:
    """The transactions as a block body holds them: an RLP list in which a typed transaction
    is a byte string and a legacy one its own RLP list -- which its signed bytes already
    are (canonical: t8n's encoder and txs.rlp re-encoding both give pyrlp's), so the body is
    put together from the bytes, never decoded again."""
    body = []
    for item in items:
        raw = item if isinstance(item, bytes) else prepare_unsigned(fork, item, chain_id).encoded
        if raw:
            body.append(raw if raw[0] >= 0xC0 else txdecode.encode(raw))
    return txdecode.encode_list(body)


def _receipt_json(fork: Fork, tx, original_index: int) -> Dict[str, Any]:
    logs = [
        {"address": hex_bytes(entry.address), "topics": [hex_bytes(t) for t in entry.topics],
         "data": hex_bytes(entry.data), "logIndex": hex_int(tx.first_log_index + i),
         "transactionIndex": hex_int(tx.receipt_index), "transactionHash": hex_bytes(tx.tx_hash or ZERO_HASH),
         "removed": False}
        for i, entry in enumerate(tx.logs)
    ]
    from hyperion.evm.receipts import logs_bloom  # local: keeps module import light

    receipt: Dict[str, Any] = {
        "type": hex_int(tx.tx_type),
        "root": hex_bytes(tx.post_state) if tx.post_state is not None else "0x",
        "status": "0x1" if tx.status is TxStatus.SUCCESS else "0x0",
        "cumulativeGasUsed": hex_int(tx.cumulative_gas_used),
        "logsBloom": hex_bytes(int(logs_bloom(tx.logs)).to_bytes(256, "big")),
        "logs": logs or None,
        "transactionHash": hex_bytes(tx.tx_hash or ZERO_HASH),
        "contractAddress": hex_bytes(tx.contract_address or ZERO_ADDRESS),
        "gasUsed": hex_int(tx.gas_used),
        "blockHash": hex_bytes(ZERO_HASH),
        "transactionIndex": hex_int(tx.receipt_index),
    }
    if fork.has_blobs and tx.tx_type == 3:
        receipt["blobGasUsed"] = hex_int(tx.blob_gas_used)
    return receipt


def _result_json(fork: Fork, result: BlockResult, derived: Dict[str, Any], rejected: Dict[int, str],
                 original_index: Sequence[int], block_exception: Optional[str]) -> Dict[str, Any]:
    all_logs = [entry for tx in result.receipts for entry in tx.logs]
    out: Dict[str, Any] = {
        "stateRoot": hex_bytes(result.state_root),
        "txRoot": hex_bytes(result.transactions_root),
        "receiptsRoot": hex_bytes(result.receipts_root),
        "logsHash": hex_bytes(logs_hash(all_logs)),
        "logsBloom": hex_bytes(result.logs_bloom),
        "receipts": [_receipt_json(fork, tx, original_index[tx.index]) for tx in result.receipts],
        "rejected": [{"index": index, "error": error} for index, error in sorted(rejected.items())],
        "gasUsed": hex_int(result.gas_used),
        "currentDifficulty": hex_int(derived["currentDifficulty"]) if "currentDifficulty" in derived else None,
        "currentBaseFee": hex_int(derived["currentBaseFee"]) if "currentBaseFee" in derived else None,
    }
    if result.withdrawals_root is not None:
        out["withdrawalsRoot"] = hex_bytes(result.withdrawals_root)
    if "currentExcessBlobGas" in derived:
        out["currentExcessBlobGas"] = hex_int(derived["currentExcessBlobGas"])
        out["blobGasUsed"] = hex_int(result.blob_gas_used)
    if result.requests_hash is not None:
        out["requestsHash"] = hex_bytes(result.requests_hash)
        out["requests"] = [hex_bytes(r) for r in result.requests]
    if block_exception is not None:
        out["blockException"] = block_exception
    return out
