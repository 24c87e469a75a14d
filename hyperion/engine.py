"""The embedding API: :class:`Engine`.

    engine = Engine.open("./hyperion-data")          # or Engine.in_memory()
    engine.init_genesis(alloc)                        # once per data directory
    pending = engine.execute(BlockEnv(number=1, timestamp=12), [raw_tx, ...])
    engine.commit(pending)                            # or engine.discard(pending)

``execute`` never writes: it returns a pending :class:`~hyperion.types.BlockResult`
holding the receipts, roots and the net state diff.  Pending blocks can be stacked
(``parent=pending``) so a sequencer executes block N+1 before N is committed; they
commit in order, and discarding one discards its descendants (docs/design.md §5).
"""
from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from hyperion.chain import ChainConfig
from hyperion.errors import (
    ChainConfigError,
    GenesisError,
    InvalidBlockError,
    StaleParentError,
    StoreError,
    UnknownBlockError,
)
from hyperion.evm.forks import Fork
from hyperion.evm.header import block_hash as compute_block_hash
from hyperion.evm.header import header_fields
from hyperion.evm.processor import BlockException, BlockProcessor, account_db
from hyperion.evm.receipts import assemble_results, ordered_trie_root, requests_hash, withdrawals_root
from hyperion.evm.state import state_class_for
from hyperion.genesis import alloc_to_diff, merge_allocs, system_contracts_alloc
from hyperion.precompiles.registry import warm_up as warm_up_precompiles
from hyperion.scheduler import BlockJob, Scheduler, make_scheduler
from hyperion.state.kv import DEFAULT_MAP_SIZE
from hyperion.state.trie.stateroot import AccountProof, RootUpdate, compute_state_root, get_proof, layered_nodes
from hyperion.state.store import DEFAULT_REVERT_DEPTH, Store
from hyperion.state.view import DiffReader, Overlay
from hyperion.types import (
    BLANK_ROOT,
    Account,
    BlockEnv,
    BlockResult,
    Head,
    UnsignedTx,
    ZERO_HASH,
)

log = logging.getLogger("hyperion.engine")

DEFAULT_DATA_DIR = "./hyperion-data"

TxInput = Union[bytes, UnsignedTx]
BlockRef = Union[None, int, BlockResult]


@dataclass
class _Pending:
    result: BlockResult
    update: RootUpdate
    parent: Optional["_Pending"]
    #: the committed head the chain of pending blocks this one belongs to was executed on;
    #: compared whole (number, root and hash): a block that changes no state keeps the root
    base_head: Head
    children: List["_Pending"] = field(default_factory=list)


