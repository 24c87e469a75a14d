"""The state-root benchmark runs (tiny sizes) and both sides agree on every root."""
import os
import sys

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def test_bench_trie_runs(capsys):
    sys.path.insert(0, BENCHMARKS)
    try:
        import bench_trie
    finally:
        sys.path.remove(BENCHMARKS)
    assert bench_trie.main(["--sizes", "1500", "--changed", "100", "--slots", "60", "--repeat", "2",
                            "--contract-slots", "30"]) == 0
    out = capsys.readouterr().out
    assert "accounts+storage" in out and "speedup" in out


def test_bench_parallel_refuses_results_that_differ():
    """No figure is reported for a block whose sides disagree: the check compares every
    header field and the per-transaction results, each one able to fail."""
    from types import SimpleNamespace

    import pytest

    from hyperion.tools.bench.parallel import SEQUENTIAL, ResultMismatch, _check_same

    fields = dict(state_root=b"\x01" * 32, receipts_root=b"\x02" * 32, logs_bloom=b"\x00" * 256, gas_used=21_000,
                  tx_results=["ok"])
    _check_same("eth", 1, {SEQUENTIAL: SimpleNamespace(**fields), "blockstm-2": SimpleNamespace(**fields)})
    for name in fields:
        other = dict(fields, **{name: b"\x09" if name != "gas_used" else 1})
        with pytest.raises(ResultMismatch, match=name):
            _check_same("eth", 1, {SEQUENTIAL: SimpleNamespace(**fields), "blockstm-2": SimpleNamespace(**other)})


def test_bench_blocks_have_distinct_senders_and_random_recipients():
    from hyperion.evm.forks import get_fork
    from hyperion.tools.bench.parallel import BlockFactory, HOT_HOLDER

    factory = BlockFactory(txs=40, accounts=50, zipf=1.0, seed=1)
    builder = get_fork("Prague").vm_class.get_transaction_builder()
    for workload in ("erc20", "eth", "mixed", "hot"):
        txs = [builder.decode(raw) for raw in factory.block(workload)]
        assert len({tx.sender for tx in txs}) == 40 and {tx.chain_id for tx in txs} == {1}
        if workload == "eth":
            assert len({tx.to for tx in txs}) == 40 and all(tx.to[:4] != b"\x00" * 4 for tx in txs)
        if workload == "hot":
            assert all(HOT_HOLDER.rjust(32, b"\x00") in tx.data for tx in txs)
    assert BlockFactory(40, 50, 1.0, seed=1).block("mixed") == BlockFactory(40, 50, 1.0, seed=1).block("mixed")
