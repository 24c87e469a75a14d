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
from hyperion.tools.conformance import checking_scheduler, skips
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
from hyperion.errors import ChainConfigError, InvalidBlockError
from hyperion.evm.forks import Fork, get_fork
from hyperion.evm.header import EMPTY_OMMERS_HASH
from hyperion.evm.transactions import prepare_unsigned
from hyperion.types import BlockEnv, BlockResult, Ommer, TxStatus, UnsignedTx, ZERO_ADDRESS, ZERO_HASH


class T8nError(Exception):
    """Bad t8n input; ``exit_code`` follows geth's t8n (3: configuration, 4: input)."""

    def __init__(self, message: str, exit_code: int = 4) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class T8nOutput:
    result: Dict[str, Any]
    alloc: Dict[str, Any]
    #: RLP list of the transactions as run (signed bytes), for ``--output.body``
    body: bytes
    block: Optional[BlockResult] = None


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


def _opt_int(env: Mapping[str, Any], key: str) -> Optional[int]:
    value = env.get(key)
    return None if value is None else to_int(value, key)


def build_env(fork: Fork, env: Mapping[str, Any], reward: Optional[int] = None, state_test: bool = False
              ) -> Tuple[BlockEnv, Dict[str, Any]]:
    """The :class:`BlockEnv` for a t8n env object, and the derived values the result reports."""
    try:
        number = to_int(env["currentNumber"], "currentNumber")
        timestamp = to_int(env["currentTimestamp"], "currentTimestamp")
        gas_limit = to_int(env["currentGasLimit"], "currentGasLimit")
        coinbase = to_address(env["currentCoinbase"], "currentCoinbase")
    except KeyError as exc:
        raise T8nError(f"env: missing {exc.args[0]}") from None
    if number < 1:
        raise T8nError("env: currentNumber must be at least 1 (the pre-state is block currentNumber - 1)")
    derived: Dict[str, Any] = {}

    difficulty = 0
    if not fork.is_post_merge:
        if env.get("currentDifficulty") is not None:
            difficulty = to_int(env["currentDifficulty"], "currentDifficulty")
        elif env.get("parentDifficulty") is not None and env.get("parentTimestamp") is not None:
            parent = types.SimpleNamespace(
                timestamp=to_int(env["parentTimestamp"], "parentTimestamp"),
                difficulty=to_int(env["parentDifficulty"], "parentDifficulty"),
                uncles_hash=to_hash(env["parentUncleHash"]) if env.get("parentUncleHash") else EMPTY_OMMERS_HASH,
                block_number=number - 1,
            )
            try:
                difficulty = fork.vm_class.compute_difficulty(parent, timestamp)
            except Exception as exc:
                raise T8nError(f"env: cannot compute the difficulty from the parent: {exc}") from None
        else:
            raise T8nError("env: currentDifficulty (or parentDifficulty and parentTimestamp) is required before the "
                           "merge")
        derived["currentDifficulty"] = difficulty

    prev_randao = ZERO_HASH
    if fork.is_post_merge:
        if env.get("currentRandom") is None:
            raise T8nError("env: currentRandom is required after the merge")
        prev_randao = to_hash(env["currentRandom"], "currentRandom")

    base_fee = None
    if fork.has_base_fee:
        base_fee = _opt_int(env, "currentBaseFee")
        if base_fee is None:
            parent = [_opt_int(env, k) for k in ("parentGasLimit", "parentGasUsed", "parentBaseFee")]
            if None in parent:
                raise T8nError("env: currentBaseFee (or parentBaseFee, parentGasUsed and parentGasLimit) is required "
                               "from London on")
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
        raise T8nError(f"env: withdrawals are not valid in {fork.name}")

    root = env.get("parentBeaconBlockRoot")
    ommers = tuple(Ommer(to_int(o["delta"], "ommer delta"), to_address(o["address"], "ommer address"))
                   for o in env.get("ommers") or ())
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
    return block_env, derived


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
            raise T8nError(f"txs: not an RLP list of transactions: {exc}") from None
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
    scheduler: str = "sequential",
    workers: Optional[int] = None,
    state_test: bool = False,
) -> T8nOutput:
    """Apply ``txs`` to ``alloc`` in the block ``env`` describes, on Hyperion's engine.

    ``reward``: ``None`` = the fork's block reward, ``-1`` = none, else that many wei
    (pre-merge only).  ``state_test``: apply the transactions without system calls or
    rewards (``t8n --state-test``).
    """
    try:
        number = to_int(env.get("currentNumber", 0), "currentNumber")
        timestamp = to_int(env.get("currentTimestamp", 0), "currentTimestamp")
        the_fork = resolve_fork(fork, number, timestamp)
        block_env, derived = build_env(the_fork, env, reward, state_test)
        pre = normalize_alloc(alloc)
        inputs, rejected = parse_txs(txs, the_fork, chain_id)
    except FixtureFormatError as exc:
        raise T8nError(str(exc)) from None
    try:
        config = ChainConfig.single_fork(the_fork.name, chain_id=chain_id)
    except ChainConfigError as exc:
        raise T8nError(str(exc), exit_code=3) from None
    the_scheduler = checking_scheduler(scheduler, workers)
    engine = Engine.in_memory(chain_config=config, scheduler=the_scheduler)
    try:
        engine.init_genesis(genesis_alloc(pre), number=block_env.number - 1, gas_limit=block_env.gas_limit,
                            timestamp=max(block_env.timestamp - 1, 0))
        block_exception = None
        try:
            result = engine.execute(block_env, [item for _, item in inputs])
        except InvalidBlockError as exc:
            if exc.result is None:
                raise
            result = exc.result
            block_exception = result.block_exception or str(exc)
    finally:
        engine.close()
        the_scheduler.close()

    original_index = [index for index, _ in inputs]
    for tx in result.tx_results:
        if tx.status is TxStatus.INVALID:
            rejected[original_index[tx.index]] = tx.error or "invalid"
    post = apply_diff(pre, result.diff)
    output = _result_json(the_fork, result, derived, rejected, original_index, block_exception)
    body = encode_body([item for _, item in inputs], the_fork, chain_id)
    return T8nOutput(result=output, alloc=alloc_to_json(post), body=body, block=result)


def encode_body(items: Sequence[Union[bytes, UnsignedTx]], fork: Fork, chain_id: int) -> bytes:
    """The transactions as a block body holds them: an RLP list, typed ones as byte strings."""
    body = []
    for item in items:
        raw = item if isinstance(item, bytes) else prepare_unsigned(fork, item, chain_id).encoded
        if not raw:
            continue
        body.append(rlp.decode(raw) if raw[0] >= 0xC0 else raw)
    return rlp.encode(body)


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
