"""The compiled ``FlatAccountDB`` (``_flatdb``) vs its pure-Python twin (``flatdb_py``): a
module micro-benchmark, not a block benchmark.

    python benchmarks/bench_flatdb_twins.py [--txs 1000] [--rounds 5] [--batch transfer|erc20]
    python -m pytest benchmarks/test_bench_flatdb_twins.py --benchmark-only   # pytest-benchmark form

Two measurements on one signed batch (1,000 wallets, the demo ERC-20 token, Prague), both
twins in this process, alternating:

- **inside the engine**: the batch as one block on a cold engine over a copy of the genesis
  (:func:`hyperion.tools.bench.one_block.run_hyperion`), once with each twin, by giving the
  engine a state class whose ``account_db_class`` is that twin; both must reach the same
  state root;
- **alone**: every call py-evm and the engine made on ``FlatAccountDB`` while executing the
  batch is recorded, checked to replay identically on each twin (every answer and write
  set), then replayed on each twin and on a class that answers nothing, whose time (the
  replay loop's) is subtracted; CPU seconds.

The compiled twin is needed (a compiled build); without it the script says so and stops.
"""
from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import time
from typing import Dict, List, Sequence

from hyperion.chain import ChainConfig
from hyperion.engine import Engine
from hyperion.tools import workloads
from hyperion.tools.bench import one_block
from hyperion.types import BlockEnv


def flatdb_twins() -> Dict[str, type]:
    """The FlatAccountDB classes available here: pure-Python always, compiled if built."""
    twins = {"python": importlib.import_module("hyperion.evm.accountdb.flatdb_py").FlatAccountDB}
    try:
        twins["compiled"] = importlib.import_module("hyperion.evm.accountdb._flatdb").FlatAccountDB
    except ImportError:
        pass
    return twins


def twin_engine(account_db_class: type) -> type:
    """An ``Engine`` whose py-evm state uses ``account_db_class``."""

    class TwinEngine(Engine):
        def _state_class(self, fork):
            base = super()._state_class(fork)
            if base.account_db_class is account_db_class:
                return base
            return type(f"{base.__name__}{account_db_class.__module__.rsplit('.', 1)[-1]}", (base,),
                        {"account_db_class": account_db_class})

    return TwinEngine


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
        one_block.run_hyperion(genesis_dir, config, env, txs, engine_class=twin_engine(recording))
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


class Batch:
    """One signed batch and the genesis both twins run it on (remove with :meth:`close`)."""

    def __init__(self, kind: str, count: int):
        self.config = ChainConfig()  # Prague with the system contracts (a new Hyperion chain)
        self.genesis_dir = one_block.hyperion_genesis(workloads.genesis_alloc(one_block.ACCOUNTS), self.config)
        self.env: BlockEnv = one_block.block_env(1)
        self.txs = one_block.make_batch(kind, count)

    def run(self, account_db_class: type, txs: Sequence[bytes] = None) -> one_block.Timing:
        return one_block.run_hyperion(self.genesis_dir, self.config, self.env, self.txs if txs is None else txs,
                                      engine_class=twin_engine(account_db_class))

    def record(self) -> list:
        return record_flatdb_calls(self.genesis_dir, self.config, self.env, self.txs)

    def close(self) -> None:
        shutil.rmtree(self.genesis_dir, ignore_errors=True)


def compare(kind: str, count: int, rounds: int) -> List[str]:
    """Both measurements for one batch; -> the report's lines."""
    twins = flatdb_twins()
    batch = Batch(kind, count)
    try:
        for cls in twins.values():  # warm-up: imports, opcode tables, caches
            batch.run(cls, batch.txs[:20])
        engine: Dict[str, List[one_block.Timing]] = {name: [] for name in twins}
        for round_ in range(rounds):
            names = list(twins) if round_ % 2 == 0 else list(twins)[::-1]
            for name in names:
                engine[name].append(batch.run(twins[name]))
        if len({t.state_root for timings in engine.values() for t in timings}) != 1:
            raise SystemExit(f"{kind}: the twins reached different state roots")
        events = batch.record()
        for cls in twins.values():  # the replay follows the recorded path exactly
            replay_flatdb_calls(events, batch.genesis_dir, cls, verify=True)
        measured = dict(twins, null=NullFlatAccountDB)
        replays: Dict[str, List[float]] = {name: [] for name in measured}
        for _round in range(rounds):
            for name, cls in measured.items():
                replays[name].append(replay_flatdb_calls(events, batch.genesis_dir, cls))
    finally:
        batch.close()
    loop = statistics.median(replays.pop("null"))
    alone = {name: statistics.median(v) - loop for name, v in replays.items()}
    execute = {name: statistics.median(t.execute for t in timings) for name, timings in engine.items()}
    total = {name: statistics.median(t.end_to_end for t in timings) for name, timings in engine.items()}
    return [
        f"{kind}, {count:,} txs: inside the engine (wall s, median of {rounds}): execution phase "
        f"python {execute['python']:.3f} / compiled {execute['compiled']:.3f} = "
        f"{execute['python'] / execute['compiled']:.2f}x, end to end {total['python'] / total['compiled']:.2f}x",
        f"{kind}, {count:,} txs: alone ({len(events):,} recorded calls replayed, CPU time net of the replay loop): "
        f"compiled {alone['compiled'] * 1000:.1f} ms, pure Python {alone['python'] * 1000:.1f} ms: "
        f"{alone['python'] / alone['compiled']:.2f}x (~{alone['compiled'] / execute['compiled']:.0%} of the "
        f"execution phase)",
    ]


def main(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=1000, help="transactions per batch (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per twin, alternating (default 5)")
    parser.add_argument("--batch", choices=("transfer", "erc20"), action="append",
                        help="batch to run (repeatable; default both)")
    args = parser.parse_args(argv)
    if "compiled" not in flatdb_twins():
        print("the compiled _flatdb is not built (python setup.py build_ext --inplace)", file=sys.stderr)
        return 1
    for kind in args.batch or ("transfer", "erc20"):
        print("\n".join(compare(kind, args.txs, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
