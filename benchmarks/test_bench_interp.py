"""pytest-benchmark form of ``bench_interp.py``: one Mandelbrot call, compiled interpreter
and py-evm's loop (the full report, stock py-evm included, comes from the script).

    python -m pytest benchmarks/test_bench_interp.py --benchmark-only
"""
import pytest

from benchmarks.bench_interp import _call, _engine, calldata, COMPUTE, ENV
from hyperion.evm import interpreter
from hyperion.tools import workloads

pytestmark = pytest.mark.skipif(not interpreter.available(), reason="needs the compiled interpreter")


@pytest.fixture(scope="module")
def block():
    code = bytes.fromhex(workloads.contract_artifact("Compute")["runtime"][2:])
    engine = _engine({"0x" + COMPUTE.hex(): {"code": "0x" + code.hex()}})
    return engine, [_call(calldata("mandelbrot(uint256,uint256)", [6, 30]))]


@pytest.mark.parametrize("side", ["compiled", "pyevm-loop"])
def test_bench_mandelbrot(benchmark, block, side):
    engine, txs = block

    def run():
        with interpreter.stock_loop(side == "pyevm-loop"):
            return engine.execute(ENV, txs)

    result = benchmark(run)
    assert result.tx_results[0].status.value == "success"
    benchmark.extra_info["gas"] = result.tx_results[0].gas_used
