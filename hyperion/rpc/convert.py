"""Protobuf messages <-> Hyperion's plain data types (``hyperion.types``).

Decoding checks every field the engine would otherwise trip over (address and hash
lengths, uint256 ranges, transaction types) and raises :class:`BadInput` naming the
field, which the service turns into INVALID_ARGUMENT.  A transaction that is well formed
as a message but cannot be included (bad RLP, bad signature, wrong nonce, ...) is *not*
refused here: the engine reports it as a ``TX_STATUS_INVALID`` result and runs the rest
of the batch.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Sequence, Union

from hyperion.blockenv_bounds import BlockEnvError
from hyperion.types import (
    AccessListEntry,
    Account,
    Authorization,
    BlockEnv,
    BlockResult,
    ExecutionStats,
    Head,
    Log,
    StateDiff,
    TxResult,
    TxStatus,
    UnsignedTx,
    Withdrawal,
    ZERO_ADDRESS,
    ZERO_HASH,
)
from hyperion.v1 import execution_pb2 as pb
from hyperion.v1 import types_pb2 as tpb

UINT256_MAX = 2**256 - 1

STATUS_TO_PB = {
    TxStatus.SUCCESS: tpb.TX_STATUS_SUCCESS,
    TxStatus.REVERTED: tpb.TX_STATUS_REVERTED,
    TxStatus.HALTED: tpb.TX_STATUS_HALTED,
    TxStatus.INVALID: tpb.TX_STATUS_INVALID,
}
STATUS_FROM_PB = {v: k for k, v in STATUS_TO_PB.items()}


class BadInput(ValueError):
    """A request field cannot be decoded; the message names the field."""


# -- scalars -------------------------------------------------------------------------------
def uint_to_bytes(value: int) -> bytes:
    """Minimal big-endian encoding (0 -> empty), the wire form of a uint256."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""


def bytes_to_uint(raw: bytes, field: str = "value") -> int:
    if len(raw) > 32:
        raise BadInput(f"{field}: a uint256 is at most 32 bytes, got {len(raw)}")
    return int.from_bytes(raw, "big")


def address(raw: bytes, field: str, allow_empty: bool = False) -> bytes:
    if allow_empty and not raw:
        return ZERO_ADDRESS
    if len(raw) != 20:
        raise BadInput(f"{field}: an address is 20 bytes, got {len(raw)}")
    return bytes(raw)


def hash32(raw: bytes, field: str, allow_empty: bool = False) -> Optional[bytes]:
    if allow_empty and not raw:
        return None
    if len(raw) != 32:
        raise BadInput(f"{field}: a hash is 32 bytes, got {len(raw)}")
    return bytes(raw)


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


# -- block environment -------------------------------------------------------------------
def env_from_pb(msg: tpb.BlockEnv, field: str = "env") -> BlockEnv:
    block_reward: Optional[int] = None
    if msg.no_block_reward:
        block_reward = -1
    elif msg.HasField("block_reward"):
        block_reward = bytes_to_uint(msg.block_reward, f"{field}.block_reward")
    hashes = {}
    for number, value in msg.block_hashes.items():
        hashes[int(number)] = hash32(value, f"{field}.block_hashes[{number}]")
    try:
        return _block_env(msg, field, hashes, block_reward)
    except BlockEnvError as exc:  # a value the message can carry but a header cannot
        raise BadInput(f"{field}.{exc.field}: {exc.reason}") from None


