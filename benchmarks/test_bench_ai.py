"""pytest-benchmark suite for the AI precompiles (the full report comes from
``python benchmarks/bench_ai.py``).

    python -m pytest benchmarks/test_bench_ai.py --benchmark-only
"""
from benchmarks.bench_ai import Bench, _EngineSource, evm_vs_precompile, layer_256
from hyperion.precompiles.ai import abi, examples as ex, runtime

_BENCH = None


def _bench():
    global _BENCH
    if _BENCH is None:
        _BENCH = Bench(repeat=1)
    return _BENCH


def test_bench_mlp_precompile_call(benchmark):
    """The mlp precompile outside the EVM on the deployed 64-32-10 model."""
    bench = _bench()
    source = _EngineSource(bench.engine)
    data = bench.deployment.model + ex.sample_input(3, 0)
    output, gas, _ = benchmark(runtime.execute, "mlp", data, source)
    assert ex.decode_uint(output) == 3
    benchmark.extra_info["gas"] = gas


def test_bench_matvec_256(benchmark):
    w, x = layer_256()
    call = (256).to_bytes(2, "big") * 2 + bytes([8, abi.FLAG_OUT_INT8]) + w + x
    output, gas, _ = benchmark(runtime.execute, "matvec", call, None)
    assert len(output) == 256
    benchmark.extra_info["gas"] = gas


def test_bench_evm_vs_precompile(benchmark):
    """One round of the EVM-vs-precompile comparison; asserts the >= 100x goals."""
    bench = _bench()
    figures = benchmark.pedantic(evm_vs_precompile, args=(bench, 1, 20), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in figures.items() if isinstance(v, (int, float, bool))})
    assert figures["labels_agree"]
    assert figures["gas_ratio_inference"] >= 100
    assert figures["time_ratio_tx"] >= 100
