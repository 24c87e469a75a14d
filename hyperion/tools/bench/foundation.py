"""Issue 2's measurements: Hyperion sequential vs stock py-evm on the same signed batch.

One run builds one workload (1,000 wallets and the demo ERC-20 token at genesis, the four
system contracts, Prague) and one signed batch per kind, then executes each batch on

- **Hyperion**, end to end: ``Engine.execute`` (decode + sender recovery, EIP-4788/2935
  system calls, the transactions, EIP-7002/7251 request calls, state root from the net
  diff, transactions/receipts roots and header) and ``Engine.commit`` (one LMDB write
  transaction, synced);
- **stock py-evm**, the way its own API runs a block: decode + sender recovery
  (``builder.decode``, ``tx.sender``, ``tx.validate()``), ``block_preprocessing``,
  ``VM.apply_transaction`` per transaction, the request calls, ``state.persist()`` for the
  state root (trie over py-evm's in-memory ``AtomicDB``) and ``make_trie_root_and_nodes``
  for the transactions and receipts roots (what py-evm's block building does).

Both sides start from a fresh genesis for every repetition and must reach the same state
root (asserted).  Senders are recovered from the signatures on both sides, and the
decoding/recovery step is timed separately, so the *execution phase* (system calls and
transactions, senders already recovered on both sides) and *end to end* are reported side
by side (docs/design.md §12).  The flatdb comparison runs the same Hyperion pipeline twice in
this process, once with each twin of ``FlatAccountDB`` (compiled ``_flatdb`` and pure
``flatdb_py``), by giving the engine a state class whose ``account_db_class`` is that twin.
"""
from __future__ import annotations

import gc
import importlib
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from hyperion.tools import workloads
from hyperion.chain import ChainConfig
from hyperion.engine import Engine
from hyperion.genesis import merge_allocs, system_contracts_alloc
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
    def execution_phase(self) -> float:
        return self.execute

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
class _TwinEngine(Engine):
    """An engine whose py-evm state uses the given ``FlatAccountDB`` class."""

    account_db_class: type = None

    def _state_class(self, fork):
        base = super()._state_class(fork)
        if self.account_db_class is None or base.account_db_class is self.account_db_class:
            return base
        return type(f"{base.__name__}{self.account_db_class.__module__.rsplit('.', 1)[-1]}", (base,),
                    {"account_db_class": self.account_db_class})


def hyperion_genesis(alloc, config: ChainConfig) -> str:
    """An LMDB data directory holding the genesis (copied per repetition)."""
    path = tempfile.mkdtemp(prefix="hyperion-bench-genesis-")
    with Engine.open(path, chain_config=config) as engine:
        engine.init_genesis(alloc, chain_config=config, timestamp=GENESIS_TIME, gas_limit=GAS_LIMIT)
    return path


def run_hyperion(genesis_dir: str, config: ChainConfig, env: BlockEnv, txs: Sequence[bytes],
                 account_db_class: Optional[type] = None) -> Timing:
    work = tempfile.mkdtemp(prefix="hyperion-bench-")
    try:
        shutil.copytree(genesis_dir, work, dirs_exist_ok=True)
        engine_class = type("BenchEngine", (_TwinEngine,), {"account_db_class": account_db_class})
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


# -- the run ----------------------------------------------------------------------------------
def _median(timings: List[Timing]) -> Timing:
    out = Timing(state_root=timings[0].state_root, included=timings[0].included)
    for phase in PHASES:
        setattr(out, phase, statistics.median(getattr(t, phase) for t in timings))
    return out


def flatdb_twins() -> Dict[str, type]:
    """The FlatAccountDB classes available here: pure-Python always, compiled if built."""
    twins = {"python": importlib.import_module("hyperion.evm.accountdb.flatdb_py").FlatAccountDB}
    try:
        twins["compiled"] = importlib.import_module("hyperion.evm.accountdb._flatdb").FlatAccountDB
    except ImportError:
        pass
    return twins