def _block_env(msg: tpb.BlockEnv, field: str, hashes: dict, block_reward: Optional[int]) -> BlockEnv:
    return BlockEnv(
        number=msg.number,
        timestamp=msg.timestamp,
        coinbase=address(msg.coinbase, f"{field}.coinbase", allow_empty=True),
        gas_limit=msg.gas_limit or 30_000_000,
        base_fee=bytes_to_uint(msg.base_fee, f"{field}.base_fee") if msg.HasField("base_fee") else None,
        prev_randao=hash32(msg.prev_randao, f"{field}.prev_randao", allow_empty=True) or ZERO_HASH,
        difficulty=bytes_to_uint(msg.difficulty, f"{field}.difficulty"),
        parent_hash=hash32(msg.parent_hash, f"{field}.parent_hash", allow_empty=True),
        block_hashes=hashes,
        parent_beacon_block_root=(
            hash32(msg.parent_beacon_block_root, f"{field}.parent_beacon_block_root")
            if msg.HasField("parent_beacon_block_root") else None
        ),
        withdrawals=tuple(
            Withdrawal(w.index, w.validator_index, address(w.address, f"{field}.withdrawals[{i}].address"), w.amount)
            for i, w in enumerate(msg.withdrawals)
        ),
        excess_blob_gas=msg.excess_blob_gas if msg.HasField("excess_blob_gas") else None,
        extra_data=bytes(msg.extra_data),
        block_reward=block_reward,
        max_blob_gas_per_block=msg.max_blob_gas_per_block if msg.HasField("max_blob_gas_per_block") else None,
    )


def env_to_pb(env: BlockEnv) -> tpb.BlockEnv:
    msg = tpb.BlockEnv(
        number=env.number, timestamp=env.timestamp, coinbase=env.coinbase, gas_limit=env.gas_limit,
        prev_randao=env.prev_randao, difficulty=uint_to_bytes(env.difficulty), parent_hash=env.parent_hash or b"",
        extra_data=env.extra_data,
    )
    if env.base_fee is not None:
        msg.base_fee = uint_to_bytes(env.base_fee)
    for number, value in env.block_hashes.items():
        msg.block_hashes[number] = value
    if env.parent_beacon_block_root is not None:
        msg.parent_beacon_block_root = env.parent_beacon_block_root
    for w in env.withdrawals:
        msg.withdrawals.add(index=w.index, validator_index=w.validator_index, address=w.address, amount=w.amount)
    if env.excess_blob_gas is not None:
        msg.excess_blob_gas = env.excess_blob_gas
    if env.block_reward is not None:
        if env.block_reward < 0:
            msg.no_block_reward = True
        else:
            msg.block_reward = uint_to_bytes(env.block_reward)
    if env.max_blob_gas_per_block is not None:
        msg.max_blob_gas_per_block = env.max_blob_gas_per_block
    return msg


# -- transactions ------------------------------------------------------------------------
def unsigned_from_pb(msg: tpb.UnsignedTransaction, field: str, *, call: bool = False) -> UnsignedTx:
    """``call=True``: Call / EstimateGas defaults (fees 0, sender may be empty, no nonce or
    gas: nonce ``None`` and gas 0, which :mod:`hyperion.calls` fills in)."""
    sender = address(msg.sender, f"{field}.sender", allow_empty=call)
    if msg.HasField("nonce"):
        nonce = msg.nonce
    elif call:
        nonce = None
    else:
        raise BadInput(f"{field}.nonce is required for an unsigned transaction in a batch")
    gas = msg.gas
    if not gas and not call:
        raise BadInput(f"{field}.gas is required (the gas limit of the transaction)")
    tx_type = msg.type if msg.HasField("type") else 2
    if tx_type not in (0, 1, 2, 4):
        raise BadInput(f"{field}.type: unsigned transactions are of type 0, 1, 2 or 4, got {tx_type}")

    def fee(name: str) -> Optional[int]:
        if msg.HasField(name):
            return bytes_to_uint(getattr(msg, name), f"{field}.{name}")
        return 0 if call else None

    return UnsignedTx(
        sender=sender,
        nonce=nonce,
        gas=gas,
        to=address(msg.to, f"{field}.to") if msg.HasField("to") and msg.to else None,
        value=bytes_to_uint(msg.value, f"{field}.value"),
        data=bytes(msg.data),
        type=tx_type,
        gas_price=fee("gas_price"),
        max_fee_per_gas=fee("max_fee_per_gas"),
        max_priority_fee_per_gas=fee("max_priority_fee_per_gas"),
        access_list=tuple(
            AccessListEntry(
                address(e.address, f"{field}.access_list[{i}].address"),
                tuple(bytes_to_uint(k, f"{field}.access_list[{i}].storage_keys") for k in e.storage_keys),
            )
            for i, e in enumerate(msg.access_list)
        ),
        authorization_list=tuple(
            Authorization(
                a.chain_id, address(a.address, f"{field}.authorization_list[{i}].address"), a.nonce, a.y_parity,
                bytes_to_uint(a.r, f"{field}.authorization_list[{i}].r"),
                bytes_to_uint(a.s, f"{field}.authorization_list[{i}].s"),
            )
            for i, a in enumerate(msg.authorization_list)
        ),
        chain_id=msg.chain_id if msg.HasField("chain_id") else None,
    )


