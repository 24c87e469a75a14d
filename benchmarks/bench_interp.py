"""Compute benchmark: the compiled interpreter against py-evm's loop and stock py-evm.

    python benchmarks/bench_interp.py [--rounds 3] [--quick] [--opcodes] [--erc20 5000]

Workloads are calls into ``contracts/Compute.vy`` (checked-in bytecode,
``hyperion/contracts/Compute.json``): a keccak hash chain, token transfers inside one
call, fixed-point Mandelbrot.  Each is one signed transaction in a Prague block, run three
ways side by side in one process, alternating sides each round (median of ``--rounds``):

- ``compiled``: ``Engine.execute`` with the compiled interpreter (the default);
- ``pyevm-loop``: the same engine inside ``interpreter.stock_loop()`` (py-evm's opcode
  loop, everything else Hyperion's);
- ``stock``: stock py-evm (``hyperion.tools.reference.run_stock``: its decode, execute and
  state root seconds, without building its VM).

Each figure is the transaction's marginal process CPU time: the block with the transaction
minus the same block without it (so system calls, building stock py-evm's VM and other
fixed per-block work cancel out; CPU time because the machine is shared).  Hyperion's side
is ``Engine.execute`` end to end (decoding, sender recovery, execution, state root of the
pending block), stock py-evm's is ``run_stock`` (the same steps).  The three sides must
agree on gas used and output.

``--opcodes`` adds a per-opcode cost table: straight-line programs of 10,000 repetitions of
``DUP1 <op>`` (``DUP1 <op> POP`` for unary ones, ``PUSH1 POP`` ...) timed against an empty
frame; the figure is nanoseconds per opcode (time per repetition / opcodes in it).

``--erc20 N`` adds the ERC-20 block of N transfers end to end on a cold LMDB engine
(:func:`hyperion.tools.bench.one_block.run_hyperion`: decoding and sender recovery,
execution, root, commit), py-evm's loop
against the compiled interpreter, alternating, same signed block, identical roots asserted.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, List

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from hyperion import ChainConfig, Engine
from hyperion.evm import interpreter
from hyperion.evm.forks import get_fork
from hyperion.genesis import merge_allocs, system_contracts_alloc
from hyperion.tools import workloads
from hyperion.tools.reference import run_stock
from hyperion.types import BlockEnv

CHAIN_ID = 1337
FORK = "prague"
GAS = 29_000_000
SENDER = workloads.wallet(0)
COMPUTE = bytes(19 * [0xC0]) + b"\x01"
ENV = BlockEnv(number=1, timestamp=1_000, coinbase=b"\xc0" * 20, gas_limit=30_000_000, base_fee=10**9,
               difficulty=0)

WORKLOADS = {
    "hash_loop": ("hash_loop(uint256)", [3000]),
    "token_loop": ("token_loop(uint256)", [600]),
    "mandelbrot": ("mandelbrot(uint256,uint256)", [12, 40]),
}
QUICK = {"hash_loop": [300], "token_loop": [60], "mandelbrot": [4, 20]}


def calldata(signature: str, args) -> bytes:
    types = signature[signature.index("(") + 1:-1].split(",")
    return function_signature_to_4byte_selector(signature) + encode(types, args)


def _constructed_storage() -> Dict[str, str]:
    """Compute.vy's storage after its constructor (run once on Hyperion)."""
    artifact = workloads.contract_artifact("Compute")
    engine = _engine({})
    deploy = workloads.sign_transaction(SENDER.key, fork=FORK, nonce=0, to=None,
                                        data=bytes.fromhex(artifact["bytecode"][2:]), gas=GAS, chain_id=CHAIN_ID)
    result = engine.execute(ENV, [deploy])
    created = result.tx_results[0].contract_address
    return {hex(slot): hex(value) for slot, value in result.diff.storage[created].items()}


def alloc(code: bytes, storage: Dict[str, str]) -> dict:
    return merge_allocs({
        **system_contracts_alloc(),
        "0x" + SENDER.address.hex(): {"balance": hex(10**24)},
        "0x" + COMPUTE.hex(): {"code": "0x" + code.hex(), "storage": storage},
    })


def _engine(genesis: dict) -> Engine:
    config = ChainConfig.single_fork(FORK, chain_id=CHAIN_ID)
    engine = Engine.in_memory(chain_config=config)
    engine.init_genesis(merge_allocs({**system_contracts_alloc(), "0x" + SENDER.address.hex(): {"balance": hex(10**24)},
                                      **genesis}), chain_config=config, gas_limit=ENV.gas_limit, base_fee=10**9)
    return engine


