"""``hyperion bench run``: every side on the same signed blocks, roots checked, raw timings kept.

For each workload (:mod:`hyperion.tools.bench.suite`) one LMDB engine per Hyperion side is
opened on the workload's genesis: ``sequential`` and ``blockstm-N`` for each worker count
(``warm_up()`` called).  For each contention level the workload's blocks are built, and in
each round every side executes every block, the order of the sides rotating from round to
round (this machine's speed drifts within seconds).  A Hyperion side's time is
``execute()`` + ``commit()`` end to end (decoding, sender recovery, execution, receipts,
state root, LMDB write); the block is then reverted, untimed, so every block runs on the
genesis.  The ``stock`` side is py-evm as its own API runs a block (decode and recover,
``apply_transaction`` per transaction, ``persist()``, transactions and receipts roots;
:func:`hyperion.tools.bench.one_block.run_stock`) on a fresh genesis each time, VM set-up
untimed; a workload stock py-evm cannot run (the ``ai`` workload's precompiles, a
replayed t8n block) has no stock side, and the run's ``notes`` say why.  Round 0 is a
warm-up (its first block only) and is not kept; the stock side warms up on the run's
first workload only, since it builds a fresh VM for every block anyway.  Before anything is reported the state
roots of all sides (and receipts roots, gas and per-transaction results of the Hyperion
sides) must agree, block by block; a difference raises :class:`ResultMismatch`.

With ``chain`` (``bench run --chain``, and ``bench parallel``, its preset) the blocks form a
chain instead: each block is built on the last one's state (each wallet's nonce advances,
across workloads too), only ``execute()`` is timed and ``commit()`` follows untimed (its
time is kept as ``commit_seconds``), nothing is reverted, and every round runs new blocks
(round 0: one warm-up block).  Stock py-evm runs every block on a fresh genesis, so a
chained run has no stock side, and a replayed t8n block (one block on its own pre-state)
cannot be chained.
"""
from __future__ import annotations

import itertools
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Callable, Dict, List, Optional, Sequence

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads as w
from hyperion.tools.bench import one_block, replay, suite

STOCK, SEQUENTIAL = "stock", "sequential"
#: the ``--workload`` name that stands for every suite workload
ALL = "all"
BASELINES = (STOCK, SEQUENTIAL)
GENESIS_TIME = one_block.GENESIS_TIME
COINBASE = b"\xc0" * 20
#: packages whose versions the JSON records
PACKAGES = ("hyperion-evm", "py-evm", "cython", "lmdb", "eth-hash", "coincurve", "matplotlib")


class ResultMismatch(AssertionError):
    """Two sides computed different results for the same block (a bug, never noise)."""


def side_name(workers: int) -> str:
    return f"blockstm-{workers}"


@dataclass
class Sample:
    """One side's run of one block."""

    round: int
    block: int
    seconds: float
    gas_used: int
    state_root: str
    #: Hyperion sides only (stock py-evm's receipts are not compared)
    receipts_root: Optional[str] = None
    stats: Dict[str, object] = field(default_factory=dict)
    #: chained runs only: the untimed ``commit()`` that followed ``execute()``
    commit_seconds: Optional[float] = None


@dataclass
class Config:
    """One workload at one contention level: every side's samples."""

    workload: str
    contention: float
    txs: int  # per block
    samples: Dict[str, List[Sample]] = field(default_factory=dict)
    #: peak resident set of this process after the configuration, in MiB (worker processes
    #: are not included while they live: the kernel counts a child once it has exited)
    peak_rss_mib: float = 0.0


@dataclass
class Run:
    """Everything one invocation measured; :meth:`to_json` is what ``--json`` writes."""

    txs: int
    blocks: int
    rounds: int
    workers: List[int]
    baselines: List[str]
    seed: int
    #: wallets sending the blocks' transactions (``txs``: one transaction each per block)
    accounts: int = 0
    #: the Block-STM sides, in order (one per worker count unless the caller named its own)
    blockstm: List[str] = field(default_factory=list)
    chain: bool = False
    #: the contention levels asked for (a workload without the knob runs at 1 only)
    contentions: List[float] = field(default_factory=list)
    configs: List[Config] = field(default_factory=list)
    warm_up_seconds: Dict[str, Dict[str, float]] = field(default_factory=dict)
    #: what the reader of the figures must know, e.g. which workload has no stock side and why
    notes: List[str] = field(default_factory=list)

    def sides(self) -> List[str]:
        return [b for b in BASELINES if b in self.baselines] + self.blockstm

    def to_json(self) -> dict:
        return {
            "kind": "hyperion-bench-run", "machine": machine(), "txs": self.txs, "blocks": self.blocks,
            "rounds": self.rounds, "workers": self.workers, "baselines": self.baselines, "seed": self.seed,
            "accounts": self.accounts or self.txs,
            "contentions": self.contentions, "chain": self.chain, "chain_id": suite.CHAIN_ID,
            "timed": "execute() end to end, commit() untimed (chained blocks)" if self.chain
            else "execute() + commit() end to end; stock: decode to roots",
            "warm_up_seconds": self.warm_up_seconds, "notes": self.notes,
            "configs": [{"workload": c.workload, "contention": c.contention, "txs": c.txs, "peak_rss_mib": c.peak_rss_mib,
                         "samples": {side: [vars(s) for s in samples] for side, samples in c.samples.items()}}
                        for c in self.configs],
        }


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "packages": versions, "git_revision": _git_revision(),
            "compiled": os.environ.get("HYPERION_PUREPYTHON") != "1"}