def transactions_from_pb(txs: Sequence[tpb.Transaction]) -> List[Union[bytes, UnsignedTx]]:
    out: List[Union[bytes, UnsignedTx]] = []
    append = out.append
    for i, tx in enumerate(txs):
        kind = tx.WhichOneof("kind")
        if kind == "signed":
            append(tx.signed)
        elif kind == "unsigned":
            append(unsigned_from_pb(tx.unsigned, f"transactions[{i}].unsigned"))
        else:
            raise BadInput(f"transactions[{i}]: set either signed (EIP-2718 bytes) or unsigned")
    return out


def transaction_to_pb(tx: Union[bytes, UnsignedTx]) -> tpb.Transaction:
    if isinstance(tx, (bytes, bytearray, memoryview)):
        return tpb.Transaction(signed=bytes(tx))
    return tpb.Transaction(unsigned=unsigned_to_pb(tx))


def unsigned_to_pb(tx: UnsignedTx) -> tpb.UnsignedTransaction:
    msg = tpb.UnsignedTransaction(sender=tx.sender, nonce=tx.nonce, gas=tx.gas, value=uint_to_bytes(tx.value),
                                  data=tx.data, type=tx.type)
    if tx.to is not None:
        msg.to = tx.to
    for name in ("gas_price", "max_fee_per_gas", "max_priority_fee_per_gas"):
        value = getattr(tx, name)
        if value is not None:
            setattr(msg, name, uint_to_bytes(value))
    for entry in tx.access_list:
        msg.access_list.add(address=entry.address, storage_keys=[word(k) for k in entry.storage_keys])
    for a in tx.authorization_list:
        msg.authorization_list.add(chain_id=a.chain_id, address=a.address, nonce=a.nonce, y_parity=a.y_parity,
                                   r=uint_to_bytes(a.r), s=uint_to_bytes(a.s))
    if tx.chain_id is not None:
        msg.chain_id = tx.chain_id
    return msg


def transactions_size(txs: Sequence[tpb.Transaction]) -> int:
    """Bytes of transaction payload in a batch (signed bytes, or unsigned calldata)."""
    total = 0
    for tx in txs:
        total += len(tx.signed) if tx.HasField("signed") else len(tx.unsigned.data) + 64
    return total


# -- results -----------------------------------------------------------------------------
def log_to_pb(entry: Log) -> tpb.Log:
    return tpb.Log(address=entry.address, topics=entry.topics, data=entry.data)


_STATUS_VALUE_TO_PB = {status._value_: value for status, value in STATUS_TO_PB.items()}
_PbTxResult = tpb.TxResult
_PbLog = tpb.Log