# -- flatdb alone: record the calls of one execution, replay them on each twin ------------------
FLATDB_API = (
    "get_balance", "set_balance", "delta_balance", "get_nonce", "set_nonce", "increment_nonce", "get_code_hash",
    "get_code", "set_code", "delete_code", "account_has_code_or_nonce", "delete_account", "account_exists",
    "touch_account", "account_is_empty", "get_storage", "set_storage", "delete_storage", "is_address_warm",
    "mark_address_warm", "is_storage_warm", "mark_storage_warm", "record", "commit", "discard", "lock_changes",
    "take_write_set", "reset",
)


def record_flatdb_calls(genesis_dir: str, config: ChainConfig, env: BlockEnv, txs: Sequence[bytes]) -> list:
    """Execute the batch once and return every call py-evm and the engine made on FlatAccountDB.

    Events: ``(instance, method, args, kwargs, result)`` for top-level calls only (not the
    twin's calls to itself), plus ``(None, "apply", (write-set event index,), {}, None)`` when the
    scheduler folds a write set into the block overlay.
    """
    from hyperion.evm.accountdb import flatdb_py
    from hyperion.state import view

    events: list = []
    state = {"depth": 0, "instances": 0, "write_sets": {}}
    base = flatdb_py.FlatAccountDB

    def traced(name):
        original = getattr(base, name)

        def method(self, *args, **kwargs):
            top = state["depth"] == 0
            if top:
                position = len(events)
                events.append([self._trace_id, name, args, kwargs, None])
            state["depth"] += 1
            try:
                result = original(self, *args, **kwargs)
            finally:
                state["depth"] -= 1
            if top:
                events[position][4] = result
                if name == "take_write_set":
                    state["write_sets"][id(result)] = position
            return result

        return method

    def __init__(self, reader, state_root=flatdb_py.BLANK_ROOT):
        base.__init__(self, reader, state_root)
        self._trace_id = state["instances"]
        state["instances"] += 1
        events.append([self._trace_id, "__init__", (), {}, None])

    recording = type("RecordingFlatAccountDB", (base,), {"__init__": __init__, **{n: traced(n) for n in FLATDB_API}})
    original_apply = view.Overlay.apply

    def apply(self, write_set):
        if state["depth"] == 0 and id(write_set) in state["write_sets"]:
            events.append([None, "apply", (state["write_sets"][id(write_set)],), {}, None])
        return original_apply(self, write_set)

    view.Overlay.apply = apply
    try:
        run_hyperion(genesis_dir, config, env, txs, account_db_class=recording)
    finally:
        view.Overlay.apply = original_apply
    return events


class NullFlatAccountDB:
    """Answers nothing: replaying on it measures the replay loop itself (subtracted as a baseline)."""

    def __init__(self, reader, state_root=None):
        pass


for _name in FLATDB_API:
    setattr(NullFlatAccountDB, _name, lambda self, *args, **kwargs: None)


def replay_flatdb_calls(events: list, genesis_dir: str, account_db_class: type, verify: bool = False) -> float:
    """Replay recorded calls on ``account_db_class`` over the genesis store; CPU seconds.

    ``verify`` checks every answer (and write set) against the recording instead of timing.
    """
    from hyperion.state.store import Store
    from hyperion.state.view import Overlay
    from hyperion.types import BLANK_ROOT

    store = Store.open_lmdb(genesis_dir)
    reader = store.reader()
    try:
        overlay = Overlay(reader)
        instances, results, checkpoints = {}, {}, {}
        started = time.process_time()
        for position, (instance, name, args, kwargs, result) in enumerate(events):
            if name == "__init__":
                instances[instance] = account_db_class(overlay, BLANK_ROOT)
            elif name == "apply":
                write_set = results.get(args[0])
                if write_set is not None:  # (the null baseline has none)
                    overlay.apply(write_set)
            else:
                if name in ("commit", "discard"):
                    args = (checkpoints.get(args[0]),)
                value = getattr(instances[instance], name)(*args, **kwargs)
                if name == "record":
                    checkpoints[result] = value
                elif name == "take_write_set":
                    results[position] = value
                    if verify and (value.accounts, value.storage, value.wiped, value.codes) != \
                            (result.accounts, result.storage, result.wiped, result.codes):
                        raise AssertionError(f"replay on {account_db_class.__module__}: write set {position} differs")
                elif verify and value != result:
                    raise AssertionError(f"replay on {account_db_class.__module__}: call {position} ({name}) differs")
        return time.process_time() - started
    finally:
        reader.close()
        store.close()


