"""EIP-3155 traces: ``hyperion t8n --trace`` against ``ethereum-spec-evm t8n --trace``.

For random batches (tests/crosscheck.py) and some state-test fixtures, both tools must
write the same trace files with the same lines.  One difference is named and allowed
(docs/tracing.md): on the line of an opcode that halted exceptionally (out of gas, return
data out of bounds, ...), py-evm's ``gasCost`` can be a part of the specs' (py-evm charges
some opcodes in parts and stops at the failing check; the frame's gas is gone either way).
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Sequence

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperion.cli import main
from hyperion.tools.conformance.oracle import spec_t8n, state_test_t8n_inputs
from tests.conftest import fixtures_root
from tests.crosscheck import batches, hyperion_t8n
from tests.test_t8n import _simple_batch

pytestmark = pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")

OPTION_SETS = [(), ("--trace.memory", "--trace.returndata"), ("--trace.nostack",)]


def read_traces(directory) -> Dict[str, str]:
    return {name: open(os.path.join(directory, name)).read()
            for name in os.listdir(directory) if name.startswith("trace-")}


def hyperion_traces(alloc, env, txs, fork: str, directory, args: Sequence[str] = ()) -> Dict[str, str]:
    stdin = json.dumps({"alloc": alloc, "env": env, "txs": txs})
    result = CliRunner().invoke(
        main, ["t8n", "--input.alloc", "stdin", "--input.env", "stdin", "--input.txs", "stdin", "--state.fork", fork,
               "--output.basedir", str(directory), "--output.result", "result.json", "--output.alloc", "alloc.json",
               "--trace", *args], input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return read_traces(directory)


def halt_cost_differs(spec: dict, mine: dict) -> bool:
    """The named difference: the same line of an opcode that halted exceptionally, except
    a smaller ``gasCost``."""
    if spec.get("error") in (None, "Revert") or mine.get("error") != spec.get("error"):
        return False
    if "gasCost" not in spec or int(mine.get("gasCost", "0x0"), 16) >= int(spec["gasCost"], 16):
        return False
    return {k: v for k, v in spec.items() if k != "gasCost"} == {k: v for k, v in mine.items() if k != "gasCost"}


def compare_traces(spec: Dict[str, str], mine: Dict[str, str]) -> List[str]:
    problems = []
    if sorted(spec) != sorted(mine):
        problems.append(f"trace files differ: specs {sorted(spec)}, hyperion {sorted(mine)}")
    for name in sorted(set(spec) & set(mine)):
        spec_lines, my_lines = spec[name].splitlines(), mine[name].splitlines()
        for number, (a, b) in enumerate(zip(spec_lines, my_lines)):
            if a != b and not halt_cost_differs(json.loads(a), json.loads(b)):
                problems.append(f"{name} line {number}:\n  specs    {a}\n  hyperion {b}")
                break
        if len(spec_lines) != len(my_lines):
            problems.append(f"{name}: specs {len(spec_lines)} lines, hyperion {len(my_lines)}")
    return problems


def both(tmp_path, alloc, env, txs, fork, args=(), state_test=False):
    spec_dir, my_dir = tmp_path / "spec", tmp_path / "mine"
    spec_dir.mkdir()
    my_dir.mkdir()
    spec_t8n(alloc, env, txs, fork, state_test=state_test, trace_dir=str(spec_dir), trace_args=args)
    extra = ("--state-test",) if state_test else ()
    return read_traces(spec_dir), hyperion_traces(alloc, env, txs, fork, my_dir, (*args, *extra))


def test_a_block_traces_as_the_specs_do(tmp_path):
    batch = _simple_batch()
    spec, mine = both(tmp_path, batch.alloc, batch.env, batch.txs, batch.fork)
    assert len(mine) == 2  # the third transaction is invalid: no trace
    assert not compare_traces(spec, mine), "\n".join(compare_traces(spec, mine))
    first = mine[sorted(mine)[0]].splitlines()
    assert json.loads(first[0])["opName"] == "CALLVALUE"
    assert set(json.loads(first[-1])) == {"output", "gasUsed"}


@settings(max_examples=12)
@given(batch=batches(), options=st.sampled_from(OPTION_SETS))
def test_random_batches_trace_as_the_specs_do(tmp_path_factory, batch, options):
    tmp_path = tmp_path_factory.mktemp("trace")
    spec, mine = both(tmp_path, batch.alloc, batch.env, batch.txs, batch.fork, options)
    problems = compare_traces(spec, mine)
    assert not problems, "\n".join(problems) + "\n" + batch.describe()


@pytest.mark.long_run
@settings(max_examples=300)
@given(batch=batches(), options=st.sampled_from(OPTION_SETS))
def test_many_random_batches_trace_as_the_specs_do(tmp_path_factory, batch, options):
    """The same, 300 examples (``python tests/run.py --long``; about ten minutes)."""
    test_random_batches_trace_as_the_specs_do.hypothesis.inner_test(tmp_path_factory, batch, options)


FIXTURES = [
    "stExample/add11.json", "stRevertTest/RevertOnEmptyStack.json", "stCreate2/CREATE2_FirstByte_loop.json",
    "stSStoreTest/sstoreGas.json", "stLogTests/log4_PC.json", "stMemoryTest/sha3_dejavu.json",
    "stCallCodes/callcode_checkPC.json", "stReturnDataTest/returndatacopy_initial.json",
    "stStaticCall/static_CallSha256_1.json", "stSelfBalance/selfBalanceGasCost.json",
]


@pytest.mark.parametrize("path", FIXTURES)
def test_fixture_transactions_trace_as_the_specs_do(tmp_path, path):
    if not fixtures_root().is_dir():  # as tests/test_fixtures.py: visible, with the reason
        pytest.skip(f"no ethereum/tests fixtures under {fixtures_root()}")
    with open(fixtures_root() / "GeneralStateTests" / path) as handle:
        test = next(iter(json.load(handle).values()))
    fork, entries = next(iter(test["post"].items()))
    alloc, env, tx = state_test_t8n_inputs(test, entries[0])
    spec, mine = both(tmp_path, alloc, env, [tx], fork, ("--trace.memory", "--trace.returndata"), state_test=True)
    assert mine, "no trace written"
    problems = compare_traces(spec, mine)
    assert not problems, "\n".join(problems)


def test_tracing_changes_no_result(tmp_path):
    batch = _simple_batch("Prague")
    plain = hyperion_t8n(batch)
    traced = hyperion_t8n(batch, ("--trace", "--output.basedir", str(tmp_path)))
    assert read_traces(tmp_path)
    assert traced == plain


def test_the_named_difference_is_narrow():
    line = {"pc": 4, "op": 85, "gas": "0x1b08", "gasCost": "0x5654", "depth": 1, "error": "OutOfGasError"}
    assert halt_cost_differs(line, dict(line, gasCost="0x4e20"))
    assert not halt_cost_differs(line, dict(line, gasCost="0x6000"))  # more than the specs
    assert not halt_cost_differs(line, dict(line, gasCost="0x4e20", gas="0x1b07"))
    assert not halt_cost_differs(line, dict(line, gasCost="0x4e20", error="OutOfBoundsRead"))
    assert not halt_cost_differs(dict(line, error="Revert"), dict(line, gasCost="0x4e20", error="Revert"))
    assert not halt_cost_differs(dict(line, error=None), dict(line, gasCost="0x4e20", error=None))