def _git_revision() -> Optional[str]:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=os.path.dirname(__file__), capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def stats_dict(stats) -> Dict[str, object]:
    """A block's stats as plain data (``extra`` flattened in), whatever this engine reports."""
    out: Dict[str, object] = {}
    for name, value in vars(stats).items():
        if name == "extra":
            out.update({key: v for key, v in value.items() if isinstance(v, (int, float, str))})
        elif isinstance(value, (int, float, str)) or value is None:
            out[name] = value
    return out


def _gas_limit(txs: int) -> int:
    # room for the heaviest workload's transactions (``data`` uses of up to ~200,000 gas)
    return max(30_000_000, 250_000 * txs)


@dataclass
class Setting:
    """What one workload runs on: its genesis, chain, block environment and blocks."""

    alloc: dict
    config: ChainConfig
    env: BlockEnv
    genesis: dict  # init_genesis keyword arguments
    #: (contention, nonce book or None) -> signed blocks (a chain when given the book)
    blocks: Callable[[float, Optional[suite.Nonces]], List[list]]
    levels: List[float]
    #: why stock py-evm cannot run these blocks ("": it can)
    no_stock: str = ""


def _suite_setting(run: Run, contentions: Sequence[float]) -> Setting:
    config = ChainConfig(chain_id=suite.CHAIN_ID)
    alloc = suite.genesis(run.accounts or run.txs)
    env = BlockEnv(number=1, timestamp=GENESIS_TIME + 12, coinbase=COINBASE, base_fee=w.GWEI,
                   gas_limit=_gas_limit(run.txs), parent_beacon_block_root=(1).to_bytes(32, "big"))
    if STOCK in run.baselines:
        # py-evm's genesis hash differs from Hyperion's (its genesis header has other empty
        # fields); EIP-2935 stores the parent hash, so both sides must be given the same one
        from hyperion.tools.reference import build_stock_vm

        _vm, header = build_stock_vm(config.fork_at(1, env.timestamp), config.chain_id, alloc, env,
                                     genesis_timestamp=GENESIS_TIME)
        env = replace(env, parent_hash=header.parent_hash, block_hashes={0: header.parent_hash})
    return Setting(alloc, config, env, {"timestamp": GENESIS_TIME, "gas_limit": env.gas_limit}, None,
                   list(contentions))


def _setting(name: str, run: Run, shared: Callable[[], Setting]) -> Setting:
    if name.startswith(replay.PREFIX):
        block = replay.load(name[len(replay.PREFIX):])
        return Setting(block.alloc, block.config, block.env,
                       {"number": block.genesis_number, "timestamp": block.genesis_timestamp,
                        "gas_limit": block.env.gas_limit},
                       lambda _contention, _nonces: [block.txs], [0.0],
                       no_stock="py-evm's reference VM builds only block 1 on a genesis")
    workload = suite.get(name)
    # a chain needs new blocks every round: one warm-up block, then ``blocks`` per round
    count = 1 + run.rounds * run.blocks if run.chain else run.blocks
    setting = replace(shared(), blocks=lambda contention, nonces: suite.blocks(name, run.txs, count, contention,
                                                                                run.seed, nonces,
                                                                                run.accounts or None))
    if workload.precompiles:
        config = replace(setting.config, extra_precompiles=workload.precompiles)
        setting = replace(setting, config=config, no_stock=workload.no_stock)
    return setting if workload.contended else replace(setting, levels=[1.0])


def workload_names(entries: Sequence[str]) -> List[str]:
    """``entries`` with ``all`` replaced by every suite workload, each name once, in order."""
    return list(dict.fromkeys(name for entry in entries for name in (suite.WORKLOADS if entry == ALL else [entry])))


