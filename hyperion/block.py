"""Executing one block: :class:`BlockExecutor` and what it yields, :class:`BlockOutput`.

The pipeline, in the order the execution specs apply a block (docs/design.md §3):
pre-block system calls (EIP-4788, EIP-2935) → the transactions, by a scheduler →
receipts and results → post-block (withdrawals, requests) → net state diff → state root →
header fields and block hash.  Nothing is written: the engine decides what to keep.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from hyperion.chain import ChainConfig
from hyperion.deadline import Deadline, Interrupted
from hyperion.evm.forks import Fork
from hyperion.evm.header import block_hash as compute_block_hash
from hyperion.evm.header import header_fields
from hyperion.evm.processor import BlockException, BlockProcessor, account_db
from hyperion.evm.receipts import (
    ReceiptBuilder,
    assemble_results,
    ordered_trie_root,
    requests_hash,
    withdrawals_root,
)
from hyperion.scheduler import BlockJob, Scheduler
from hyperion.state.pending import PendingChain
from hyperion.state.trie.stateroot import IncrementalStateRoot, RootUpdate, compute_state_root
from hyperion.state.view import Overlay
from hyperion.trace.hooks import TraceSession, traced_state_class
from hyperion.types import BlockEnv, BlockResult, ExecutionStats, StateDiff, TxResult


@dataclass
class BlockOutput:
    """Everything executing a block yields (cf. the execution specs' ``BlockOutput``), before
    the engine gives it an id: see :meth:`to_result`."""

    fork: Fork
    #: the block's environment, ``parent_hash`` filled in
    env: BlockEnv
    parent_state_root: bytes
    #: the trie writes the store makes when the block commits; ``update.root`` is the state root
    update: RootUpdate
    diff: StateDiff
    tx_results: List[TxResult]
    gas_used: int
    blob_gas_used: int
    logs_bloom: bytes
    transactions_root: bytes
    receipts_root: bytes
    withdrawals_root: Optional[bytes]
    requests_hash: Optional[bytes]
    requests: Tuple[bytes, ...]
    block_hash: bytes
    stats: ExecutionStats
    #: why the block as a whole is invalid (it cannot be committed), else None
    block_exception: Optional[str] = None
    #: AI-precompile inference records, in transaction order
    inference_records: list = field(default_factory=list)

    @property
    def state_root(self) -> bytes:
        return self.update.root

    def to_result(self, block_id: int, parent_id: Optional[int] = None) -> BlockResult:
        return BlockResult(
            id=block_id,
            number=self.env.number,
            fork=self.fork.name,
            parent_id=parent_id,
            parent_state_root=self.parent_state_root,
            state_root=self.update.root,
            transactions_root=self.transactions_root,
            receipts_root=self.receipts_root,
            logs_bloom=self.logs_bloom,
            gas_used=self.gas_used,
            blob_gas_used=self.blob_gas_used,
            withdrawals_root=self.withdrawals_root,
            requests_hash=self.requests_hash,
            requests=self.requests,
            block_hash=self.block_hash,
            tx_results=self.tx_results,
            diff=self.diff,
            stats=self.stats,
            block_exception=self.block_exception,
            env=self.env,
            inference_records=self.inference_records,
        )


class BlockExecutor:
    """Runs blocks of one chain.

    ``state_class(fork)`` gives the py-evm state class a block of ``fork`` runs with (the
    engine's, which knows the chain's precompile sets).
    """

    def __init__(self, config: ChainConfig, state_class: Callable[[Fork], type]) -> None:
        self.config = config
        self.state_class = state_class

    def execute(self, env: BlockEnv, transactions: Sequence[object], state: PendingChain, scheduler: Scheduler,
                *, strict: bool = False, deadline: Optional[Deadline] = None,
                trace: Optional[TraceSession] = None) -> BlockOutput:
        """Execute ``transactions`` as block ``env`` on ``state`` (the parent's state).

        ``env.parent_hash`` must be set (the engine checks the parent).  A block-level
        failure in the post-block step is returned in ``block_exception``; an invalid
        transaction with ``strict`` raises from the scheduler.

        ``deadline`` (a :class:`~hyperion.deadline.Deadline`): the block runs with a state
        class that checks it inside transactions, and it is checked between transactions
        and once the transactions ran; when it fails, its error
        (:class:`~hyperion.errors.ExecutionCancelled`) is raised and nothing is returned.

        ``trace`` (a :class:`~hyperion.trace.TraceSession`): the transactions run with the
        session's tracers, in this process (``scheduler`` must be the sequential one).
        """
        if deadline is None:
            return self._execute(env, transactions, state, scheduler, strict, None, trace)
        deadline.check()
        try:
            return self._execute(env, transactions, state, scheduler, strict, deadline, trace)
        except Interrupted as exc:
            raise exc.error from None

    def _execute(self, env: BlockEnv, transactions: Sequence[object], state: PendingChain, scheduler: Scheduler,
                 strict: bool, deadline: Optional[Deadline], trace: Optional[TraceSession]) -> BlockOutput:
        config = self.config
        fork = config.fork_at(env.number, env.timestamp)
        parent_root = state.top()[1]
        record_before = state.record_before
        node = state.trie_nodes()

        clock = time.perf_counter
        state_class = self.state_class(fork)
        if deadline is not None:
            state_class = deadline.state_class(state_class)
        if trace is not None:
            state_class = traced_state_class(state_class, trace)
        processor = BlockProcessor(fork, config.chain_id, env, state.ancestor_hash, state_class)
        t_prepared = clock()
        overlay = Overlay(state.reader())
        root = IncrementalStateRoot(parent_root, record_before, node, overlay.base)

        pre_state = processor.new_state(overlay)
        processor.apply_pre_block(pre_state)
        account_db(pre_state).lock_changes()
        t_pre_block = clock()

        intermediate_root = None
        if not fork.has_status_receipts:
            def intermediate_root() -> bytes:
                return compute_state_root(parent_root, overlay.to_diff(), record_before, node).root

        ancestors = {}
        for number in range(max(env.number - 256, 0), env.number):
            block_hash = env.block_hashes.get(number) or state.ancestor_hash(number)
            if block_hash:
                ancestors[number] = block_hash
        job = BlockJob(processor=processor, inputs=list(transactions), overlay=overlay, strict=strict,
                       intermediate_root=intermediate_root, layers=state.diffs(),
                       ancestor_hashes=ancestors, head_root=state.head().state_root,
                       precompiles=tuple(config.extra_precompiles), deadline=deadline,
                       receipts=ReceiptBuilder(fork),
                       root=root)
        batch = scheduler.run(job)
        if deadline is not None:  # Block-STM's parallel phase does not check it
            deadline.check()
        stats = batch.stats
        t_txs = clock()

        results, encoded_txs, receipts, gas_used, blob_gas_used, bloom = assemble_results(
            batch.transactions, batch.outcomes, fork, batch.intermediate_roots, job.receipts
        )
        # in transaction order, from the outcomes the scheduler kept (final executions only)
        inference_records = [record for outcome in batch.outcomes for record in outcome.inference_records]
        t_assembled = clock()
        block_exception = None
        requests: tuple = ()
        post_state = processor.new_state(overlay)
        try:
            requests = processor.apply_post_block(post_state, [entry for r in results for entry in r.logs])
            account_db(post_state).lock_changes()
        except BlockException as exc:
            # The block cannot be committed (execute raises); its result keeps what ran
            # before the failure, as the execution specs' t8n reports an invalid block.
            block_exception = str(exc)
            account_db(post_state).lock_changes()

        root_started = clock()
        diff = overlay.to_diff(root)  # pre-block values the early root steps read are not read again
        t_diff = clock()
        update = root.finish(diff)
        t_root = clock()
        stats.root_seconds = t_root - root_started

        logs_bloom = int(bloom).to_bytes(256, "big")
        transactions_root = ordered_trie_root(encoded_txs)
        receipts_root = ordered_trie_root(receipts)
        t_receipt_roots = clock()
        w_root = withdrawals_root(env.withdrawals) if fork.has_withdrawals else None
        r_hash = requests_hash(requests) if fork.has_requests else None
        fields = header_fields(
            fork, env, processor.parent_hash(), update.root, transactions_root, receipts_root, logs_bloom,
            gas_used, w_root, blob_gas_used, r_hash,
        )
        output = BlockOutput(
            fork=fork, env=env, parent_state_root=parent_root, update=update, diff=diff, tx_results=results,
            gas_used=gas_used, blob_gas_used=blob_gas_used, logs_bloom=logs_bloom,
            transactions_root=transactions_root, receipts_root=receipts_root, withdrawals_root=w_root,
            requests_hash=r_hash, requests=tuple(requests), block_hash=compute_block_hash(fields), stats=stats,
            block_exception=block_exception, inference_records=inference_records,
        )
        # where the time went (seconds); ``execution_seconds`` is the transaction loop
        stats.extra.setdefault("prepare_seconds", 0.0)  # decoding + sender recovery (set by the scheduler)
        finished = clock()
        # the serial tail: from the last transaction having run (for Block-STM, the workers
        # being done) to the result; docs/blockstm.md#where-the-time-goes names the parts
        tail_started = batch.finished_at or t_txs
        tail_receipts = (t_assembled - t_txs) + (t_receipt_roots - t_root)
        tail_fold = stats.extra.get("tail_fold_seconds", 0.0)
        stats.extra.update(
            pre_block_seconds=t_pre_block - t_prepared,  # EIP-4788 / EIP-2935 system calls
            post_block_seconds=root_started - t_assembled,  # withdrawals, requests, rewards
            diff_seconds=t_diff - root_started,  # net state diff (part of root_seconds)
            # receipts, bloom, transactions / receipts roots, header
            summary_seconds=(t_assembled - t_txs) + (finished - t_root),
            tail_seconds=finished - tail_started,
            tail_fold_seconds=tail_fold,
            tail_receipts_seconds=tail_receipts,
            tail_root_seconds=t_root - root_started,
        )
        stats.extra["tail_other_seconds"] = max(
            0.0, stats.extra["tail_seconds"] - tail_fold - tail_receipts - stats.root_seconds
        )
        return output
