"""Block-STM vs the sequential scheduler through the public API, as an embedder meets it.

    hyperion bench parallel [--txs 5000] [--workers 1,2] [--rounds 5] [--workload all] [--json PATH]
    python benchmarks/bench_parallel.py (the same options)

One LMDB engine per side over the same genesis: sequential (``Engine.open(path)``) and
Block-STM with each worker count (``Engine.open(path, scheduler="blockstm", workers=N)``,
``warm_up()`` called).  The genesis holds ``--accounts`` funded wallets (default 5,000, or
``--txs`` if more) and the demo ERC-20 token with a balance for each.  Chain id 1, Prague.
Blocks (signed, senders recovered from signatures inside ``execute`` on every side):

- ``erc20``: token transfers, distinct senders, fresh random recipients
- ``eth``: ether transfers, distinct senders, fresh random recipients
- ``mixed``: both kinds at random, recipients Zipf-skewed over a pool of random addresses
- ``hot``: token transfers that all credit one holder (one hot storage slot)

Each round builds one new block per workload; every side executes it, in an order that
rotates from round to round (this machine's speed drifts within seconds; a fixed order
would hand the drift to one side).  The time is ``execute()`` end to end: decoding,
sender recovery, execution, receipts and the state root.  ``commit()`` follows, untimed
(its own figure is in the JSON), so that the next block builds on this one.  Round 0
is the warm-up block and is not reported.  Before any figure the state roots, receipts
roots and transaction results of all sides are compared; a difference is an error.
"""
from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads as w
from hyperion.tools.bench.runner import stats_dict

WORKLOADS = ("erc20", "eth", "mixed", "hot")
DEFAULT_TXS = 5000
DEFAULT_ACCOUNTS = 5000
#: recipients the ``mixed`` block picks from, and how skewed the picks are
MIXED_POOL = 1000
DEFAULT_ZIPF = 1.0
CHAIN_ID = 1
HOT_HOLDER = b"\xee" * 19 + b"\x02"
#: ``stats`` fields (or ``stats.extra`` keys) that split a parallel block's time, printed if
#: present (engines differ in which they report, and in whether they end in ``_seconds``)
PHASE_FIELDS = ("parallel_seconds", "parallel", "tail_seconds", "tail", "fold_seconds", "root_seconds")
SEQUENTIAL = "sequential"


class ResultMismatch(AssertionError):
    """Two sides computed different results for the same block (a bug, never noise)."""


def side_name(workers: int) -> str:
    return f"blockstm-{workers}"


@dataclass
class Sample:
    """One side's run of one block."""

    seconds: float  # execute() end to end
    commit_seconds: float
    stats: Dict[str, object]


@dataclass
class Run:
    """Everything one invocation measured (``to_json`` is what ``--json`` writes)."""

    txs: int
    accounts: int
    rounds: int
    workers: List[int]
    zipf: float
    seed: int
    #: workload -> side -> measured samples (the warm-up block excluded)
    samples: Dict[str, Dict[str, List[Sample]]] = field(default_factory=dict)
    warm_up_seconds: Dict[str, float] = field(default_factory=dict)

    def sides(self) -> List[str]:
        return [SEQUENTIAL] + [side_name(n) for n in self.workers]

    def ratios(self, workload: str, side: str) -> List[float]:
        """Per-round sequential / side time (> 1: the side is faster); the two runs of a
        round are seconds apart, so the machine's drift mostly cancels within the pair."""
        rows = self.samples[workload]
        return sorted(s.seconds / p.seconds for s, p in zip(rows[SEQUENTIAL], rows[side]))

    def to_json(self) -> dict:
        return {
            "txs": self.txs, "accounts": self.accounts, "rounds": self.rounds, "workers": self.workers,
            "zipf": self.zipf, "seed": self.seed, "chain_id": CHAIN_ID, "timed": "execute() end to end",
            "warm_up_seconds": self.warm_up_seconds,
            "results": {
                workload: {side: [{"seconds": s.seconds, "commit_seconds": s.commit_seconds, "stats": s.stats}
                                  for s in samples] for side, samples in sides.items()}
                for workload, sides in self.samples.items()
            },
        }