def tx_result_to_pb(r: TxResult) -> tpb.TxResult:
    msg = _PbTxResult(
        index=r.index, status=_STATUS_VALUE_TO_PB[r.status._value_], tx_hash=r.tx_hash or b"", sender=r.sender or b"",
        gas_used=r.gas_used, cumulative_gas_used=r.cumulative_gas_used, blob_gas_used=r.blob_gas_used,
        first_log_index=r.first_log_index, return_data=r.return_data, contract_address=r.contract_address or b"",
        error=r.error or "", tx_type=r.tx_type,
    )
    if r.logs:
        msg.logs.extend([_PbLog(address=e.address, topics=e.topics, data=e.data) for e in r.logs])
    if r.receipt_index is not None:
        msg.receipt_index = r.receipt_index
    return msg


_new = object.__new__


def tx_result_from_pb(msg: tpb.TxResult) -> TxResult:
    # Hot path of the client (one per transaction): fill the frozen dataclass directly
    # instead of through its generated __init__, which is several times slower.
    result = _new(TxResult)
    logs = msg.logs
    result.__dict__.update(
        index=msg.index,
        status=STATUS_FROM_PB.get(msg.status, TxStatus.INVALID),
        tx_hash=msg.tx_hash or None,
        sender=msg.sender or None,
        receipt_index=msg.receipt_index if msg.HasField("receipt_index") else None,
        gas_used=msg.gas_used,
        cumulative_gas_used=msg.cumulative_gas_used,
        blob_gas_used=msg.blob_gas_used,
        logs=tuple([Log(e.address, tuple(e.topics), e.data) for e in logs]) if logs else (),
        first_log_index=msg.first_log_index,
        return_data=msg.return_data,
        contract_address=msg.contract_address or None,
        error=msg.error or None,
        tx_type=msg.tx_type,
    )
    return result


def diff_to_pb(diff: StateDiff) -> tpb.StateDiff:
    msg = tpb.StateDiff()
    for addr in sorted(diff.accounts):
        account = diff.accounts[addr]
        if account is None:
            msg.accounts.add(address=addr, deleted=True)
        else:
            msg.accounts.add(address=addr, nonce=account.nonce, balance=uint_to_bytes(account.balance),
                             code_hash=account.code_hash)
    for addr in sorted(set(diff.storage) | set(diff.wiped)):
        slots = diff.storage.get(addr, {})
        msg.storage.add(
            address=addr, wiped=addr in diff.wiped,
            slots=[tpb.StorageSlot(key=word(k), value=word(v)) for k, v in sorted(slots.items())],
        )
    for code_hash in sorted(diff.codes):
        msg.codes.add(code_hash=code_hash, code=diff.codes[code_hash])
    return msg


def diff_from_pb(msg: tpb.StateDiff) -> StateDiff:
    diff = StateDiff()
    for a in msg.accounts:
        diff.accounts[a.address] = None if a.deleted else Account(a.nonce, bytes_to_uint(a.balance), a.code_hash)
    for s in msg.storage:
        if s.wiped:
            diff.wiped.add(s.address)
        if s.slots:
            diff.storage[s.address] = {int.from_bytes(x.key, "big"): int.from_bytes(x.value, "big") for x in s.slots}
    for c in msg.codes:
        diff.codes[c.code_hash] = c.code
    return diff


def stats_to_pb(stats: ExecutionStats) -> tpb.ExecutionStats:
    return tpb.ExecutionStats(
        scheduler=stats.scheduler, workers=stats.workers, fallback=stats.fallback or "",
        incarnations=stats.incarnations, aborts=stats.aborts, validations=stats.validations,
        dependency_waits=stats.dependency_waits, worker_restarts=stats.worker_restarts,
        execution_seconds=stats.execution_seconds, validation_seconds=stats.validation_seconds,
        root_seconds=stats.root_seconds, commit_seconds=stats.commit_seconds, total_seconds=stats.total_seconds,
        extra={str(k): float(v) for k, v in (stats.extra or {}).items()},
    )


