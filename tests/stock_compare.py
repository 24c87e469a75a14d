"""Run one block on Hyperion and on stock py-evm and compare everything, through the known differences.

The only differences a comparison excuses are the named entries of
``tests/known_differences.py``; :func:`compare_with_stock` returns the names it used, so a test
can also check that a difference it means to exercise really occurred.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Set

import rlp

from hyperion import ChainConfig, Engine
from hyperion.evm.forks import Fork, get_fork
from hyperion.evm.transactions import calldata_floor_gas
from hyperion.tools.reference import StockResult, run_stock, stock_genesis_hash
from hyperion.types import BlockEnv, BlockResult, TxStatus

from tests.known_differences import KNOWN_DIFFERENCES

#: Hyperion's invalid-transaction reasons that stock py-evm does not enforce (it includes the tx)
STOCK_ACCEPTS = {
    "priority fee greater than max fee": "priority-fee-above-max-fee",
    "sender is not an EOA": "eip3607-sender-with-code",
    "wrong chain id": "wrong-chain-id",
}
assert set(STOCK_ACCEPTS.values()) <= set(KNOWN_DIFFERENCES)


@dataclass
class Outcome:
    hyperion: BlockResult
    stock: StockResult
    #: names from KNOWN_DIFFERENCES this comparison had to use
    used: Set[str] = field(default_factory=set)
    #: tx index -> known difference that kept it out of stock's input
    skipped: Dict[int, str] = field(default_factory=dict)


class Mismatch(AssertionError):
    pass


def _tx_data(raw: bytes, fork: Fork) -> bytes:
    builder = fork.vm_class.get_transaction_builder()
    tx = builder.decode(raw) if raw[0] < 0xC0 else rlp.decode(raw, sedes=getattr(builder, "legacy_signed", builder))
    return tx.data


def hyperion_engine(fork_name: str, chain_id: int, alloc, env: BlockEnv, store: str = "memory", path: str = None):
    config = ChainConfig.single_fork(fork_name, chain_id=chain_id)
    engine = Engine.in_memory(chain_config=config) if store == "memory" else Engine.open(path, chain_config=config)
    engine.init_genesis(alloc, chain_config=config, gas_limit=env.gas_limit, base_fee=env.base_fee or 10**9)
    return engine


def state_differences(read, stock: StockResult, result: BlockResult) -> List[str]:
    """Account-level differences between Hyperion's post-state and py-evm's (diagnostics)."""
    state = stock.vm.state
    addresses = set(stock.accounts_queried) | set(result.diff.accounts) | set(result.diff.storage)
    out = []
    for address in sorted(addresses):
        mine = read.account(address)
        theirs = (state.get_nonce(address), state.get_balance(address), state.get_code_hash(address))
        exists = state.account_exists(address)
        if (mine is None) != (not exists) or (mine is not None and tuple(mine) != theirs):
            out.append(f"account {address.hex()}: Hyperion {mine}, stock {theirs if exists else None}")
        slots = set(result.diff.storage.get(address, {})) | set(range(8))
        for slot in sorted(slots):
            a, b = read.storage(address, slot), state.get_storage(address, slot)
            if a != b:
                out.append(f"  storage {address.hex()}[{slot:#x}]: Hyperion {a:#x}, stock {b:#x}")
        if address in result.diff.wiped:
            out.append(f"  (Hyperion wiped the storage of {address.hex()})")
    return out


class _Reads:
    def __init__(self, engine, result):
        self.engine, self.result = engine, result

    def account(self, address):
        account = self.engine.get_account(address, at=self.result)
        return None if account is None else (account.nonce, account.balance, account.code_hash)

    def storage(self, address, slot):
        return self.engine.get_storage(address, slot, at=self.result)


def pin_genesis(fork: Fork, chain_id: int, alloc, env: BlockEnv) -> BlockEnv:
    """``env`` with py-evm's genesis hash as parent hash and BLOCKHASH(0).

    py-evm builds its genesis header differently (see hyperion/reference.py); that is not an
    execution difference, but EIP-2935 and BLOCKHASH expose the hash, so both sides get py-evm's."""
    genesis_hash = stock_genesis_hash(fork, chain_id, alloc, env)
    return replace(env, parent_hash=genesis_hash, block_hashes={**dict(env.block_hashes), 0: genesis_hash})


def compare_with_stock(
    fork_name: str,
    chain_id: int,
    alloc,
    env: BlockEnv,
    txs: Sequence[bytes],
    engine: Optional[Engine] = None,
) -> Outcome:
    """Execute ``txs`` as block 1 on both and raise :class:`Mismatch` on any unexcused difference."""
    fork = get_fork(fork_name)
    pinned = pin_genesis(fork, chain_id, alloc, env)
    own_engine = engine is None
    if own_engine:
        engine = hyperion_engine(fork_name, chain_id, alloc, env)
    try:
        result = engine.execute(pinned, list(txs))
        return _compare(fork, fork_name, chain_id, alloc, env, txs, result, _Reads(engine, result))
    finally:
        if own_engine:
            engine.close()