class BlockFactory:
    """Builds the benchmark's signed blocks, deterministic from ``seed``."""

    def __init__(self, txs: int, accounts: int, zipf: float, seed: int) -> None:
        if txs > accounts:
            raise ValueError(f"{txs} transactions need {txs} distinct senders, but the genesis has {accounts}")
        self.txs = txs
        self.senders = w.wallets(accounts)
        self.nonces: Dict[int, int] = {}
        self.zipf = zipf
        self.rng = random.Random(seed)
        self.pool = w.random_addresses(MIXED_POOL, self.rng)
        self.rotation = 0

    def genesis(self) -> dict:
        return w.genesis_alloc(len(self.senders))

    def block(self, workload: str) -> List[bytes]:
        # distinct senders within a block; successive blocks move through the wallets
        start = self.rotation
        self.rotation = (self.rotation + self.txs) % len(self.senders)
        senders = [self.senders[(start + i) % len(self.senders)] for i in range(self.txs)]
        rng = self.rng
        if workload == "erc20":
            plan = [(s, r, True) for s, r in zip(senders, w.random_addresses(self.txs, rng))]
        elif workload == "eth":
            plan = [(s, r, False) for s, r in zip(senders, w.random_addresses(self.txs, rng))]
        elif workload == "mixed":
            recipients = w.zipf_choices(self.pool, self.txs, self.zipf, rng)
            plan = [(s, r, rng.random() < 0.5) for s, r in zip(senders, recipients)]
        elif workload == "hot":
            plan = [(s, HOT_HOLDER, True) for s in senders]
        else:
            raise ValueError(f"unknown workload {workload!r}; choose from {', '.join(WORKLOADS)}")
        return w.payments(plan, self.nonces, chain_id=CHAIN_ID)


def _check_same(workload: str, round_: int, results: Dict[str, object]) -> None:
    reference = results[SEQUENTIAL]
    for side, result in results.items():
        for what in ("state_root", "receipts_root", "logs_bloom", "gas_used", "tx_results"):
            if getattr(result, what) != getattr(reference, what):
                raise ResultMismatch(f"{workload} block {round_}: {side} differs from sequential in {what}")


def measure(txs: int = DEFAULT_TXS, workers: Sequence[int] = (1, 2), rounds: int = 5,
            workloads: Sequence[str] = WORKLOADS, accounts: Optional[int] = None, zipf: float = DEFAULT_ZIPF,
            seed: int = 13, min_txs: Optional[int] = None,
            progress: Callable[[str], None] = lambda _message: None) -> Run:
    """Run the benchmark; ``min_txs`` overrides Block-STM's sequential-fallback threshold
    (``None``: the engine's default), to measure where parallel execution starts to pay."""
    accounts = max(accounts or DEFAULT_ACCOUNTS, txs)
    run = Run(txs=txs, accounts=accounts, rounds=rounds, workers=list(workers), zipf=zipf, seed=seed,
              samples={name: {} for name in workloads})
    factory = BlockFactory(txs, accounts, zipf, seed)
    config = ChainConfig(chain_id=CHAIN_ID)
    progress(f"genesis of {accounts:,} accounts")
    alloc = factory.genesis()
    options = None if min_txs is None else {"min_txs": min_txs}
    with tempfile.TemporaryDirectory(prefix="hyperion-bench-") as tmp:
        engines: Dict[str, Engine] = {}
        try:
            engines[SEQUENTIAL] = Engine.open(f"{tmp}/{SEQUENTIAL}", chain_config=config)
            for n in workers:
                engines[side_name(n)] = Engine.open(f"{tmp}/{side_name(n)}", chain_config=config,
                                                    scheduler="blockstm", workers=n, scheduler_options=options)
            for side, engine in engines.items():
                engine.init_genesis(alloc)
                run.warm_up_seconds[side] = engine.warm_up()
            for round_ in range(rounds + 1):  # round 0: the warm-up block
                for workload in workloads:
                    progress(f"{workload}: {'warm-up block' if round_ == 0 else f'round {round_}/{rounds}'}")
                    _round(run, engines, factory, workload, round_)
        finally:
            for engine in engines.values():
                engine.close()
    return run


def _round(run: Run, engines: Dict[str, Engine], factory: BlockFactory, workload: str, round_: int) -> None:
    txs = factory.block(workload)
    number = engines[SEQUENTIAL].head.number + 1
    env = BlockEnv(number=number, timestamp=1_700_000_000 + 12 * number, coinbase=b"\xc0" * 20, base_fee=w.GWEI,
                   gas_limit=max(30_000_000, 100_000 * len(txs)), parent_beacon_block_root=number.to_bytes(32, "big"))
    sides = list(engines)
    shift = round_ % len(sides)
    order = sides[shift:] + sides[:shift]
    results, timings = {}, {}
    for side in order:
        engine = engines[side]
        started = time.perf_counter()
        results[side] = engine.execute(env, txs)
        timings[side] = time.perf_counter() - started
    _check_same(workload, round_, results)
    for side in sides:
        result = results[side]
        started = time.perf_counter()
        engines[side].commit(result)
        if round_:
            sample = Sample(timings[side], time.perf_counter() - started, stats_dict(result.stats))
            run.samples[workload].setdefault(side, []).append(sample)