def stats_from_pb(msg: tpb.ExecutionStats) -> ExecutionStats:
    return ExecutionStats(
        scheduler=msg.scheduler, workers=msg.workers, fallback=msg.fallback or None, incarnations=msg.incarnations,
        aborts=msg.aborts, validations=msg.validations, dependency_waits=msg.dependency_waits,
        worker_restarts=msg.worker_restarts, execution_seconds=msg.execution_seconds,
        validation_seconds=msg.validation_seconds, root_seconds=msg.root_seconds,
        commit_seconds=msg.commit_seconds, total_seconds=msg.total_seconds, extra=dict(msg.extra),
    )


def head_to_pb(head: Head) -> tpb.Head:
    return tpb.Head(number=head.number, state_root=head.state_root, block_hash=head.block_hash or b"")


def head_from_pb(msg: tpb.Head) -> Head:
    return Head(number=msg.number, state_root=msg.state_root, block_hash=msg.block_hash or None)


def result_to_pb(result: BlockResult, *, include_diff: bool = False) -> pb.ExecutionResult:
    msg = pb.ExecutionResult(
        number=result.number,
        fork=result.fork,
        parent_id=result.parent_id or 0,
        parent_state_root=result.parent_state_root,
        state_root=result.state_root,
        transactions_root=result.transactions_root,
        receipts_root=result.receipts_root,
        logs_bloom=result.logs_bloom,
        gas_used=result.gas_used,
        blob_gas_used=result.blob_gas_used,
        withdrawals_root=result.withdrawals_root or b"",
        requests_hash=result.requests_hash or b"",
        requests=list(result.requests),
        block_hash=result.block_hash or b"",
        tx_results=[tx_result_to_pb(r) for r in result.tx_results],
        stats=stats_to_pb(result.stats),
        block_exception=result.block_exception or "",
    )
    if include_diff:
        msg.state_diff.CopyFrom(diff_to_pb(result.diff))
    return msg


def account_to_pb(account: Optional[Account]) -> tpb.Account:
    if account is None:
        return tpb.Account(exists=False)
    return tpb.Account(exists=True, nonce=account.nonce, balance=uint_to_bytes(account.balance),
                       code_hash=account.code_hash)


# -- proofs (Engine.get_proof comes from another branch: accept its likely shapes) --------
def _pick(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, dict):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, int):
        return uint_to_bytes(value)
    if isinstance(value, str):
        text = value[2:] if value.startswith(("0x", "0X")) else value
        return bytes.fromhex(text if len(text) % 2 == 0 else "0" + text)
    raise TypeError(f"cannot encode {type(value).__name__} in a proof")


def _as_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int.from_bytes(_as_bytes(value), "big")


def proof_to_pb(proof: Any, address_: bytes) -> pb.GetProofResponse:
    """An EIP-1186 proof (object with attributes, or dict in snake or camel case)."""
    msg = pb.GetProofResponse(
        address=_as_bytes(_pick(proof, "address", default=address_)),
        account_proof=[_as_bytes(n) for n in _pick(proof, "account_proof", "accountProof", default=())],
        balance=_as_bytes(_as_int(_pick(proof, "balance", default=0))),
        code_hash=_as_bytes(_pick(proof, "code_hash", "codeHash")),
        nonce=_as_int(_pick(proof, "nonce", default=0)),
        storage_hash=_as_bytes(_pick(proof, "storage_hash", "storageHash", "storage_root")),
        state_root=_as_bytes(_pick(proof, "state_root", "stateRoot")),
    )
    for entry in _pick(proof, "storage_proof", "storageProof", default=()):
        key = _pick(entry, "key", "slot", default=0)
        msg.storage_proof.add(
            key=word(_as_int(key)),
            value=word(_as_int(_pick(entry, "value", default=0))),
            proof=[_as_bytes(n) for n in _pick(entry, "proof", default=())],
        )
    return msg


def ids(values: Iterable[int]) -> List[int]:
    return sorted(int(v) for v in values)