def _compare(fork, fork_name, chain_id, alloc, env, txs, result, reads) -> Outcome:

    skipped: Dict[int, str] = {}
    for r in result.tx_results:
        if r.status is TxStatus.INVALID:
            for reason, name in STOCK_ACCEPTS.items():
                if reason in (r.error or ""):
                    skipped[r.index] = name
    kept = [i for i in range(len(txs)) if i not in skipped]
    stock = run_stock(fork, chain_id, alloc, env, [txs[i] for i in kept])
    outcome = Outcome(hyperion=result, stock=stock, used=set(skipped.values()), skipped=skipped)
    problems: List[str] = []

    # the same transactions are refused
    stock_rejected = {kept[i]: why for i, why in stock.rejected.items()}
    hyperion_rejected = {r.index: r.error for r in result.tx_results if r.status is TxStatus.INVALID}
    for index in sorted(set(stock_rejected) | set(hyperion_rejected)):
        if index in skipped:
            continue
        if (index in stock_rejected) != (index in hyperion_rejected):
            problems.append(
                f"tx {index}: stock {'rejects: ' + stock_rejected[index] if index in stock_rejected else 'includes it'}"
                f"; Hyperion {'rejects: ' + str(hyperion_rejected[index]) if index in hyperion_rejected else 'includes it'}"
            )

    # the same receipts, in the same positions, with no gaps
    receipts = result.receipts
    if len(receipts) != len(stock.receipts):
        problems.append(f"{len(receipts)} receipts on Hyperion, {len(stock.receipts)} on stock")
    floor_used = False
    cumulative = 0
    log_index = 0
    previous_stock_cumulative = 0
    for position, (mine, theirs) in enumerate(zip(receipts, stock.receipts)):
        where = f"tx {mine.index} (receipt {position})"
        if kept[theirs.index] != mine.index:
            problems.append(f"{where}: stock's receipt {position} is for tx {kept[theirs.index]}")
            break
        if mine.receipt_index != position or mine.first_log_index != log_index:
            problems.append(f"{where}: receipt_index {mine.receipt_index}, first_log_index {mine.first_log_index}")
        log_index += len(mine.logs)
        if mine.status is not theirs.status:
            problems.append(f"{where}: status {mine.status.value} vs stock {theirs.status.value}")
        if tuple(mine.logs) != tuple(theirs.logs):
            problems.append(f"{where}: logs differ: {mine.logs} vs {theirs.logs}")
        if mine.contract_address != theirs.contract_address:
            problems.append(f"{where}: created {mine.contract_address} vs stock {theirs.contract_address}")
        if mine.return_data != theirs.return_data:
            problems.append(f"{where}: return data {mine.return_data.hex()} vs {theirs.return_data.hex()}")
        stock_gas = theirs.cumulative_gas_used - previous_stock_cumulative
        previous_stock_cumulative = theirs.cumulative_gas_used
        if mine.gas_used != stock_gas:
            floor = calldata_floor_gas(_tx_data(txs[mine.index], fork)) if fork.has_calldata_floor else None
            if floor is not None and mine.gas_used == floor > stock_gas:
                floor_used = True
                outcome.used.add("eip7623-receipt-floor")
            else:
                problems.append(f"{where}: gas used {mine.gas_used} vs stock {stock_gas}")
        cumulative += mine.gas_used
        if mine.cumulative_gas_used != cumulative:
            problems.append(f"{where}: cumulative gas {mine.cumulative_gas_used}, its receipts sum to {cumulative}")
        if not floor_used and mine.cumulative_gas_used != theirs.cumulative_gas_used:
            problems.append(f"{where}: cumulative gas {mine.cumulative_gas_used} vs {theirs.cumulative_gas_used}")
    if result.gas_used != cumulative:
        problems.append(f"block gas used {result.gas_used}, receipts sum to {cumulative}")

    if result.state_root != stock.state_root:
        problems.append(f"state root {result.state_root.hex()} vs stock {stock.state_root.hex()}")
        problems.extend(state_differences(reads, stock, result))
    if result.transactions_root != stock.transactions_root:
        problems.append("transactions root differs")
    if not floor_used and result.receipts_root != stock.receipts_root:
        problems.append("receipts root differs")
    if problems:
        raise Mismatch(f"{fork_name}: Hyperion and stock py-evm differ:\n  " + "\n  ".join(problems))
    return outcome
