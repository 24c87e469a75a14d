"""One signed block timed per phase, on stock py-evm and on a cold Hyperion engine.

- **stock py-evm**, the way its own API runs a block (:func:`run_stock`): decode + sender
  recovery (``builder.decode``, ``tx.sender``, ``tx.validate()``), ``block_preprocessing``,
  ``VM.apply_transaction`` per transaction, the EIP-7002/7251 request calls,
  ``state.persist()`` for the state root (trie over py-evm's in-memory ``AtomicDB``) and
  ``make_trie_root_and_nodes`` for the transactions and receipts roots (what py-evm's block
  building does).  The benchmark runner's ``stock`` side is this function.
- **Hyperion**, end to end on a copy of a genesis data directory (:func:`run_hyperion`):
  ``Engine.execute`` (decode + sender recovery, EIP-4788/2935 system calls, the
  transactions, the request calls, state root from the net diff, transactions/receipts
  roots and header) and ``Engine.commit`` (one LMDB write transaction, synced); the engine
  class is a parameter, so a benchmark can run the engine with another ``FlatAccountDB``
  (benchmarks/bench_flatdb_twins.py).

Used by the runner's stock side, ``benchmarks/bench_interp.py`` (the ERC-20 block with
each interpreter) and ``benchmarks/bench_flatdb_twins.py``.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Dict, List, Sequence

from hyperion.tools import workloads
from hyperion.chain import ChainConfig
from hyperion.engine import Engine
from hyperion.types import BlockEnv

ACCOUNTS = 1000
GAS_LIMIT = 1_000_000_000  # 10,000 ERC-20 transfers (~52k gas each) must fit in one block
GENESIS_TIME = 1_700_000_000
COINBASE = b"\xc0" + b"\x00" * 18 + b"\x01"
PHASES = ("decode", "execute", "root", "summary", "commit")


@dataclass
class Timing:
    """Seconds per phase of one block (see the module docstring)."""

    decode: float = 0.0  #: decoding + sender recovery + static checks
    execute: float = 0.0  #: system calls + transactions (+ requests)
    root: float = 0.0  #: state root (Hyperion: net diff + trie; stock: persist())
    summary: float = 0.0  #: receipts, bloom, transactions/receipts roots, header
    commit: float = 0.0  #: Hyperion: LMDB write transaction; stock: part of persist()
    state_root: bytes = b""
    included: int = 0

    @property
    def end_to_end(self) -> float:
        return self.decode + self.execute + self.root + self.summary + self.commit


def block_env(number: int = 1) -> BlockEnv:
    return BlockEnv(
        number=number, timestamp=GENESIS_TIME + 12 * number, coinbase=COINBASE, gas_limit=GAS_LIMIT,
        base_fee=workloads.GWEI, parent_beacon_block_root=number.to_bytes(32, "big"),
    )


def make_batch(kind: str, count: int, accounts: int = ACCOUNTS) -> List[bytes]:
    """``count`` signed EIP-1559 transactions: ``transfer`` (ETH) or ``erc20`` (token ``transfer``)."""
    nonces: Dict[int, int] = {}
    if kind == "transfer":
        return workloads.transfer_batch(count, accounts, nonces)
    if kind == "erc20":
        return workloads.erc20_batch(count, accounts, nonces)
    raise ValueError(f"unknown batch kind {kind!r}")


# -- Hyperion ---------------------------------------------------------------------------------
def hyperion_genesis(alloc, config: ChainConfig) -> str:
    """An LMDB data directory holding the genesis (copied per repetition)."""
    path = tempfile.mkdtemp(prefix="hyperion-bench-genesis-")
    with Engine.open(path, chain_config=config) as engine:
        engine.init_genesis(alloc, chain_config=config, timestamp=GENESIS_TIME, gas_limit=GAS_LIMIT)
    return path


def run_hyperion(genesis_dir: str, config: ChainConfig, env: BlockEnv, txs: Sequence[bytes],
                 engine_class: type = Engine) -> Timing:
    """``txs`` as one block on a new ``engine_class`` over a copy of ``genesis_dir`` (no
    ``warm_up()``), executed and committed."""
    work = tempfile.mkdtemp(prefix="hyperion-bench-")
    try:
        shutil.copytree(genesis_dir, work, dirs_exist_ok=True)
        with engine_class.open(work, chain_config=config) as engine:
            result = engine.execute(env, txs)
            engine.commit(result)
        stats = result.stats
        extra = stats.extra
        return Timing(
            decode=extra["prepare_seconds"],
            # the scheduler's phase includes decoding; report it apart
            execute=extra["pre_block_seconds"] + stats.execution_seconds - extra["prepare_seconds"]
            + extra["post_block_seconds"],
            root=stats.root_seconds,
            summary=extra["summary_seconds"],
            commit=stats.commit_seconds,
            state_root=result.state_root,
            included=len(result.receipts),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- stock py-evm -----------------------------------------------------------------------------
def run_stock(alloc, config: ChainConfig, env: BlockEnv, txs: Sequence[bytes], header_roots: bool = True) -> Timing:
    from eth.db import trie as eth_trie
    from eth.db.trie import make_trie_root_and_nodes
    from eth_utils import ValidationError

    from hyperion.tools.reference import build_stock_vm

    fork = config.fork_at(env.number, env.timestamp)
    vm, header = build_stock_vm(fork, config.chain_id, alloc, env, genesis_timestamp=GENESIS_TIME)
    builder = vm.get_transaction_builder()
    clock = time.perf_counter

    t0 = clock()
    decoded = []
    for raw in txs:
        tx = builder.decode(raw)
        tx.sender
        tx.validate()
        decoded.append(tx)
    t1 = clock()
    block = vm.get_block().copy(header=header)
    vm.block_preprocessing(block)
    included, receipts = [], []
    for tx in decoded:
        try:
            receipt, _computation = vm.apply_transaction(header, tx)
        except ValidationError:
            continue
        header = vm.add_receipt_to_header(header, receipt)
        included.append(tx)
        receipts.append(receipt)
    if fork.has_requests:
        block = vm.get_block().copy(header=header)
        vm.process_withdrawal_request_data(block)
        vm.process_consolidation_request_data(block)
    t2 = clock()
    vm.state.persist()
    root = vm.state.state_root
    t3 = clock()
    if header_roots:
        eth_trie._make_trie_root_and_nodes.cache_clear()  # py-evm caches roots by content
        make_trie_root_and_nodes(included)
        make_trie_root_and_nodes(receipts)
    t4 = clock()
    return Timing(decode=t1 - t0, execute=t2 - t1, root=t3 - t2, summary=t4 - t3, state_root=root,
                  included=len(included))