def measure(workloads: Sequence[str], txs: int, blocks: int = 1, workers: Sequence[int] = (1, 2),
            contentions: Sequence[float] = (0.0,), baselines: Sequence[str] = BASELINES, rounds: int = 3,
            seed: int = 13, progress: Callable[[str], None] = lambda _message: None,
            scheduler_options: Optional[Dict[str, object]] = None, chain: bool = False,
            blockstm_sides: Optional[Dict[str, Dict[str, object]]] = None, accounts: Optional[int] = None) -> Run:
    """Run ``workloads`` (suite names, ``all`` for every one of them, or ``t8n:DIR`` for a
    t8n input's block).  ``scheduler_options`` go to the Block-STM engines (the tests lower
    ``min_txs`` so that tiny blocks run in parallel); ``chain``: see the module docstring.
    ``blockstm_sides`` (side name -> ``Engine.open`` keywords besides ``scheduler``) replaces
    the one Block-STM side per worker count, e.g. to compare scheduler options side by side.
    ``accounts``: the wallets that send the blocks' transactions (default ``txs``, one
    transaction each per block; fewer send several each, their nonces advancing)."""
    workloads = workload_names(workloads)
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline {sorted(unknown)[0]!r}; choose from {', '.join(BASELINES)}")
    for name in workloads:
        if not name.startswith(replay.PREFIX):
            suite.get(name)
        elif chain:
            raise ValueError(f"{name}: a replayed t8n block runs on its own pre-state and cannot be chained")
    if accounts is not None and accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    if chain and STOCK in baselines:
        raise ValueError("a chained run has no stock side (py-evm runs every block on a fresh genesis); "
                         "use --baseline sequential")
    if blockstm_sides is None:
        blockstm_sides = {side_name(n): {"workers": n, "scheduler_options": scheduler_options} for n in workers}
    run = Run(txs=txs, blocks=blocks, rounds=rounds, workers=list(workers), baselines=list(baselines), seed=seed,
              accounts=min(accounts or txs, txs), blockstm=list(blockstm_sides), chain=chain, contentions=list(contentions))
    shared: List[Setting] = []

    def shared_setting() -> Setting:  # built once, for the first suite workload
        if not shared:
            progress(f"genesis of {run.accounts:,} accounts")
            shared.append(_suite_setting(run, contentions))
        return shared[0]

    settings = [(name, _setting(name, run, shared_setting)) for name in workloads]
    # consecutive workloads on the same genesis and chain share engines (each block is
    # reverted after it runs), which saves starting and warming up workers per workload
    for _key, group in itertools.groupby(settings, key=lambda item: (id(item[1].alloc), item[1].config)):
        group = list(group)
        with tempfile.TemporaryDirectory(prefix="hyperion-bench-") as tmp:
            engines: Dict[str, Engine] = {}
            try:
                progress(f"{', '.join(name for name, _ in group)}: opening engines")
                first = group[0][1]
                engines[SEQUENTIAL] = Engine.open(f"{tmp}/{SEQUENTIAL}", chain_config=first.config)
                for side, options in blockstm_sides.items():
                    engines[side] = Engine.open(f"{tmp}/{side}", chain_config=first.config, scheduler="blockstm",
                                                **options)
                for engine in engines.values():
                    engine.init_genesis(first.alloc, **first.genesis)
                warm_up = {side: engine.warm_up() for side, engine in engines.items()}
                if SEQUENTIAL not in baselines:
                    engines.pop(SEQUENTIAL).close()
                nonces = {} if chain else None  # one book per genesis: the group's blocks are one chain
                for name, setting in group:
                    run.warm_up_seconds[name] = warm_up
                    if setting.no_stock and STOCK in baselines:
                        run.notes.append(f"{name}: no stock side: {setting.no_stock}")
                        progress(run.notes[-1])
                    for contention in setting.levels:
                        run.configs.append(_measure_config(run, engines, setting, name, contention, nonces,
                                                           progress))
            finally:
                for engine in engines.values():
                    engine.close()
    return run