def _call(data: bytes, to: bytes = COMPUTE) -> bytes:
    return workloads.sign_transaction(SENDER.key, fork=FORK, nonce=0, to=to, data=data, gas=GAS, chain_id=CHAIN_ID)


def measure(code: bytes, storage: Dict[str, str], tx: bytes, rounds: int) -> Dict[str, float]:
    """Seconds per side (median), after checking the three sides agree."""
    genesis = alloc(code, storage)
    engine = Engine.in_memory(chain_config=ChainConfig.single_fork(FORK, chain_id=CHAIN_ID))
    engine.init_genesis(genesis, chain_config=ChainConfig.single_fork(FORK, chain_id=CHAIN_ID),
                        gas_limit=ENV.gas_limit, base_fee=10**9)
    fork = get_fork(FORK)

    def compiled():
        empty = _cpu(lambda: engine.execute(ENV, []))
        started = time.process_time()
        result = engine.execute(ENV, [tx])
        seconds = time.process_time() - started - empty
        return seconds, result.tx_results[0].gas_used, result.tx_results[0].return_data

    def pyevm_loop():
        with interpreter.stock_loop():
            return compiled()

    def stock():
        empty = _cpu(lambda: run_stock(fork, CHAIN_ID, genesis, ENV, []))
        started = time.process_time()
        result = run_stock(fork, CHAIN_ID, genesis, ENV, [tx])
        seconds = time.process_time() - started - empty
        receipt = result.receipts[0]
        return seconds, receipt.cumulative_gas_used, receipt.return_data

    sides: Dict[str, Callable] = {"compiled": compiled, "pyevm-loop": pyevm_loop, "stock": stock}
    times: Dict[str, List[float]] = {name: [] for name in sides}
    outcomes = {}
    for round_ in range(rounds):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for name in order:
            seconds, gas, output = sides[name]()
            times[name].append(seconds)
            outcomes[name] = (gas, output)
    if len(set(outcomes.values())) != 1:
        raise SystemExit(f"the sides disagree: {outcomes}")
    return {name: statistics.median(values) for name, values in times.items()} | {"gas": outcomes["stock"][0]}


def _cpu(work: Callable) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


# -- per-opcode table -------------------------------------------------------------------------
BINARY = {"ADD": 0x01, "MUL": 0x02, "SUB": 0x03, "DIV": 0x04, "LT": 0x10, "EQ": 0x14, "AND": 0x16, "XOR": 0x18,
          "SHL": 0x1B, "SHR": 0x1C}
UNARY = {"ISZERO": 0x15, "NOT": 0x19, "POP": 0x50}
PAIRS = 10_000


def opcode_program(name: str) -> bytes:
    if name in BINARY:  # stack stays [x]: DUP1 x, op
        return bytes([0x60, 0x07]) + bytes([0x80, BINARY[name]]) * PAIRS + b"\x00"
    if name == "POP":
        return bytes([0x60, 0x07, 0x50]) * PAIRS + b"\x00"
    if name in UNARY:  # DUP1 op POP
        return bytes([0x60, 0x07]) + bytes([0x80, UNARY[name], 0x50]) * PAIRS + b"\x00"
    if name == "DUP1+SWAP1":
        return bytes([0x60, 0x07, 0x60, 0x08]) + bytes([0x90, 0x81, 0x50]) * PAIRS + b"\x00"
    if name == "MSTORE+MLOAD":
        return bytes([0x60, 0x07]) + bytes([0x80, 0x5F, 0x52, 0x5F, 0x51, 0x50]) * PAIRS + b"\x00"
    if name == "JUMP":
        body = bytearray()
        for _ in range(PAIRS):
            target = len(body) + 4
            body += bytes([0x61]) + target.to_bytes(2, "big") + bytes([0x56, 0x5B])
        return bytes(body) + b"\x00"
    raise KeyError(name)


def opcode_table(rounds: int) -> None:
    names = list(BINARY) + ["ISZERO", "NOT", "POP", "DUP1+SWAP1", "MSTORE+MLOAD", "JUMP"]
    ops_per = {"POP": 3, "ISZERO": 3, "NOT": 3, "DUP1+SWAP1": 3, "MSTORE+MLOAD": 6, "JUMP": 3}
    print(f"\nper-opcode cost (ns/opcode, {PAIRS:,} repetitions in one frame minus an empty frame, CPU time, median of {rounds})")
    print(f"{'program':<14}{'pyevm-loop':>12}{'compiled':>12}{'ratio':>8}")
    for name in names:
        code = opcode_program(name)
        per = ops_per.get(name, 2)
        figures = {}
        for side in ("pyevm-loop", "compiled"):
            samples = []
            for _ in range(rounds):
                with interpreter.stock_loop(side == "pyevm-loop"):
                    full = _time_call(code)
                    base = _time_call(b"\x00")
                samples.append((full - base) / (PAIRS * per) * 1e9)
            figures[side] = statistics.median(samples)
        print(f"{name:<14}{figures['pyevm-loop']:>12.0f}{figures['compiled']:>12.0f}"
              f"{figures['pyevm-loop'] / max(figures['compiled'], 1e-9):>8.1f}")


