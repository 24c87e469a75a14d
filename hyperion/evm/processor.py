"""Block processing in execution-specs order (``apply_body``), on py-evm.

    EIP-4788 beacon-root call, EIP-2935 block-hash call      (pre-block, Cancun / Prague)
    transactions                                              (a scheduler drives these)
    withdrawals, EIP-7002 / EIP-7251 request calls, rewards   (post-block)

:class:`BlockProcessor` owns the fork rules for one block and is shared by every
scheduler: ``execute_transaction`` runs one transaction on a py-evm state whose account
DB is a :class:`~hyperion.evm.accountdb.FlatAccountDB`; the caller decides where the
write-set goes (the block overlay, or Block-STM's multi-version memory).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from eth.exceptions import Revert
from eth.vm.execution_context import ExecutionContext
from eth.vm.message import Message

from hyperion.blockenv_bounds import BlockEnvError
from hyperion.evm.forks import Fork
from hyperion.evm.state import state_class_for
from hyperion.evm.transactions import PreparedTx
from hyperion.evm.validation import InvalidTransaction, blob_gas_of, check_transaction
from hyperion.precompiles.records import ENABLED_ATTRIBUTE, collect_records
from hyperion.types import BLANK_ROOT, BlockEnv, Log, TxStatus, ZERO_HASH

log = logging.getLogger("hyperion.processor")

SYSTEM_ADDRESS = bytes.fromhex("fffffffffffffffffffffffffffffffffffffffe")
SYSTEM_CALL_GAS = 30_000_000
BEACON_ROOTS_ADDRESS = bytes.fromhex("000f3df6d732807ef1319fb7b8bb8522d0beac02")
HISTORY_STORAGE_ADDRESS = bytes.fromhex("0000f90827f1c53a10cb7a02335b175320002935")
WITHDRAWAL_REQUEST_ADDRESS = bytes.fromhex("00000961ef480eb55e80d19ad83579a64c007002")
CONSOLIDATION_REQUEST_ADDRESS = bytes.fromhex("0000bbddc7ce488642fb579f8b00f3a590007251")
DEPOSIT_CONTRACT_ADDRESS = bytes.fromhex("00000000219ab540356cbb839cbe05303d7705fa")
DEPOSIT_EVENT_SIGNATURE = bytes.fromhex("649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5")

MAX_BLOB_GAS = {"cancun": 786_432, "prague": 1_179_648}
BLOB_BASE_FEE_FRACTION = {"cancun": 3_338_477, "prague": 5_007_716}
MIN_BLOB_BASE_FEE = 1


class BlockException(Exception):
    """The block as a whole is invalid (t8n ``blockException``)."""


@dataclass
class TxOutcome:
    """One transaction's execution, before its position in the block is known."""

    status: TxStatus
    gas_used: int = 0
    blob_gas_used: int = 0
    logs: Tuple[Log, ...] = ()
    return_data: bytes = b""
    contract_address: Optional[bytes] = None
    error: Optional[str] = None
    sender: Optional[bytes] = None
    #: the transaction's gas limit (the parallel scheduler re-checks the block gas limit)
    gas_limit: int = 0
    #: inference records of this execution's non-reverted AI precompile frames
    #: (hyperion.precompiles.records); the scheduler keeps the final execution's outcome,
    #: so records never come from an aborted incarnation
    inference_records: Tuple[object, ...] = ()


def account_db(state):
    """The :class:`~hyperion.evm.accountdb.FlatAccountDB` behind a py-evm state.

    py-evm keeps it in a private attribute; this is the one place outside py-evm that
    reaches for it (schedulers take write-sets from it, the block pipeline locks changes).
    """
    return state._account_db


def fake_exponential(factor: int, numerator: int, denominator: int) -> int:
    """EIP-4844's integer approximation of ``factor * e ** (numerator / denominator)``.

    The specs' series, exact whenever the result is below 2**256; a larger result is
    returned as 2**256.  The sum only grows, so once it passes ``denominator * 2**256`` the
    specs' result is at least 2**256: a blob base fee no uint256 balance can pay and no EVM
    word can hold, so every blob transaction is invalid and BLOBBASEFEE fails as under the
    exact value (only the number in the rejection message differs).  Stopping there bounds
    the loop (under 500 rounds) where the specs' would run for hours (excess blob gas
    10**12) or never end (2**64 - 1).
    """
    i = 1
    output = 0
    numerator_accum = factor * denominator
    saturated = denominator << 256
    while numerator_accum > 0:
        output += numerator_accum
        if output >= saturated:
            return 1 << 256
        numerator_accum = (numerator_accum * numerator) // (denominator * i)
        i += 1
    return output // denominator