# -- the report -------------------------------------------------------------------------------
def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _phase(sample: Sample, name: str) -> Optional[float]:
    value = sample.stats.get(name)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def summary(run: Run) -> List[dict]:
    """One row per workload and Block-STM side: medians, ratio range, per-tx costs, phases."""
    rows = []
    for workload, sides in run.samples.items():
        sequential = sides[SEQUENTIAL]
        seq_seconds = _median([s.seconds for s in sequential])
        for n in run.workers:
            samples = sides[side_name(n)]
            ratios = run.ratios(workload, side_name(n))
            busy = []  # worker time not spent idle, per transaction
            for sample in samples:
                parallel, idle = _phase(sample, "parallel_seconds"), _phase(sample, "worker_idle_seconds")
                if parallel is not None and idle is not None:
                    busy.append((n * parallel - idle) / run.txs)
            phases = {name: _median([v for v in (_phase(s, name) for s in samples) if v is not None])
                      for name in PHASE_FIELDS if any(_phase(s, name) is not None for s in samples)}
            if "parallel_seconds" in phases and not {"tail_seconds", "tail"} & set(phases):
                # everything outside the workers' phase: the coordinator's serial part
                phases["rest"] = _median([s.seconds - _phase(s, "parallel_seconds") for s in samples
                                          if _phase(s, "parallel_seconds") is not None])
            fallbacks = [str(s.stats["fallback"]) for s in samples if s.stats.get("fallback")]
            rows.append({
                "workload": workload, "workers": n, "sequential_seconds": seq_seconds,
                "parallel_seconds_e2e": _median([s.seconds for s in samples]),
                "ratio": _median(ratios), "ratio_min": ratios[0], "ratio_max": ratios[-1],
                "sequential_us_per_tx": 1e6 * seq_seconds / run.txs,
                "worker_us_per_tx": 1e6 * _median(busy) if busy else None,
                "phases": phases,
                "aborts": _median([s.stats.get("aborts", 0) for s in samples]),
                "fallbacks": fallbacks,
            })
    return rows


def _fallbacks(reasons: List[str], rounds: int) -> str:
    """``-`` or ``k/rounds: <the first reason>`` (every reason is in the JSON)."""
    if not reasons:
        return "-"
    first = reasons[0].split(";")[0]
    return f"{len(reasons)}/{rounds}: {first if len(first) <= 70 else first[:69] + '…'}"


def format_report(run: Run) -> str:
    rows = summary(run)
    lines = [
        f"Block-STM vs sequential, {run.txs:,}-tx blocks, LMDB, chain id {CHAIN_ID}, "
        f"{run.accounts:,} funded accounts + token; median of {run.rounds} rounds, sides alternating",
        "time: execute() end to end (decode + sender recovery + execution + receipts + state root); "
        "commit untimed",
        "ratio: sequential / Block-STM per round (> 1: Block-STM faster), median [min-max]",
        "µs/tx: sequential execute time per tx | Block-STM workers' busy time per tx "
        "(workers x parallel phase - idle)",
        "",
    ]
    header = (f"{'block':7} {'W':>2} {'seq s':>7} {'par s':>7} {'ratio':>19} {'seq µs/tx':>10} "
              f"{'worker µs/tx':>13}  {'phases (median s)':<44} {'aborts':>7}  fallback")
    lines += [header, "-" * len(header)]
    for r in rows:
        ratio = f"{r['ratio']:.2f}x [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]"
        worker = f"{r['worker_us_per_tx']:.0f}" if r["worker_us_per_tx"] is not None else "-"
        phases = " ".join(f"{name.replace('_seconds', '')} {value:.3f}" for name, value in r["phases"].items())
        lines.append(f"{r['workload']:7} {r['workers']:>2} {r['sequential_seconds']:>7.3f} "
                     f"{r['parallel_seconds_e2e']:>7.3f} {ratio:>19} {r['sequential_us_per_tx']:>10.0f} "
                     f"{worker:>13}  {phases:<44} {r['aborts']:>7.0f}  {_fallbacks(r['fallbacks'], run.rounds)}")
    return "\n".join(lines)
