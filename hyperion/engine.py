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
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from hyperion import calls, heap
from hyperion.block import BlockExecutor
from hyperion.chain import ChainConfig
from hyperion.deadline import Deadline
from hyperion.errors import (
    ChainConfigError,
    GenesisError,
    InvalidBlockError,
    RevertError,
    StaleParentError,
    StoreError,
    UnknownBlockError,
)
from hyperion.evm.forks import Fork
from hyperion.evm.header import block_hash as compute_block_hash
from hyperion.evm.header import header_fields
from hyperion.evm.receipts import requests_hash
from hyperion.evm.state import state_class_for
from hyperion.genesis import alloc_to_diff, merge_allocs, system_contracts_alloc
from hyperion.precompiles.registry import warm_up as warm_up_precompiles
from hyperion.scheduler import Scheduler, make_scheduler
from hyperion.state.kv import DEFAULT_MAP_SIZE
from hyperion.state.pending import PendingChain
from hyperion.state.trie.stateroot import AccountProof, RootUpdate, compute_state_root, get_proof
from hyperion.state.store import DEFAULT_REVERT_DEPTH, Store
from hyperion.trace import TraceSession
from hyperion.trace.run import trace_block
from hyperion.types import (
    BLANK_ROOT,
    Account,
    BlockEnv,
    BlockResult,
    Head,
    TxResult,
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


@dataclass(frozen=True)
class GoneBlock:
    """Why a block id no longer names a pending block (kept for recent ids, to explain
    a later use of the id)."""

    #: completes "pending block <id> ...", e.g. "was discarded", "was committed as block 3"
    reason: str
    #: (block number, state root) if the block was committed and not reverted since
    committed: Optional[Tuple[int, bytes]] = None


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
        self._dead: "OrderedDict[int, GoneBlock]" = OrderedDict()
        self._ids = itertools.count(1)
        # the env of the head block when this engine committed it (defaults of calls)
        self._head_env: Optional[BlockEnv] = None
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
            self._sequential.close()  # its sender-recovery helper, if a block started one
            self.store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def warm_up(self) -> float:
        """Start the scheduler's worker processes now (not in the first block); -> seconds.

        Then the start-up heap leaves the garbage collector's walks (:mod:`hyperion.heap`).
        Servers call this before accepting calls.
        """
        started = time.perf_counter()
        self.scheduler.start()
        if self._config is not None:
            for activation in self._config.schedule:
                self._warm_up_workers(self._config.fork_at(activation.block or 0, activation.timestamp or 0))
        heap.freeze_startup_heap()
        return time.perf_counter() - started

    def _warm_up_workers(self, fork: Fork) -> None:
        """Build the state class (and compile precompile kernels) in the scheduler's worker
        processes before they execute a block of this fork (the workers' own warm-up)."""
        names = tuple(self.chain_config.extra_precompiles)
        if not names or (fork.name, names) in self._workers_warm:
            return
        self.scheduler.warm_up([(fork.name, names)])
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

    @property
    def head_env(self) -> Optional[BlockEnv]:
        """The env of the head block if this engine committed it (None after opening the
        store or a revert): calls default their block's timestamp and coinbase from it."""
        return self._head_env

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
            gone = self._dead.get(block_id)
            reason = gone.reason if gone is not None else "is unknown (never a pending block here, or forgotten)"
            raise UnknownBlockError(f"pending block {block_id} {reason}")
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

    def _state_at(self, ref: BlockRef) -> PendingChain:
        """The state at a pending block (``None``: the head) over a fresh store snapshot."""
        # No writer lock: a read must not wait for a running execute.  Resolving the
        # pending chain is a dict lookup plus parent pointers (atomic under the GIL), and
        # the snapshot is opened after it: if a block of the chain commits in between, its
        # diff is applied twice, which is harmless (diffs hold absolute values).
        chain = self._chain(self._resolve(ref))
        return PendingChain(self.store.reader(), chain)

    def pending_blocks(self) -> List[BlockResult]:
        # No writer lock (a server lists them while a block executes): copying the
        # values is one C-level step under the GIL, so the list is a consistent snapshot.
        return [p.result for p in list(self._pending.values())]

    def pending_block(self, ref: Union[int, BlockResult]) -> BlockResult:
        """The pending block ``ref`` names; raises :class:`~hyperion.errors.UnknownBlockError`
        (saying why, see :meth:`gone`) if it is not pending."""
        return self._resolve(ref).result

    def gone(self, block_id: int) -> Optional[GoneBlock]:
        """Why ``block_id`` is no longer pending (committed, discarded, ...); None if it is
        pending, was never a pending block, or is too old to be remembered."""
        return self._dead.get(int(block_id))

    # -- execution ----------------------------------------------------------------------
    def execute(
        self,
        env: BlockEnv,
        transactions: Sequence[TxInput],
        parent: BlockRef = None,
        *,
        strict: bool = False,
        scheduler: Optional[str] = None,
        deadline: Union[None, float, Deadline] = None,
        cancelled: Optional[Callable[[], bool]] = None,
    ) -> BlockResult:
        """Execute one block on the head (``parent=None``) or on a pending block.

        Invalid transactions are reported in the result and change nothing; the others
        still run (rollup sequencer semantics).  ``strict=True`` raises
        :class:`~hyperion.errors.InvalidTransactionError` at the first one instead.
        A block-level failure raises :class:`~hyperion.errors.InvalidBlockError`.

        ``deadline`` (a ``time.monotonic()`` instant) / ``cancelled()`` (true once the caller
        gave up): the execution stops soon after, raising :class:`~hyperion.errors.ExecutionCancelled`
        (:class:`~hyperion.errors.DeadlineExceededError`), and keeps nothing (:mod:`hyperion.deadline`).
        """
        deadline = Deadline.of(deadline, cancelled, f"block {env.number}")
        heap.freeze_startup_heap()  # a no-op after the first block or warm_up()
        with self._lock:
            started = time.perf_counter()
            config = self.chain_config
            parent_pending = self._resolve(parent)
            chain = self._chain(parent_pending)
            with PendingChain(self.store.reader(), chain) as state:
                env, head = self._check_parent(env, state)
                output = self._run(config, env, transactions, state, strict, scheduler, deadline)
            result = output.to_result(next(self._ids), parent_pending.result.id if parent_pending else None)
            result.stats.total_seconds = time.perf_counter() - started
            if result.block_exception is not None:
                raise InvalidBlockError(f"block {env.number} is invalid: {result.block_exception}", result)
            pending = _Pending(result=result, update=output.update, parent=parent_pending,
                               base_head=chain[0].base_head if chain else head)
            self._pending[result.id] = pending
            if parent_pending is not None:
                parent_pending.children.append(pending)
            return result

    def _check_parent(self, env: BlockEnv, state: PendingChain):
        """Check that ``env`` follows its parent; -> (env with parent_hash, head)."""
        head = state.head()
        if head.number < 0:
            raise GenesisError(f"{self.store.path} has no genesis: call init_genesis first")
        if state.layers and state.layers[0].base_head != head:
            raise StaleParentError("the pending parent was executed on a head that is no longer current")
        parent_number, _, parent_hash = state.top()
        if env.number != parent_number + 1:
            raise StaleParentError(
                f"block number {env.number} does not follow its parent (block {parent_number})"
            )
        if env.parent_hash is None and parent_hash is not None:
            env = _replace_env(env, parent_hash=parent_hash)
        return env, head

    def simulate(
        self,
        env: BlockEnv,
        transactions: Sequence[TxInput],
        parent: BlockRef = None,
        *,
        strict: bool = False,
        deadline: Union[None, float, Deadline] = None,
        cancelled: Optional[Callable[[], bool]] = None,
        trace: Optional[TraceSession] = None,
    ) -> BlockResult:
        """Execute a block like :meth:`execute` but keep nothing: for calls, gas estimates
        and dry runs (``deadline`` and ``cancelled`` as in :meth:`execute`).  ``trace``:
        the transactions run under that :class:`~hyperion.trace.TraceSession`'s tracers
        (:meth:`trace` is the usual way in).

        The result is complete (receipts, roots, diff) but is not a pending block: it can
        be neither committed nor used as a parent (its ``id`` resolves to nothing).  A
        block-level failure is returned in ``block_exception`` instead of raised.  Only
        resolving ``parent`` takes the writer lock; the execution itself runs on the
        sequential scheduler over a store snapshot plus the pending parents' diffs, so a
        simulation never waits for, nor disturbs, a running ``execute``.
        """
        started = time.perf_counter()
        deadline = Deadline.of(deadline, cancelled, f"the simulation of block {env.number}")
        with self._lock:
            config = self.chain_config
            parent_pending = self._resolve(parent)
            state = PendingChain(self.store.reader(), self._chain(parent_pending))
        with state:
            env, _ = self._check_parent(env, state)
            output = self._run(config, env, transactions, state, strict, "sequential", deadline, trace)
        result = output.to_result(next(self._ids), parent_pending.result.id if parent_pending else None)
        result.stats.total_seconds = time.perf_counter() - started
        return result

    def trace(self, env: BlockEnv, transactions: Sequence[TxInput], index: Optional[int] = None,
              parent: BlockRef = None, *, tracer: str = "eip3155", **options):
        """Trace transaction ``index`` of a block (all if None) as :meth:`simulate` runs it:
        ``tracer`` ``"eip3155"`` or ``"call"``; ``options``, ``max_lines``, ``deadline``,
        ``cancelled`` and the result as :func:`hyperion.trace.run.trace_block`'s."""
        return trace_block(self, env, transactions, index, parent, tracer=tracer, **options)

    def _run(self, config: ChainConfig, env: BlockEnv, transactions, state: PendingChain, strict: bool,
             scheduler_name: Optional[str], deadline: Optional[Deadline] = None,
             trace: Optional[TraceSession] = None):
        if scheduler_name in (None, self._scheduler_name):
            scheduler = self.scheduler
        elif scheduler_name == "sequential":
            scheduler = self._sequential
        else:
            raise ValueError(f"this engine runs the {self._scheduler_name} scheduler, not {scheduler_name}")
        if scheduler is self.scheduler:  # once per fork: before any transaction of the block runs
            self._warm_up_workers(config.fork_at(env.number, env.timestamp))
        return BlockExecutor(config, self._state_class).execute(env, transactions, state, scheduler, strict=strict,
                                                                deadline=deadline, trace=trace)

    def call(self, tx: TxInput, at: BlockRef = None, env: Optional[BlockEnv] = None, *,
             gas_cap: int = calls.DEFAULT_GAS_CAP, deadline: Optional[float] = None,
             cancelled: Optional[Callable[[], bool]] = None) -> TxResult:
        """``eth_call``: run one transaction on the head (or a pending block), keep nothing.

        See :func:`hyperion.calls.call` for the defaults (block env, nonce, gas, fees);
        ``deadline`` and ``cancelled`` as in :meth:`execute`.
        """
        return calls.call(self, tx, at=at, env=env, gas_cap=gas_cap, deadline=deadline, cancelled=cancelled)

    def estimate_gas(self, tx: TxInput, at: BlockRef = None, env: Optional[BlockEnv] = None, *,
                     gas_cap: int = calls.DEFAULT_GAS_CAP, deadline: Optional[float] = None,
                     cancelled: Optional[Callable[[], bool]] = None) -> calls.GasEstimate:
        """``eth_estimateGas``: the least gas limit with which ``tx`` succeeds; see
        :func:`hyperion.calls.estimate_gas`."""
        return calls.estimate_gas(self, tx, at=at, env=env, gas_cap=gas_cap, deadline=deadline, cancelled=cancelled)

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
            self._head_env = result.env
            del self._pending[result.id]
            self._forget(result.id, GoneBlock(f"was committed as block {result.number}",
                                              (result.number, result.state_root)))
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
                    self._drop(other, f"was discarded: block {result.number} was committed on the same parent")
            return head

    def discard(self, pending: Union[int, BlockResult], *, reason: str = "was discarded",
                descendants_reason: Optional[str] = None) -> List[int]:
        """Drop a pending block and every pending block built on it; returns their ids.

        ``reason`` (and ``descendants_reason`` for the blocks built on it) is what
        :meth:`gone` reports later, completing "pending block <id> ...".
        """
        with self._lock:
            entry = self._resolve(pending)
            return self._drop(entry, reason, descendants_reason)

    #: how many dropped ids keep their reason for later error messages (a server's
    #: clients may name an id again long after it was decided: a retried commit, a log)
    DEAD_IDS_KEPT = 100_000

    def _forget(self, block_id: int, gone: GoneBlock) -> None:
        self._dead[block_id] = gone
        self._dead.move_to_end(block_id)
        while len(self._dead) > self.DEAD_IDS_KEPT:
            self._dead.popitem(last=False)

    def _drop(self, entry: _Pending, reason: str, descendants_reason: Optional[str] = None) -> List[int]:
        dropped = []
        stack = [entry]
        descendants = GoneBlock(descendants_reason or f"{reason} (an ancestor was dropped)")
        while stack:
            item = stack.pop()
            if item.result.id in self._pending:
                del self._pending[item.result.id]
                self._forget(item.result.id, GoneBlock(reason) if item is entry else descendants)
                dropped.append(item.result.id)
            stack.extend(item.children)
        if entry.parent is not None and entry in entry.parent.children:
            entry.parent.children.remove(entry)
        return dropped

    def revert_to(self, number: int) -> Head:
        """Undo committed blocks above ``number`` (pending blocks are discarded first; a
        refused revert, :class:`~hyperion.errors.RevertError`, changes nothing)."""
        with self._lock:
            head, oldest = self.store.head(), self.store.oldest_revertible()
            if not oldest <= number <= head.number:  # checked before any pending block is dropped
                raise RevertError(f"cannot revert to block {number}: " + (
                    f"the head is block {head.number}" if number > head.number else "that is before genesis"
                    if number < 0 else f"the change set of block {oldest} was pruned "
                                       f"(revert depth {self.store.revert_depth})"))
            for entry in list(self._pending.values()):
                if entry.parent is None:
                    self._drop(entry, f"was discarded: the store was reverted to block {number}")
            head = self.store.revert_to(number)
            self._head_env = None
            for block_id, gone in list(self._dead.items()):
                if gone.committed is not None and gone.committed[0] > number:
                    self._dead[block_id] = GoneBlock(f"{gone.reason}, then reverted (revert to block {number})")
            return head

    # -- reads --------------------------------------------------------------------------
    def _read(self, at: BlockRef, fn):
        with self._state_at(at) as state:
            return fn(state.reader())

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
            state = self._state_at(at)
        with state:
            return get_proof(state.top()[1], bytes(address), list(slots), state.trie_nodes())

    def block_hash(self, number: int) -> Optional[bytes]:
        with self.store.reader() as reader:
            return reader.block_hash(number)


def _replace_env(env: BlockEnv, **changes) -> BlockEnv:
    from dataclasses import replace

    return replace(env, **changes)