@dataclass
class Report:
    count: int
    repeats: int
    rows: Dict[str, Dict[str, Timing]] = field(default_factory=dict)  # kind -> side -> timing
    #: kind -> twin -> CPU seconds replaying the batch's FlatAccountDB calls; kind -> number of calls
    flatdb_replay: Dict[str, Dict[str, float]] = field(default_factory=dict)
    flatdb_calls: Dict[str, int] = field(default_factory=dict)

    def ratio(self, kind: str, slow: str, fast: str, what: Callable[[Timing], float]) -> float:
        return what(self.rows[kind][slow]) / what(self.rows[kind][fast])


def foundation(count: int = 1000, repeats: int = 3, kinds: Sequence[str] = ("transfer", "erc20"),
               twins: bool = True, progress: Callable[[str], None] = lambda _m: None) -> Report:
    """Run the issue-2 comparison; every repetition runs the sides back to back."""
    config = ChainConfig()  # Prague with the system contracts (a new Hyperion chain)
    alloc = workloads.genesis_alloc(ACCOUNTS)
    stock_alloc = merge_allocs(system_contracts_alloc(), alloc)
    genesis_dir = hyperion_genesis(alloc, config)
    classes = flatdb_twins() if twins else {}
    report = Report(count=count, repeats=repeats)
    try:
        # py-evm's genesis header differs from Hyperion's (its parent beacon root is BLANK_ROOT,
        # Hyperion's and geth's zero), so give Hyperion the parent hash py-evm's block has: EIP-2935
        # stores it, and both sides must store the same value.
        from dataclasses import replace

        from hyperion.tools.reference import build_stock_vm

        env = block_env(1)
        _vm, stock_header = build_stock_vm(config.fork_at(1, env.timestamp), config.chain_id, stock_alloc, env,
                                           genesis_timestamp=GENESIS_TIME)
        env = replace(env, parent_hash=stock_header.parent_hash, block_hashes={0: stock_header.parent_hash})
        from hyperion.evm.accountdb import FlatAccountDB as default_class

        for kind in kinds:
            txs = make_batch(kind, count)

            def sides(batch):
                out = [("stock", lambda: run_stock(stock_alloc, config, env, batch)),
                       ("hyperion", lambda: run_hyperion(genesis_dir, config, env, batch))]
                for name, cls in classes.items():
                    if cls is not default_class:  # the default engine already runs that twin
                        out.append((f"hyperion[{name}]", lambda cls=cls: run_hyperion(
                            genesis_dir, config, env, batch, account_db_class=cls)))
                return out

            for _name, fn in sides(txs[:20]):  # warm-up: imports, opcode tables, caches
                fn()
            samples: Dict[str, List[Timing]] = {}
            for rep in range(repeats):
                order = sides(txs)
                order = order[rep % len(order):] + order[:rep % len(order)]  # rotate: spread load drift
                for name, fn in order:
                    gc.collect()
                    timing = fn()
                    samples.setdefault(name, []).append(timing)
                    progress(f"{kind} #{rep + 1} {name}: end to end {timing.end_to_end:.3f}s")
            rows = {name: _median(ts) for name, ts in samples.items()}
            for name, cls in classes.items():
                if cls is default_class:
                    rows[f"hyperion[{name}]"] = rows["hyperion"]
            roots = {name: t.state_root for name, t in rows.items()}
            if len(set(roots.values())) != 1:
                raise AssertionError(f"{kind}: state roots differ: { {n: r.hex() for n, r in roots.items()} }")
            included = {name: t.included for name, t in rows.items()}
            if len(set(included.values())) != 1 or rows["stock"].included != count:
                raise AssertionError(f"{kind}: included transactions differ or are not all {count}: {included}")
            report.rows[kind] = rows
            if len(classes) > 1:
                events = record_flatdb_calls(genesis_dir, config, env, txs)
                for cls in classes.values():  # the replay follows the recorded path exactly
                    replay_flatdb_calls(events, genesis_dir, cls, verify=True)
                measured = dict(classes, null=NullFlatAccountDB)
                replays: Dict[str, List[float]] = {name: [] for name in measured}
                for _rep in range(max(repeats, 5)):
                    for name, cls in measured.items():
                        replays[name].append(replay_flatdb_calls(events, genesis_dir, cls))
                loop = statistics.median(replays.pop("null"))
                report.flatdb_replay[kind] = {name: statistics.median(v) - loop for name, v in replays.items()}
                report.flatdb_calls[kind] = len(events)
    finally:
        shutil.rmtree(genesis_dir, ignore_errors=True)
    return report