class Engine:
    """Hyperion's execution engine over one state store.

    Thread safety: writers (``execute``, ``commit``, ``discard``, ``revert_to``,
    ``init_genesis``) are serialised by a lock; readers use their own store snapshot and
    never see a half-committed block.
    """

    def __init__(
        self,
        store: Store,
        chain_config: Optional[ChainConfig] = None,
        scheduler: Union[str, Scheduler] = "sequential",
        workers: Optional[int] = None,
        scheduler_options: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.store = store
        stored = store.chain_config_json()
        if stored is not None:
            config = ChainConfig.from_json(stored)
            if chain_config is not None and chain_config != config:
                raise ChainConfigError(
                    f"{store.path} holds {config.describe()}, but {chain_config.describe()} was requested"
                )
            self._config: Optional[ChainConfig] = config
        else:
            self._config = chain_config
        if isinstance(scheduler, str):
            self.scheduler = make_scheduler(scheduler, workers, **dict(scheduler_options or {}))
            self._owns_scheduler = True
        else:  # a scheduler shared by engines used one after another (the caller closes it)
            self.scheduler = scheduler
            self._owns_scheduler = False
        self._scheduler_name = self.scheduler.name
        self.scheduler.attach(store)
        self._sequential = make_scheduler("sequential")
        self._lock = threading.RLock()
        self._pending: Dict[int, _Pending] = {}
        # why recent pending ids are gone (bounded: a server runs for months)
        self._dead: "OrderedDict[int, str]" = OrderedDict()
        self._ids = itertools.count(1)
        #: seconds spent warming up each enabled precompile set (kernels compiled or
        #: loaded from cache) when this engine started -- never in the middle of a block
        self.startup_seconds: Dict[str, float] = {}
        self._workers_warm: set = set()
        if self._config is not None:
            self._warm_up(self._config)

    def _warm_up(self, config: ChainConfig) -> None:
        if config.extra_precompiles:
            started = time.perf_counter()
            self.startup_seconds.update(warm_up_precompiles(tuple(config.extra_precompiles)))
            log.info("precompile sets %s ready in %.2fs", ", ".join(config.extra_precompiles),
                     time.perf_counter() - started)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        data_dir: str = DEFAULT_DATA_DIR,
        *,
        chain_config: Optional[ChainConfig] = None,
        scheduler: Union[str, Scheduler] = "sequential",
        workers: Optional[int] = None,
        revert_depth: int = DEFAULT_REVERT_DEPTH,
        map_size: int = DEFAULT_MAP_SIZE,
        scheduler_options: Optional[Mapping[str, Any]] = None,
    ) -> "Engine":
        """Open (creating if needed) an LMDB-backed engine in ``data_dir``."""
        store = Store.open_lmdb(data_dir, map_size=map_size, revert_depth=revert_depth)
        try:
            return cls(store, chain_config, scheduler, workers, scheduler_options)
        except BaseException:
            store.close()
            raise

    @classmethod
    def in_memory(
        cls,
        *,
        chain_config: Optional[ChainConfig] = None,
        scheduler: Union[str, Scheduler] = "sequential",
        workers: Optional[int] = None,
        revert_depth: int = DEFAULT_REVERT_DEPTH,
        scheduler_options: Optional[Mapping[str, Any]] = None,
    ) -> "Engine":
        """An engine on the in-memory backend (tests, throw-away simulations)."""
        return cls(Store.in_memory(revert_depth=revert_depth), chain_config, scheduler, workers, scheduler_options)

    def close(self) -> None:
        with self._lock:
            if self._owns_scheduler:
                self.scheduler.close()
            self.store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def warm_up(self) -> float:
        """Start the scheduler's worker processes now (not in the first block); -> seconds.

        A no-op for the sequential scheduler.  Servers call this before accepting calls.
        """
        started = time.perf_counter()
        start = getattr(self.scheduler, "start", None)
        if start is not None:
            start()
        if self._config is not None:
            for activation in self._config.schedule:
                self._warm_up_workers(self._config.fork_at(activation.block or 0, activation.timestamp or 0))
        return time.perf_counter() - started

    def _warm_up_workers(self, fork: Fork) -> None:
        """Build the state class (and compile precompile kernels) in the scheduler's worker
        processes before they execute a block of this fork (the workers' own warm-up)."""
        names = tuple(self.chain_config.extra_precompiles)
        warm_up = getattr(self.scheduler, "warm_up", None)
        if not names or warm_up is None or (fork.name, names) in self._workers_warm:
            return
        warm_up([(fork.name, names)])
        self._workers_warm.add((fork.name, names))

    # -- configuration ------------------------------------------------------------------
    @property
    def chain_config(self) -> ChainConfig:
        if self._config is None:
            raise ChainConfigError(f"{self.store.path} has no chain yet: call init_genesis first")
        return self._config

    @property
    def head(self) -> Head:
        return self.store.head()

    def fork_at(self, number: int, timestamp: int) -> Fork:
        return self.chain_config.fork_at(number, timestamp)

    def _state_class(self, fork: Fork) -> type:
        return state_class_for(fork, tuple(self.chain_config.extra_precompiles))

    # -- genesis ------------------------------------------------------------------------
    def init_genesis(
        self,
        alloc: Mapping[Any, Mapping[str, Any]],
        *,
        chain_config: Optional[ChainConfig] = None,
        timestamp: int = 0,
        gas_limit: int = 30_000_000,
        base_fee: int = 10**9,
        extra_data: bytes = b"",
        number: int = 0,
    ) -> Head:
        """Write the genesis state (block 0) and the chain configuration.

        With ``system_contracts`` on in the configuration, the four system contracts are
        added to ``alloc`` (entries in ``alloc`` win).  ``number`` starts the chain from a
        state snapshot at that block instead (t8n and state tests execute block
        ``currentNumber`` on a given pre-state); the next block executed is ``number + 1``.
        """
        with self._lock:
            config = chain_config or self._config or ChainConfig.hyperion_default()
            if self._config is not None and config != self._config:
                raise ChainConfigError(f"this engine is configured for {self._config.describe()}")
            if self.store.head().number >= 0:
                raise GenesisError(f"{self.store.path} already holds a chain (head {self.store.head().number})")
            if number < 0:
                raise GenesisError(f"the genesis block number must not be negative, got {number}")
            self._warm_up(config)  # compile / load precompile kernels now (reported in startup_seconds)
            for activation in config.schedule:  # fail before writing anything
                state_class_for(config.fork_at(activation.block or 0, activation.timestamp or 0),
                                tuple(config.extra_precompiles))
            if config.system_contracts:
                alloc = merge_allocs(system_contracts_alloc(), alloc)
            diff = alloc_to_diff(alloc)
            update = compute_state_root(BLANK_ROOT, diff, lambda a: None, lambda k: None)
            fork = config.fork_at(number, timestamp)
            env = BlockEnv(number=number, timestamp=timestamp, gas_limit=gas_limit, base_fee=base_fee, extra_data=extra_data)
            fields = header_fields(
                fork, env, ZERO_HASH, update.root, BLANK_ROOT, BLANK_ROOT, b"\x00" * 256, 0,
                BLANK_ROOT if fork.has_withdrawals else None, 0,
                requests_hash(()) if fork.has_requests else None,
            )
            head = self.store.write_genesis(diff, update, config.to_json(), compute_block_hash(fields), number=number)
            self._config = config
            return head

    # -- pending blocks -----------------------------------------------------------------
    def _resolve(self, ref: BlockRef) -> Optional[_Pending]:
        if ref is None:
            return None
        block_id = ref.id if isinstance(ref, BlockResult) else int(ref)
        pending = self._pending.get(block_id)
        if pending is None:
            reason = self._dead.get(block_id, "no such pending block")
            raise UnknownBlockError(f"pending block {block_id}: {reason}")
        return pending

    @staticmethod
    def _chain(pending: Optional[_Pending]) -> List[_Pending]:
        """Pending ancestors of (and including) ``pending``, oldest first."""
        chain = []
        while pending is not None:
            chain.append(pending)
            pending = pending.parent
        chain.reverse()
        return chain

    def pending_blocks(self) -> List[BlockResult]:
        with self._lock:
            return [p.result for p in self._pending.values()]

    def _reader_for(self, chain: Sequence[_Pending], store_reader):
        reader = store_reader
        for pending in chain:
            reader = DiffReader(reader, pending.result.diff)
        return reader

    # -- execution ----------------------------------------------------------------------
    def execute(
        self,
        env: BlockEnv,
        transactions: Sequence[TxInput],
        parent: BlockRef = None,
        *,
        strict: bool = False,
        scheduler: Optional[str] = None,
    ) -> BlockResult:
        """Execute one block on the head (``parent=None``) or on a pending block.

        Invalid transactions are reported in the result and change nothing; the others
        still run (rollup sequencer semantics).  ``strict=True`` raises
        :class:`~hyperion.errors.InvalidTransactionError` at the first one instead.
        A block-level failure raises :class:`~hyperion.errors.InvalidBlockError`.
        """
        with self._lock:
            started = time.perf_counter()
            config = self.chain_config
            parent_pending = self._resolve(parent)
            chain = self._chain(parent_pending)
            store_reader = self.store.reader()
            try:
                env, parent_root, head = self._check_parent(env, chain, store_reader)
                result, update = self._execute_on(
                    config, env, transactions, chain, store_reader, parent_root, strict, scheduler
                )
            finally:
                store_reader.close()
            result.parent_id = parent_pending.result.id if parent_pending else None
            result.stats.total_seconds = time.perf_counter() - started
            if result.block_exception is not None:
                raise InvalidBlockError(f"block {env.number} is invalid: {result.block_exception}", result)
            pending = _Pending(result=result, update=update, parent=parent_pending,
                               base_head=chain[0].base_head if chain else head)
            self._pending[result.id] = pending
            if parent_pending is not None:
                parent_pending.children.append(pending)
            return result

    def _check_parent(self, env: BlockEnv, chain: Sequence[_Pending], store_reader):
        """Check that ``env`` follows its parent; -> (env with parent_hash, parent root, head)."""
        head = store_reader.head()
        if head.number < 0:
            raise GenesisError(f"{self.store.path} has no genesis: call init_genesis first")
        if chain:
            parent_number = chain[-1].result.number
            parent_root = chain[-1].result.state_root
            parent_hash = chain[-1].result.block_hash
            if chain[0].base_head != head:
                raise StaleParentError("the pending parent was executed on a head that is no longer current")
        else:
            parent_number, parent_root, parent_hash = head.number, head.state_root, head.block_hash
        if env.number != parent_number + 1:
            raise StaleParentError(
                f"block number {env.number} does not follow its parent (block {parent_number})"
            )
        if env.parent_hash is None and parent_hash is not None:
            env = _replace_env(env, parent_hash=parent_hash)
        return env, parent_root, head

    def simulate(
        self,
        env: BlockEnv,
        transactions: Sequence[TxInput],
        parent: BlockRef = None,
        *,
        strict: bool = False,
    ) -> BlockResult:
        """Execute a block like :meth:`execute` but keep nothing: for calls, gas estimates
        and dry runs.

        The result is complete (receipts, roots, diff) but is not a pending block: it can
        be neither committed nor used as a parent (its ``id`` resolves to nothing).  A
        block-level failure is returned in ``block_exception`` instead of raised.  Only
        resolving ``parent`` takes the writer lock; the execution itself runs on the
        sequential scheduler over a store snapshot plus the pending parents' diffs, so a
        simulation never waits for, nor disturbs, a running ``execute``.
        """
        started = time.perf_counter()
        with self._lock:
            config = self.chain_config
            parent_pending = self._resolve(parent)
            chain = self._chain(parent_pending)
            store_reader = self.store.reader()
        try:
            env, parent_root, head = self._check_parent(env, chain, store_reader)
            result, _ = self._execute_on(config, env, transactions, chain, store_reader, parent_root, strict,
                                         "sequential")
        finally:
            store_reader.close()
        result.parent_id = parent_pending.result.id if parent_pending else None
        result.stats.total_seconds = time.perf_counter() - started
        return result

    def _execute_on(self, config, env, transactions, chain, store_reader, parent_root, strict, scheduler_name):
        fork = config.fork_at(env.number, env.timestamp)
        base = self._reader_for(chain, store_reader)

        def ancestor_hash(number: int) -> Optional[bytes]:
            for pending in reversed(chain):
                if pending.result.number == number:
                    return pending.result.block_hash
            return store_reader.block_hash(number)

        def record_before(address: bytes):
            for pending in reversed(chain):
                if address in pending.update.records:
                    return pending.update.records[address]
            return store_reader.account_record(address)

        # trie nodes by path: the pending parents' writes (newest first) over the snapshot
        node = layered_nodes(store_reader.trie_lookup(), [pending.update for pending in chain])

        clock = time.perf_counter
        processor = BlockProcessor(fork, config.chain_id, env, ancestor_hash, self._state_class(fork))
        t_prepared = clock()
        overlay = Overlay(base)

        pre_state = processor.new_state(overlay)
        processor.apply_pre_block(pre_state)
        account_db(pre_state).lock_changes()
        t_pre_block = clock()

        intermediate_root = None
        if not fork.has_status_receipts:
            def intermediate_root() -> bytes:
                return compute_state_root(parent_root, overlay.to_diff(), record_before, node).root

        if scheduler_name in (None, self._scheduler_name):
            scheduler = self.scheduler
        elif scheduler_name == "sequential":
            scheduler = self._sequential
        else:
            raise ValueError(f"this engine runs the {self._scheduler_name} scheduler, not {scheduler_name}")
        ancestors = {}
        for number in range(max(env.number - 256, 0), env.number):
            block_hash = env.block_hashes.get(number) or ancestor_hash(number)
            if block_hash:
                ancestors[number] = block_hash
        job = BlockJob(processor=processor, inputs=list(transactions), overlay=overlay, strict=strict,
                       intermediate_root=intermediate_root, layers=[p.result.diff for p in chain],
                       ancestor_hashes=ancestors, head_root=store_reader.head().state_root,
                       precompiles=tuple(config.extra_precompiles))
        if scheduler is self.scheduler:
            self._warm_up_workers(fork)  # once per fork: before any transaction of the block runs
        batch = scheduler.run(job)
        stats = batch.stats
        t_txs = clock()

        results, encoded_txs, receipts, gas_used, blob_gas_used, bloom = assemble_results(
            batch.transactions, batch.outcomes, fork, batch.intermediate_roots
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
        diff = overlay.to_diff()
        t_diff = clock()
        update = compute_state_root(parent_root, diff, record_before, node)
        t_root = clock()
        stats.root_seconds = t_root - root_started

        logs_bloom = int(bloom).to_bytes(256, "big")
        transactions_root = ordered_trie_root(encoded_txs)
        receipts_root = ordered_trie_root(receipts)
        w_root = withdrawals_root(env.withdrawals) if fork.has_withdrawals else None
        r_hash = requests_hash(requests) if fork.has_requests else None
        fields = header_fields(
            fork, env, processor.parent_hash(), update.root, transactions_root, receipts_root, logs_bloom,
            gas_used, w_root, blob_gas_used, r_hash,
        )
        result = BlockResult(
            id=next(self._ids),
            number=env.number,
            fork=fork.name,
            parent_id=None,
            parent_state_root=parent_root,
            state_root=update.root,
            transactions_root=transactions_root,
            receipts_root=receipts_root,
            logs_bloom=logs_bloom,
            gas_used=gas_used,
            blob_gas_used=blob_gas_used,
            withdrawals_root=w_root,
            requests_hash=r_hash,
            requests=tuple(requests),
            block_hash=compute_block_hash(fields),
            tx_results=results,
            diff=diff,
            stats=stats,
            block_exception=block_exception,
            env=env,
            inference_records=inference_records,
        )
        # where the time went (seconds); ``execution_seconds`` is the transaction loop
        stats.extra.setdefault("prepare_seconds", 0.0)  # decoding + sender recovery (set by the scheduler)
        stats.extra.update(
            pre_block_seconds=t_pre_block - t_prepared,  # EIP-4788 / EIP-2935 system calls
            post_block_seconds=root_started - t_assembled,  # withdrawals, requests, rewards
            diff_seconds=t_diff - root_started,  # net state diff (part of root_seconds)
            # receipts, bloom, transactions / receipts roots, header
            summary_seconds=(t_assembled - t_txs) + (clock() - t_root),
        )
        return result, update

    # -- decisions ----------------------------------------------------------------------
    def commit(self, pending: Union[int, BlockResult]) -> Head:
        """Write a pending block to the store (its parent must be the committed head)."""
        with self._lock:
            entry = self._resolve(pending)
            if entry.parent is not None:
                raise StaleParentError(
                    f"pending block {entry.result.id} (number {entry.result.number}) sits on pending block "
                    f"{entry.parent.result.id}: commit that one first"
                )
            started = time.perf_counter()
            result = entry.result
            head = self.store.commit_block(
                result.number, result.parent_state_root, result.diff, entry.update, result.block_hash
            )
            result.stats.commit_seconds = time.perf_counter() - started
            del self._pending[result.id]
            self._forget(result.id, "already committed")
            for child in entry.children:
                child.parent = None
            descendants = list(entry.children)
            while descendants:  # they now sit on the new head
                descendant = descendants.pop()
                descendant.base_head = head
                descendants.extend(descendant.children)
            # siblings built on the same parent can never commit now
            for other in list(self._pending.values()):
                if other.parent is None and other.base_head != head:
                    self._drop(other, f"discarded: block {result.number} was committed on the same parent")
            return head

    def discard(self, pending: Union[int, BlockResult]) -> List[int]:
        """Drop a pending block and every pending block built on it; returns their ids."""
        with self._lock:
            entry = self._resolve(pending)
            return self._drop(entry, "discarded")

    #: how many dropped ids keep their reason for later error messages
    DEAD_IDS_KEPT = 4096

    def _forget(self, block_id: int, reason: str) -> None:
        self._dead[block_id] = reason
        while len(self._dead) > self.DEAD_IDS_KEPT:
            self._dead.popitem(last=False)

    def _drop(self, entry: _Pending, reason: str) -> List[int]:
        dropped = []
        stack = [entry]
        while stack:
            item = stack.pop()
            if item.result.id in self._pending:
                del self._pending[item.result.id]
                self._forget(item.result.id, reason if item is entry else f"{reason} (an ancestor was dropped)")
                dropped.append(item.result.id)
            stack.extend(item.children)
        if entry.parent is not None and entry in entry.parent.children:
            entry.parent.children.remove(entry)
        return dropped

    def revert_to(self, number: int) -> Head:
        """Undo committed blocks above ``number`` (pending blocks are discarded first)."""
        with self._lock:
            for entry in list(self._pending.values()):
                if entry.parent is None:
                    self._drop(entry, f"discarded: the store was reverted to block {number}")
            return self.store.revert_to(number)

    # -- reads --------------------------------------------------------------------------
    def _read(self, at: BlockRef, fn):
        # No writer lock: a read must not wait for a running execute.  Resolving the
        # pending chain is a dict lookup plus parent pointers (atomic under the GIL), and
        # the snapshot is opened after it: if a block of the chain commits in between, its
        # diff is applied twice, which is harmless (diffs hold absolute values).
        chain = self._chain(self._resolve(at))
        reader = self.store.reader()
        try:
            return fn(self._reader_for(chain, reader))
        finally:
            reader.close()

    def get_account(self, address: bytes, at: BlockRef = None) -> Optional[Account]:
        """The account at the head (or at a pending block), ``None`` if it does not exist."""
        value = self._read(at, lambda r: r.read_account(bytes(address)))
        return None if value is None else Account(*value)

    def get_balance(self, address: bytes, at: BlockRef = None) -> int:
        account = self.get_account(address, at)
        return 0 if account is None else account.balance

    def get_nonce(self, address: bytes, at: BlockRef = None) -> int:
        account = self.get_account(address, at)
        return 0 if account is None else account.nonce

    def get_storage(self, address: bytes, slot: int, at: BlockRef = None) -> int:
        return self._read(at, lambda r: r.read_storage(bytes(address), int(slot)))

    def get_code(self, address: bytes, at: BlockRef = None) -> bytes:
        def read(reader):
            account = reader.read_account(bytes(address))
            return b"" if account is None else reader.read_code(account[2])

        return self._read(at, read)

    def get_code_by_hash(self, code_hash: bytes, at: BlockRef = None) -> Optional[bytes]:
        """Code by its keccak hash (None if unknown), e.g. to verify inference records."""
        def read(reader):
            try:
                return reader.read_code(bytes(code_hash))
            except StoreError:
                return None

        return self._read(at, read)

    def get_proof(self, address: bytes, slots: Iterable[Union[int, bytes]] = (), at: BlockRef = None) -> AccountProof:
        """``eth_getProof``: the account at the head (or a pending block) with Merkle proofs.

        Returns an :class:`~hyperion.state.trie.stateroot.AccountProof` (address, balance,
        nonce, code hash, storage hash, account proof and one storage proof per slot,
        each proof the rlp nodes from the root down); ``.to_rpc()`` gives the JSON-RPC
        shape.  A missing account or slot gets a proof of absence.
        """
        with self._lock:
            chain = self._chain(self._resolve(at))
            reader = self.store.reader()
        try:
            root = chain[-1].result.state_root if chain else reader.head().state_root
            nodes = layered_nodes(reader.trie_lookup(), [pending.update for pending in chain])
            return get_proof(root, bytes(address), list(slots), nodes)
        finally:
            reader.close()

    def block_hash(self, number: int) -> Optional[bytes]:
        with self.store.reader() as reader:
            return reader.block_hash(number)


def _replace_env(env: BlockEnv, **changes) -> BlockEnv:
    from dataclasses import replace

    return replace(env, **changes)