_engines: Dict[bytes, Engine] = {}


def _time_call(code: bytes) -> float:
    engine = _engines.get(code)
    if engine is None:
        engine = _engines[code] = _engine({"0x" + COMPUTE.hex(): {"code": "0x" + code.hex()}})
    tx = _call(b"")
    engine.execute(ENV, [tx])  # warm: analysis cached
    return _cpu(lambda: engine.execute(ENV, [tx]))


def erc20_block(count: int, rounds: int) -> None:
    """The ERC-20 block end to end (LMDB, decoding and sender recovery inside, root and
    commit included) with py-evm's loop and with the compiled interpreter, alternating."""
    import shutil

    from hyperion.tools.bench import one_block as f

    config = ChainConfig()
    genesis_dir = f.hyperion_genesis(workloads.genesis_alloc(f.ACCOUNTS), config)
    env = f.block_env(1)
    txs = f.make_batch("erc20", count)
    try:
        f.run_hyperion(genesis_dir, config, env, txs[:20])  # warm-up
        samples: Dict[str, List[f.Timing]] = {"pyevm-loop": [], "compiled": []}
        for round_ in range(rounds):
            order = ["pyevm-loop", "compiled"] if round_ % 2 == 0 else ["compiled", "pyevm-loop"]
            for side in order:
                with interpreter.stock_loop(side == "pyevm-loop"):
                    samples[side].append(f.run_hyperion(genesis_dir, config, env, txs))
        roots = {t.state_root for timings in samples.values() for t in timings}
        if len(roots) != 1:
            raise SystemExit("the two sides computed different state roots")
        print(f"\nERC-20 block of {count:,} transfers, sequential, LMDB (wall seconds, median of {rounds})")
        print(f"{'side':<12}{'execute':>10}{'end to end':>12}{'tx/s':>10}")
        medians = {}
        for side, timings in samples.items():
            execute = statistics.median(t.execute for t in timings)
            total = statistics.median(t.end_to_end for t in timings)
            medians[side] = (execute, total)
            print(f"{side:<12}{execute:>10.3f}{total:>12.3f}{count / total:>10,.0f}")
        print(f"{'ratio':<12}{medians['pyevm-loop'][0] / medians['compiled'][0]:>10.2f}"
              f"{medians['pyevm-loop'][1] / medians['compiled'][1]:>12.2f}")
    finally:
        shutil.rmtree(genesis_dir, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small inputs (a smoke run)")
    parser.add_argument("--opcodes", action="store_true", help="also the per-opcode cost table")
    parser.add_argument("--erc20", type=int, default=0, metavar="N",
                        help="also the ERC-20 block of N transfers end to end (e.g. 5000)")
    args = parser.parse_args(argv)
    if not interpreter.available():
        raise SystemExit("the compiled interpreter is not available (pure-Python mode or not built)")
    interpreter.set_enabled(True)
    code = bytes.fromhex(workloads.contract_artifact("Compute")["runtime"][2:])
    storage = _constructed_storage()
    print(f"{'workload':<12}{'gas':>12}{'stock s':>10}{'loop s':>10}{'compiled s':>12}{'vs stock':>10}{'vs loop':>9}")
    totals = {"stock": 0.0, "pyevm-loop": 0.0, "compiled": 0.0}
    for name, (signature, arguments) in WORKLOADS.items():
        tx = _call(calldata(signature, QUICK[name] if args.quick else arguments))
        figures = measure(code, storage, tx, args.rounds)
        for side in totals:
            totals[side] += figures[side]
        print(f"{name:<12}{figures['gas']:>12,}{figures['stock']:>10.3f}{figures['pyevm-loop']:>10.3f}"
              f"{figures['compiled']:>12.3f}{figures['stock'] / figures['compiled']:>10.1f}"
              f"{figures['pyevm-loop'] / figures['compiled']:>9.1f}")
    print(f"{'sum':<12}{'':>12}{totals['stock']:>10.3f}{totals['pyevm-loop']:>10.3f}{totals['compiled']:>12.3f}"
          f"{totals['stock'] / totals['compiled']:>10.1f}{totals['pyevm-loop'] / totals['compiled']:>9.1f}")
    if args.opcodes:
        opcode_table(args.rounds)
    if args.erc20:
        erc20_block(args.erc20, args.rounds)


if __name__ == "__main__":
    main()