def _measure_config(run: Run, engines: Dict[str, Engine], setting: Setting, name: str, contention: float,
                    nonces: Optional[suite.Nonces], progress) -> Config:
    signed = setting.blocks(contention, nonces)
    per_round = len(signed) if not run.chain else run.blocks
    result = Config(name, contention, len(signed[0]))
    sides = [side for side in run.sides() if not setting.no_stock or side != STOCK]
    base = setting.genesis.get("number", 0)
    # stock py-evm builds a fresh VM for every block: once its first block of the run has
    # warmed the interpreter's imports and caches, a warm-up block per workload only costs time
    stock_warm = any(STOCK in config.samples for config in run.configs)
    for round_ in range(run.rounds + 1):  # round 0: the warm-up
        if round_ == 0:
            round_blocks = signed[:1]
        else:  # a chain's round has blocks of its own, after the warm-up block
            first = 1 + (round_ - 1) * per_round if run.chain else 0
            round_blocks = signed[first:first + per_round]
        for index, txs in enumerate(round_blocks):
            label = "warm-up" if round_ == 0 else f"round {round_}/{run.rounds}"
            progress(f"{name} contention {contention:g}: {label}, block {index + 1}/{per_round}")
            env = _next_env(setting.env, engines) if run.chain else setting.env
            shift = (round_ + index) % len(sides)
            samples, tx_results = {}, {}
            for side in sides[shift:] + sides[:shift]:
                if side == STOCK and round_ == 0 and stock_warm:
                    continue
                if side == STOCK:
                    timing = one_block.run_stock(setting.alloc, setting.config, setting.env, txs)
                    # its phases under the engine's names, so the time split treats both alike
                    phases = {"prepare_seconds": timing.decode, "execution_seconds": timing.decode + timing.execute,
                              "root_seconds": timing.root, "summary_seconds": timing.summary}
                    samples[side] = Sample(round_, index, timing.end_to_end, -1, "0x" + timing.state_root.hex(),
                                           stats=phases)
                else:
                    run_block = _run_chained if run.chain else _run_hyperion
                    samples[side], tx_results[side] = run_block(engines[side], env, txs, base, round_, index)
            _check_same(name, contention, index, samples, tx_results)
            if round_ == 0:
                continue
            gas = next(s.gas_used for s in samples.values() if s.gas_used >= 0)
            for side, sample in samples.items():
                sample.gas_used = gas  # the stock side's gas is the same (its root matched)
                result.samples.setdefault(side, []).append(sample)
    result.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _run_hyperion(engine: Engine, env: BlockEnv, txs: Sequence[bytes], base: int, round_: int, index: int):
    """-> (the sample, the block's per-transaction results)."""
    started = time.perf_counter()
    block = engine.execute(env, txs)
    engine.commit(block)
    seconds = time.perf_counter() - started
    engine.revert_to(base)  # untimed: the next block runs on the genesis again
    sample = Sample(round_, index, seconds, block.gas_used, "0x" + block.state_root.hex(),
                    "0x" + block.receipts_root.hex(), stats_dict(block.stats))
    return sample, block.tx_results


def _next_env(env: BlockEnv, engines: Dict[str, Engine]) -> BlockEnv:
    """The block environment of the chain's next block (every engine has the same head)."""
    number = next(iter(engines.values())).head.number + 1
    return replace(env, number=number, timestamp=GENESIS_TIME + 12 * number,
                   parent_beacon_block_root=number.to_bytes(32, "big"))


def _run_chained(engine: Engine, env: BlockEnv, txs: Sequence[bytes], _base: int, round_: int, index: int):
    """-> (the sample, the block's per-transaction results); ``execute()`` timed, the commit not."""
    started = time.perf_counter()
    block = engine.execute(env, txs)
    seconds = time.perf_counter() - started
    stats = stats_dict(block.stats)  # before the commit adds its own time to them
    engine.commit(block)
    sample = Sample(round_, index, seconds, block.gas_used, "0x" + block.state_root.hex(),
                    "0x" + block.receipts_root.hex(), stats, commit_seconds=block.stats.commit_seconds)
    return sample, block.tx_results


def _check_same(name: str, contention: float, index: int, samples: Dict[str, Sample], tx_results: dict) -> None:
    sides = list(samples)
    reference = samples[sides[0]]
    where = f"{name} contention {contention:g} block {index + 1}"
    for side in sides[1:]:
        if samples[side].state_root != reference.state_root:
            raise ResultMismatch(f"{where}: state root of {side} {samples[side].state_root} differs from "
                                 f"{sides[0]}'s {reference.state_root}")
    hyperion_sides = list(tx_results)
    first = hyperion_sides[0]
    for side in hyperion_sides[1:]:
        if samples[side].receipts_root != samples[first].receipts_root:
            raise ResultMismatch(f"{where}: receipts root of {side} differs from {first}'s")
        if samples[side].gas_used != samples[first].gas_used:
            raise ResultMismatch(f"{where}: gas used by {side} differs from {first}'s")
        if tx_results[side] != tx_results[first]:
            raise ResultMismatch(f"{where}: transaction results of {side} differ from {first}'s")
