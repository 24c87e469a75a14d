"""The compiled interpreter against py-evm's own opcode loop (docs/interpreter.md).

Random programs -- every opcode byte, random PUSH immediates, jumps to random positions
(PUSH data included), memory growth, nested and recursive calls, truncated code -- run in a
block twice on the same engine, once through the compiled interpreter and once through
py-evm's loop, at gas limits that make them run out at different points.  Everything a
block result carries must agree: state root, receipts, each transaction's status, gas, logs,
return data and error (class and message), and the state diff.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperion import ChainConfig, Engine
from hyperion.evm import interpreter
from hyperion.evm.forks import get_fork
from hyperion.evm.interpreter.dispatch import frame_counts
from hyperion.evm.interpreter.analysis import CACHE_SIZE, Analysis, analyse, cache_info
from hyperion.genesis import merge_allocs, system_contracts_alloc
from hyperion.tools import workloads
from hyperion.types import BlockEnv

from tests import txgen

needs_compiled = pytest.mark.skipif(not interpreter.available(), reason="pure-Python mode: py-evm's loop is the only interpreter")

CHAIN_ID = 1337
SENDER = workloads.wallet(0)
MAIN = bytes(19 * [0x42]) + b"\x01"
OTHER = bytes(19 * [0x42]) + b"\x02"
FORKS = ["prague", "cancun", "london", "constantinople", "byzantium", "frontier"]

# -- analysis ---------------------------------------------------------------------------------


def test_jumpdest_inside_push_data_is_no_target():
    # PUSH2 0x5b5b, JUMPDEST, PUSH32 <0x5b...>, truncated PUSH3
    code = bytes([0x61, 0x5B, 0x5B, 0x5B, 0x7F]) + b"\x5b" * 32 + bytes([0x62, 0x01])
    analysis = Analysis(code)
    assert [p for p in range(len(code)) if analysis.jump_targets[p] >= 0] == [3]
    assert list(analysis.ops) == [0x61, 0x5B, 0x7F, 0x62, 0x00]
    assert list(analysis.pcs) == [0, 3, 4, 37, 39]
    # py-evm pads a PUSH cut off by the end of the code with zero bytes on the right
    assert analysis.immediates[3] == 0x010000
    assert analysis.immediates[0] == 0x5B5B
    assert analysis.instruction_at[1] == -1 and analysis.instruction_at[4] == 2


def test_analysis_cache_is_shared_and_bounded():
    code = bytes([0x60, 0x01, 0x00])
    assert analyse(code) is analyse(bytes(code))
    for n in range(CACHE_SIZE + 10):
        analyse(n.to_bytes(4, "big"))
    assert cache_info()["entries"] == CACHE_SIZE
    assert analyse(code) is not None


# -- differential -----------------------------------------------------------------------------
COMPILED_SET = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0B, 0x10, 0x11, 0x12, 0x13, 0x14,
    0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x20, 0x30, 0x32, 0x33, 0x34, 0x35, 0x36,
    0x38, 0x50, 0x51, 0x52, 0x53, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x5B, 0x5F,
] + list(range(0x80, 0xA0))
NUMBERS = st.one_of(
    st.integers(0, 70), st.sampled_from([2**255, 2**256 - 1, 2**255 - 1, 2**64, 2**32, 31, 32, 33, 255, 256]),
    st.integers(0, 2**256 - 1),
)


def _push(value: int) -> bytes:
    size = max(1, (value.bit_length() + 7) // 8)
    return bytes([0x5F + size]) + value.to_bytes(size, "big")


def _call(target: bytes, kind: int) -> bytes:
    # out size, out offset, in size, in offset, [value], address, gas, CALL/DELEGATECALL/STATICCALL
    value = b"" if kind in (0xF4, 0xFA) else _push(0)
    return _push(32) + _push(0) + _push(32) + _push(0) + value + _push(int.from_bytes(target, "big")) + bytes([0x5A, kind])


@st.composite
def programs(draw, allow_calls: bool):
    pieces = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["op", "op", "op", "push", "push", "any", "jump", "mem", "call"]))
        if kind == "op":
            pieces.append(bytes([draw(st.sampled_from(COMPILED_SET))]))
        elif kind == "push":
            pieces.append(_push(draw(NUMBERS)))
        elif kind == "any":  # any byte: state opcodes, undefined ones, PUSHes eating what follows
            pieces.append(bytes([draw(st.integers(0, 255))]))
        elif kind == "jump":
            pieces.append(_push(draw(st.integers(0, 120))) + bytes([draw(st.sampled_from([0x56, 0x57])), 0x5B]))
        elif kind == "mem":
            offset = draw(st.sampled_from([0, 1, 31, 32, 64, 1000, 2**20, 2**64, 2**256 - 1]))
            pieces.append(_push(draw(NUMBERS)) + _push(offset) + bytes([draw(st.sampled_from([0x51, 0x52, 0x53, 0x20]))]))
        elif allow_calls:
            pieces.append(_call(draw(st.sampled_from([MAIN, OTHER])), draw(st.sampled_from([0xF1, 0xF4, 0xFA]))))
    ending = draw(st.sampled_from([b"", b"\x00", _push(32) + _push(0) + b"\xf3", _push(0) + _push(0) + b"\xfd", b"\xfe"]))
    return b"".join(pieces) + ending


def _engine(fork_name: str, main: bytes, other: bytes):
    config = ChainConfig.single_fork(fork_name, chain_id=CHAIN_ID)
    engine = Engine.in_memory(chain_config=config)
    alloc = {
        "0x" + SENDER.address.hex(): {"balance": hex(10**20)},
        "0x" + MAIN.hex(): {"code": "0x" + main.hex(), "storage": {"0x0": "0x5"}},
        "0x" + OTHER.hex(): {"code": "0x" + other.hex()},
    }
    if get_fork(fork_name).has_beacon_root_call:
        alloc.update(system_contracts_alloc())
    engine.init_genesis(merge_allocs(alloc), chain_config=config, gas_limit=30_000_000, base_fee=txgen.GWEI)
    return engine


def _block(fork_name: str, main: bytes, other: bytes, calls):
    fork = get_fork(fork_name)
    engine = _engine(fork_name, main, other)
    env = BlockEnv(number=1, timestamp=1_000, coinbase=b"\xc0" * 20, gas_limit=30_000_000,
                   base_fee=txgen.GWEI if fork.has_base_fee else None,
                   difficulty=0 if fork.is_post_merge else 131_072)
    txs = [
        txgen.sign(fork_name, SENDER.key, nonce=n, to=MAIN, data=data, gas=gas, chain_id=CHAIN_ID,
                   tx_type=2 if fork.has_base_fee else 0)
        for n, (data, gas) in enumerate(calls)
    ]
    return engine, env, txs


def _run_both(fork_name: str, main: bytes, other: bytes, calls):
    engine, env, txs = _block(fork_name, main, other, calls)
    assert interpreter.enabled()
    compiled = engine.execute(env, txs)
    with interpreter.stock_loop():
        stock = engine.execute(env, txs)
    return compiled, stock


def assert_same(compiled, stock):
    for mine, theirs in zip(compiled.tx_results, stock.tx_results, strict=True):
        assert (mine.status, mine.gas_used, mine.logs, mine.return_data, mine.error) == (
            theirs.status, theirs.gas_used, theirs.logs, theirs.return_data, theirs.error)
    assert compiled.diff == stock.diff
    assert (compiled.state_root, compiled.receipts_root, compiled.gas_used, compiled.logs_bloom) == (
        stock.state_root, stock.receipts_root, stock.gas_used, stock.logs_bloom)


@needs_compiled
@pytest.mark.parametrize("fork_name", FORKS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_programs_match_pyevm_loop(fork_name, data):
    main = data.draw(programs(allow_calls=True), label="main")
    other = data.draw(programs(allow_calls=True), label="other")
    calls = data.draw(st.lists(st.tuples(st.binary(max_size=70), st.sampled_from([21_500, 23_000, 30_000, 60_000, 300_000])),
                               min_size=1, max_size=3), label="calls")
    frames_before = frame_counts["compiled"]
    compiled, stock = _run_both(fork_name, main, other, calls)
    assert_same(compiled, stock)
    # the compiled side really ran every included transaction (the stock side never does)
    included = sum(result.receipt_index is not None for result in compiled.tx_results)
    assert frame_counts["compiled"] >= frames_before + included


@needs_compiled
@pytest.mark.parametrize("fork_name", ["prague", "frontier"])
def test_deep_recursion_and_stack_limit_match(fork_name):
    # recursion to the call-depth limit (each frame calls itself with all its gas) and a stack
    # that grows past 1,024 items
    recurse = _call(MAIN, 0xF1) + b"\x00"
    overflow = b"\x5b" + _push(1) + _push(0) + b"\x56"  # JUMPDEST PUSH1 1 PUSH1 0 JUMP: grows forever
    compiled, stock = _run_both(fork_name, recurse, overflow, [(b"", 3_000_000)])
    assert_same(compiled, stock)
    compiled, stock = _run_both(fork_name, overflow, recurse, [(b"", 3_000_000)])
    assert_same(compiled, stock)
    assert compiled.tx_results[0].error.startswith("FullStack")


@needs_compiled
def test_switch_forces_the_stock_loop():
    code = _push(1) + _push(2) + b"\x01\x00"
    engine, env, txs = _block("frontier", code, code, [(b"", 50_000)])  # no system calls
    before = interpreter.opcode_counts()[0][0x01]
    with interpreter.stock_loop():
        assert not interpreter.enabled()
        engine.execute(env, txs)
    assert interpreter.opcode_counts()[0][0x01] == before
    assert interpreter.enabled()
    engine.execute(env, txs)
    assert interpreter.opcode_counts()[0][0x01] == before + 1


# -- a sample against the execution specs ------------------------------------------------------
@needs_compiled
@pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_programs_match_the_execution_specs(data):
    """Random programs as the code of the contracts a random t8n batch calls, through
    ``hyperion t8n`` (compiled interpreter) and the specs' t8n."""
    from tests import known_differences
    from tests.crosscheck import CONTRACTS, batches, compare, hb, hyperion_t8n, spec_t8n

    batch = data.draw(batches(forks=["Prague", "Cancun", "London", "Byzantium"], max_txs=4), label="batch")
    for name in sorted(CONTRACTS):
        account = batch.alloc.get(hb(CONTRACTS[name]))
        if account is not None:
            account["code"] = hb(data.draw(programs(allow_calls=False), label=name))
    spec = spec_t8n(batch)
    mine = hyperion_t8n(batch)
    problems = compare(spec, mine)
    known_differences.xfail_unexplained(batch.fork, batch.alloc, batch.txs, problems)
    assert not problems, "\n".join(problems) + "\n" + batch.describe()


@needs_compiled
def test_bench_interp_runs(capsys):
    """The benchmark script runs (small inputs) and its three sides agree (it exits otherwise)."""
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        import bench_interp
    finally:
        sys.path.pop(0)
    bench_interp.main(["--quick", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "mandelbrot" in out and "sum" in out
