"""Stock py-evm, run the way its own API runs a block: the yardstick for tests and benchmarks.

``run_stock`` executes a batch with py-evm's default state layer (``AccountDB`` over a
trie), ``VM.apply_transaction``'s steps per transaction (skipping the ones py-evm rejects, as a
sequencer would), the block reward of a pre-merge fork (py-evm's ``finalize_block``) and
``persist()`` for the root.  Nothing here is used by the engine.

py-evm's genesis header is not Hyperion's (py-evm sets the parent beacon root of a Cancun+
genesis to the empty trie root, geth and Hyperion to zero; pre-merge it uses difficulty 1),
so the two genesis hashes differ: give Hyperion ``StockResult.genesis_hash`` (or
:func:`stock_genesis_hash`) as ``BlockEnv.parent_hash`` / ``block_hashes[0]`` when BLOCKHASH or
EIP-2935 must agree.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.exceptions import Revert
from eth_utils import ValidationError

from hyperion.evm.forks import Fork
from hyperion.genesis import alloc_to_diff
from hyperion.types import BlockEnv, Log, TxStatus


@dataclass
class StockReceipt:
    index: int
    status: TxStatus
    cumulative_gas_used: int
    logs: Tuple[Log, ...]
    return_data: bytes = b""
    contract_address: Optional[bytes] = None
    #: the receipt as the receipts trie holds it
    encoded: bytes = b""


@dataclass
class StockResult:
    state_root: bytes
    receipts: List[StockReceipt]
    rejected: Dict[int, str]
    gas_used: int
    execute_seconds: float = 0.0
    root_seconds: float = 0.0
    accounts: Dict[bytes, Tuple[int, int, bytes]] = field(default_factory=dict)
    #: decoding, sender recovery and ``tx.validate()`` (not part of ``execute_seconds``)
    decode_seconds: float = 0.0
    genesis_hash: bytes = b""
    transactions_root: bytes = b""
    receipts_root: bytes = b""
    #: the py-evm VM after the block (read its ``state`` to diagnose a difference)
    vm: object = None
    #: addresses py-evm read or wrote (its persist() witness)
    accounts_queried: Tuple[bytes, ...] = ()


def _genesis_state(alloc) -> dict:
    diff = alloc_to_diff(alloc)
    state = {}
    for address, account in diff.accounts.items():
        code = diff.codes.get(account.code_hash, b"")
        state[address] = {
            "balance": account.balance,
            "nonce": account.nonce,
            "code": code,
            "storage": dict(diff.storage.get(address, {})),
        }
    return state


def build_stock_vm(fork: Fork, chain_id: int, alloc, env: BlockEnv, genesis_timestamp: int = 0):
    """A py-evm VM positioned at block ``env.number`` = 1 on a genesis made of ``alloc``."""
    vm_class = fork.vm_class
    chain_class = MiningChain.configure(vm_configuration=((0, vm_class),), chain_id=chain_id)
    genesis_params = {
        "difficulty": 0 if fork.is_post_merge else 1,
        "gas_limit": env.gas_limit,
        "timestamp": genesis_timestamp,
        "coinbase": b"\x00" * 20,
        "extra_data": b"",
        "nonce": b"\x00" * 8,
    }
    if fork.has_base_fee:
        genesis_params["base_fee_per_gas"] = env.base_fee
    chain = chain_class.from_genesis(AtomicDB(), genesis_params, _genesis_state(alloc))
    parent = chain.get_canonical_head()
    header = vm_class.create_header_from_parent(
        parent, coinbase=env.coinbase, timestamp=env.timestamp, gas_limit=env.gas_limit,
        mix_hash=env.prev_randao, difficulty=0 if fork.is_post_merge else max(env.difficulty, 1),
    )
    # set the fee fields as given (py-evm would derive them from the genesis header)
    overrides = {}
    if fork.has_base_fee:
        overrides["base_fee_per_gas"] = env.base_fee
    if fork.has_blobs:
        overrides["excess_blob_gas"] = env.excess_blob_gas or 0
        overrides["parent_beacon_block_root"] = env.parent_beacon_block_root or b"\x00" * 32
    header = header.copy(**overrides)
    return chain.get_vm(header), header


def stock_genesis_hash(fork: Fork, chain_id: int, alloc, env: BlockEnv) -> bytes:
    """The hash of the genesis block :func:`run_stock` builds (the parent of its block 1)."""
    return build_stock_vm(fork, chain_id, alloc, env)[1].parent_hash


def run_stock(fork: Fork, chain_id: int, alloc, env: BlockEnv, raw_txs: Sequence[bytes]) -> StockResult:
    """Execute ``raw_txs`` (EIP-2718 bytes) on stock py-evm as block 1 over ``alloc``."""
    from eth.db.trie import make_trie_root_and_nodes

    vm, header = build_stock_vm(fork, chain_id, alloc, env)
    genesis_hash = header.parent_hash
    builder = vm.get_transaction_builder()
    receipts: List[StockReceipt] = []
    rejected: Dict[int, str] = {}
    first_started = time.perf_counter()
    txs = []
    for index, raw in enumerate(raw_txs):
        try:
            tx = builder.decode(raw) if hasattr(builder, "decode") else builder.deserialize(raw)
            tx.sender
            tx.validate()
            txs.append((index, tx))
        except Exception as exc:
            rejected[index] = f"{type(exc).__name__}: {exc}"
    decoded = time.perf_counter()
    started = time.perf_counter()
    block = vm.get_block().copy(header=header)
    vm.block_preprocessing(block)  # EIP-4788 / EIP-2935 (py-evm writes the slots directly)
    included = []
    stock_receipts = []
    for index, tx in txs:
        # A sequencer skipping a transaction py-evm rejects must also drop its partial effects:
        # py-evm's typed transactions do not check intrinsic gas in validate(), and
        # apply_transaction then raises only after charging the sender and bumping its nonce.
        # So this is VM.apply_transaction with a snapshot around the state transition.
        try:
            vm.validate_transaction_against_header(header, tx)
        except ValidationError as exc:
            rejected[index] = str(exc)
            continue
        vm.state.lock_changes()
        snapshot = vm.state.snapshot()
        try:
            computation = vm.state.apply_transaction(tx)
        except ValidationError as exc:
            vm.state.revert(snapshot)
            rejected[index] = str(exc)
            continue
        vm.state.commit(snapshot)
        receipt = vm.make_receipt(header, tx, computation, vm.state)
        vm.validate_receipt(receipt)
        header = vm.add_receipt_to_header(header, receipt)
        included.append(tx)
        stock_receipts.append(receipt)
        if computation.is_success:
            status = TxStatus.SUCCESS
        elif isinstance(computation.error, Revert):
            status = TxStatus.REVERTED
        else:
            status = TxStatus.HALTED
        logs = tuple(
            Log(address=a, topics=tuple(t.to_bytes(32, "big") for t in topics), data=d)
            for a, topics, d in computation.get_log_entries()
        )
        receipts.append(
            StockReceipt(
                index=index,
                status=status,
                cumulative_gas_used=receipt.gas_used,
                logs=logs,
                return_data=computation.output,
                contract_address=computation.msg.storage_address if (not tx.to and computation.is_success) else None,
                encoded=receipt.encode(),
            )
        )
    if fork.has_requests:
        block = vm.get_block().copy(header=header)
        vm.process_withdrawal_request_data(block)
        vm.process_consolidation_request_data(block)
    if not fork.is_post_merge:
        # py-evm's finalize_block: the block reward (no ommers here)
        vm._assign_block_rewards(vm.get_block().copy(header=header))
    executed = time.perf_counter()
    witness = vm.state.persist()
    root = vm.state.state_root
    finished = time.perf_counter()
    return StockResult(
        state_root=root,
        receipts=receipts,
        rejected=rejected,
        gas_used=header.gas_used,
        execute_seconds=executed - started,
        root_seconds=finished - executed,
        decode_seconds=decoded - first_started,
        genesis_hash=genesis_hash,
        transactions_root=make_trie_root_and_nodes(included)[0],
        receipts_root=make_trie_root_and_nodes(stock_receipts)[0],
        vm=vm,
        accounts_queried=tuple(sorted(witness.accounts_queried)),
    )