def format_report(report: Report) -> str:
    lines = [f"Hyperion sequential vs stock py-evm 0.12.1b1: {report.count} txs per block, "
             f"median of {report.repeats} runs, Prague, same signed batch and same state root on every side"]
    header = f"{'batch':<9} {'side':<20} " + " ".join(f"{p:>8}" for p in PHASES) + f" {'end2end':>8} {'tx/s e2e':>9}"
    for kind, rows in report.rows.items():
        lines.append("")
        lines.append(header)
        for name, t in sorted(rows.items(), key=lambda item: (item[0] != "stock", item[0])):
            lines.append(
                f"{kind:<9} {name:<20} " + " ".join(f"{getattr(t, p):8.3f}" for p in PHASES)
                + f" {t.end_to_end:8.3f} {report.count / t.end_to_end:9,.0f}"
            )
        ex = report.ratio(kind, "stock", "hyperion", lambda t: t.execute)
        exd = report.ratio(kind, "stock", "hyperion", lambda t: t.decode + t.execute)
        e2e = report.ratio(kind, "stock", "hyperion", lambda t: t.end_to_end)
        lines.append(f"{kind}: execution phase {ex:.2f}x stock (senders pre-recovered on both sides), "
                     f"{exd:.2f}x with decoding + sender recovery on both sides; end to end {e2e:.2f}x stock")
        if "hyperion[compiled]" in rows and "hyperion[python]" in rows:
            twin = report.ratio(kind, "hyperion[python]", "hyperion[compiled]", lambda t: t.execute)
            twin_e2e = report.ratio(kind, "hyperion[python]", "hyperion[compiled]", lambda t: t.end_to_end)
            lines.append(f"{kind}: flatdb compiled vs pure-Python twin inside the engine: execution phase {twin:.2f}x, "
                         f"end to end {twin_e2e:.2f}x")
        replay = report.flatdb_replay.get(kind)
        if replay and "compiled" in replay:
            share = replay["compiled"] / rows["hyperion"].execute
            lines.append(f"{kind}: flatdb alone ({report.flatdb_calls[kind]:,} recorded calls replayed, CPU time net of "
                         f"the replay loop): "
                         f"compiled {replay['compiled'] * 1000:.1f} ms, pure Python {replay['python'] * 1000:.1f} ms: "
                         f"{replay['python'] / replay['compiled']:.2f}x (~{share:.0%} of the execution phase)")
    lines.append("")
    lines.append("phases (s): decode = decoding + sender recovery; execute = system calls + transactions "
                 "+ request calls; root = state root (Hyperion: net diff + trie; stock: persist()); summary = "
                 "receipts, bloom, transactions/receipts roots, header; commit = Hyperion's LMDB write "
                 "(stock: inside persist(), in memory)")
    return "\n".join(lines)