def _to_log(entry) -> Log:
    address, topics, data = entry
    return Log(address=address, topics=tuple(t.to_bytes(32, "big") for t in topics), data=data)


class BlockProcessor:
    """Fork rules and block environment for executing one block."""

    def __init__(
        self,
        fork: Fork,
        chain_id: int,
        env: BlockEnv,
        ancestor_hash: Callable[[int], Optional[bytes]],
        state_class: Optional[type] = None,
    ) -> None:
        self.fork = fork
        self.chain_id = chain_id
        self.env = env
        self.state_class = state_class if state_class is not None else state_class_for(fork)
        self.base_fee = env.base_fee if fork.has_base_fee else None
        if fork.has_base_fee and self.base_fee is None:
            # a bound of the header format, known only with the fork (a ValueError as before)
            raise BlockEnvError("base_fee", f"a {fork.name} block needs a base fee")
        excess = env.excess_blob_gas or 0
        if fork.has_blobs:
            self.blob_gas_price = fake_exponential(
                MIN_BLOB_BASE_FEE, excess, BLOB_BASE_FEE_FRACTION.get(fork.name, BLOB_BASE_FEE_FRACTION["prague"])
            )
            self.max_blob_gas = env.max_blob_gas_per_block or MAX_BLOB_GAS.get(fork.name, MAX_BLOB_GAS["prague"])
        else:
            self.blob_gas_price = 0
            self.max_blob_gas = 0
        self._ancestor_hash = ancestor_hash
        self.execution_context = self._execution_context()

    # -- environment --------------------------------------------------------------------
    def _prev_hashes(self):
        # py-evm walks this lazily from the parent backwards (at most 256 deep)
        for number in range(self.env.number - 1, max(self.env.number - 257, -1), -1):
            block_hash = self.env.block_hashes.get(number) or self._ancestor_hash(number)
            yield block_hash or b""

    def _execution_context(self) -> ExecutionContext:
        env = self.env
        post_merge = self.fork.is_post_merge
        return ExecutionContext(
            coinbase=env.coinbase,
            timestamp=env.timestamp,
            block_number=env.number,
            difficulty=0 if post_merge else env.difficulty,
            mix_hash=env.prev_randao,
            gas_limit=env.gas_limit,
            prev_hashes=self._prev_hashes(),
            chain_id=self.chain_id,
            base_fee_per_gas=self.base_fee,
            excess_blob_gas=(env.excess_blob_gas or 0) if self.fork.has_blobs else None,
        )

    def parent_hash(self) -> bytes:
        if self.env.parent_hash is not None:
            return self.env.parent_hash
        return self.env.block_hashes.get(self.env.number - 1) or self._ancestor_hash(self.env.number - 1) or ZERO_HASH

    def new_state(self, reader):
        """A py-evm state for this block whose account DB reads through ``reader``."""
        return self.state_class(reader, self.execution_context, BLANK_ROOT)

    # -- system calls -------------------------------------------------------------------
    def _system_call(self, state, address: bytes, data: bytes, checked: bool) -> bytes:
        """Execution specs ``process_system_transaction``: a message from 0xff..fe.

        Unchecked (EIP-4788, EIP-2935): missing code does nothing.  Checked (EIP-7002,
        EIP-7251): missing code or a failed call invalidates the block.
        """
        code = state.get_code(address)
        if not code:
            if checked:
                raise BlockException(f"system contract {address.hex()} has no code")
            return b""
        message = Message(
            gas=SYSTEM_CALL_GAS, to=address, sender=SYSTEM_ADDRESS, value=0, data=data, code=code,
            code_address=address,
        )
        context = state.get_transaction_context_class()(gas_price=self.base_fee or 0, origin=SYSTEM_ADDRESS)
        computation = state.computation_class.apply_message(state, message, context)
        if checked and computation.is_error:
            raise BlockException(f"system contract {address.hex()} call failed: {computation.error!r}")
        return computation.output

    def apply_pre_block(self, state) -> None:
        """EIP-4788 and EIP-2935 system calls; leaves the writes in ``state``'s journal."""
        if not self.env.system_calls:
            return
        if self.fork.has_beacon_root_call:
            root = self.env.parent_beacon_block_root or ZERO_HASH
            self._system_call(state, BEACON_ROOTS_ADDRESS, root, checked=False)
        if self.fork.has_history_call:
            self._system_call(state, HISTORY_STORAGE_ADDRESS, self.parent_hash(), checked=False)

    def apply_post_block(self, state, logs: Sequence[Log]) -> Tuple[bytes, ...]:
        """Withdrawals, EIP-7685 requests, pre-merge rewards. Returns the requests."""
        if self.fork.has_withdrawals:
            touched = []
            for withdrawal in self.env.withdrawals:
                state.delta_balance(withdrawal.address, withdrawal.amount * 10**9)
                if withdrawal.address not in touched:
                    touched.append(withdrawal.address)
            for address in touched:
                if state.account_exists(address) and state.account_is_empty(address):
                    state.delete_account(address)
        requests: List[bytes] = []
        if self.fork.has_requests and self.env.system_calls:
            deposits = b"".join(
                extract_deposit_data(entry.data)
                for entry in logs
                if entry.address == DEPOSIT_CONTRACT_ADDRESS and entry.topics and entry.topics[0] == DEPOSIT_EVENT_SIGNATURE
            )
            if deposits:
                requests.append(b"\x00" + deposits)
            withdrawal_requests = self._system_call(state, WITHDRAWAL_REQUEST_ADDRESS, b"", checked=True)
            if withdrawal_requests:
                requests.append(b"\x01" + withdrawal_requests)
            consolidations = self._system_call(state, CONSOLIDATION_REQUEST_ADDRESS, b"", checked=True)
            if consolidations:
                requests.append(b"\x02" + consolidations)
        if not self.fork.is_post_merge:
            reward = self.fork.block_reward() if self.env.block_reward is None else self.env.block_reward
            if reward >= 0:
                ommers = self.env.ommers
                state.delta_balance(self.env.coinbase, reward + len(ommers) * (reward // 32))
                if self.fork.has_eip161 and state.account_is_empty(self.env.coinbase):
                    state.delete_account(self.env.coinbase)
                for ommer in ommers:
                    state.delta_balance(ommer.address, (8 - ommer.delta) * reward // 8)
        return tuple(requests)

    # -- transactions -------------------------------------------------------------------
    def execute_transaction(
        self, state, prepared: PreparedTx, gas_available: int, blob_gas_available: int
    ) -> TxOutcome:
        """Check and run one transaction on ``state`` (its writes stay in the journal)."""
        accounts = account_db(state)
        try:
            check_transaction(
                self.fork, prepared, state, gas_available, blob_gas_available, self.base_fee, self.blob_gas_price
            )
        except InvalidTransaction as exc:
            accounts.reset()
            return TxOutcome(status=TxStatus.INVALID, error=str(exc), sender=prepared.sender,
                             gas_limit=prepared.gas)

        tx = prepared.tx
        try:
            computation = state.apply_transaction(tx)
        except Exception as exc:  # py-evm must not raise here; if it does, drop the tx
            log.exception("py-evm raised while executing transaction %d", prepared.index)
            accounts.reset()
            return TxOutcome(status=TxStatus.INVALID, error=f"internal error while executing: {exc!r}",
                             sender=prepared.sender, gas_limit=prepared.gas)

        refund = getattr(computation, "hyperion_refund", 0)
        gas_used = tx.gas - computation.get_gas_remaining() - refund + computation.data_floor_gas
        if computation.is_success:
            status, error = TxStatus.SUCCESS, None
        elif isinstance(computation.error, Revert):
            status, error = TxStatus.REVERTED, "execution reverted"
        else:
            status, error = TxStatus.HALTED, f"{type(computation.error).__name__}: {computation.error}".rstrip(": ")
        contract = None
        if not tx.to and computation.is_success:
            contract = computation.msg.storage_address
        records: Tuple[object, ...] = ()
        if getattr(computation, ENABLED_ATTRIBUTE, False):
            records = collect_records(computation, prepared.index, prepared.hash)
        return TxOutcome(
            status=status,
            gas_used=gas_used,
            blob_gas_used=blob_gas_of(tx),
            logs=tuple(_to_log(e) for e in computation.get_log_entries()),
            return_data=computation.output,
            contract_address=contract,
            error=error,
            sender=prepared.sender,
            gas_limit=tx.gas,
            inference_records=records,
        )


def extract_deposit_data(data: bytes) -> bytes:
    """EIP-6110: the deposit request inside a DepositEvent log (execution specs layout)."""
    if len(data) != 576:
        raise BlockException("invalid deposit event data length")
    layout = ((0, 160, 48), (32, 256, 32), (64, 320, 8), (96, 384, 96), (128, 512, 8))
    out = b""
    for head, offset, size in layout:
        if int.from_bytes(data[head:head + 32], "big") != offset:
            raise BlockException("invalid offset in deposit log")
        if int.from_bytes(data[offset:offset + 32], "big") != size:
            raise BlockException("invalid size in deposit log")
        out += data[offset + 32:offset + 32 + size]
    return out
