"""``hyperion bench run`` / ``list`` / ``compare`` at tiny sizes (not a measurement): the
outputs exist and hold what they claim, and sides that disagree are an error."""
import json
import os
import re

import pytest
from click.testing import CliRunner

from hyperion.cli import main
from hyperion.tools.bench import runner, suite


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny run of every workload (no --workload: all of them) at two contention levels,
    all sides."""
    out = tmp_path_factory.mktemp("bench")
    args = ["bench", "run", "--txs", "6", "--workers", "2", "--contention", "0,1", "--rounds", "1", "--out", str(out),
            "--phases", "-q"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["hyperion", *args])  # the command line the report quotes
        result = invoke(*args)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_run_writes_table_json_plots_and_report(tiny_run):
    out, printed = tiny_run
    assert {"results.json", "report.md", "speedup_vs_contention.png", "throughput_vs_workers.png",
            "time_split.png"} <= set(os.listdir(out))
    data = json.loads((out / "results.json").read_text())
    assert {"cpu", "cores", "python", "packages", "git_revision"} <= set(data["machine"])
    assert data["contentions"] == [0.0, 1.0]  # as asked: hot's contention 1 is its own
    # hot ignores contention: it runs once; the others once per level
    assert sorted((c["workload"], c["contention"]) for c in data["configs"]) == sorted(
        [(w, c) for w in suite.WORKLOADS if w != "hot" for c in (0.0, 1.0)] + [("hot", 1.0)])
    for config in data["configs"]:
        no_stock = config["workload"] == "ai"  # stock py-evm has no AI precompiles
        assert set(config["samples"]) == {"sequential", "blockstm-2"} | (set() if no_stock else {"stock"})
        roots = {s["state_root"] for samples in config["samples"].values() for s in samples}
        assert len(roots) == 1 and all(len(s) == 1 for s in config["samples"].values())
    for header in ("tx/s", "Mgas/s", "vs stock", "aborts/tx", "note: ai: no stock side: stock py-evm has no AI",
                   "worker µs/tx", "eth          0 blockstm-2"):
        assert header in printed
    assert data["notes"] == ["ai: no stock side: " + suite.WORKLOADS["ai"].no_stock]
    report = (out / "report.md").read_text()
    assert "![time split](time_split.png)" in report and "| eth | 0 | blockstm-2 |" in report
    machine = data["machine"]
    assert f"Machine: {machine['cpu']}, {machine['cores']} cores" in report
    assert "Command: `hyperion bench run --txs 6 --workers 2 --contention 0,1 --rounds 1 --out " in report
    assert data["chain"] is False and data["timed"].startswith("execute() + commit()")
    assert ("Workloads: " + ", ".join(suite.WORKLOADS) + "; 6 transactions per block, 1 block(s) per configuration, "
            "1 measured round(s) after a warm-up block; Block-STM workers 2; contention 0, 1") in report
    assert "Note: ai: no stock side" in report


def test_compare_flags_a_regression(tiny_run, tmp_path):
    out, _ = tiny_run
    data = json.loads((out / "results.json").read_text())
    slower = json.loads(json.dumps(data))
    for sample in slower["configs"][0]["samples"]["sequential"]:
        sample["seconds"] *= 2
    (tmp_path / "slower.json").write_text(json.dumps(slower))
    same = invoke("bench", "compare", str(out / "results.json"), str(out / "results.json"))
    assert same.exit_code == 0 and "REGRESSION" not in same.output
    worse = invoke("bench", "compare", str(out / "results.json"), str(tmp_path / "slower.json"))
    flagged = [line for line in worse.output.splitlines() if "REGRESSION" in line]
    assert worse.exit_code == 1 and len(flagged) == 1 and "sequential" in flagged[0] and "-50.0%" in flagged[0]


def _stock_reports_a_wrong_root(monkeypatch) -> None:
    """Stock py-evm's side computes its blocks as usual but reports another state root."""
    real = runner.one_block.run_stock

    def wrong_root(*args, **kwargs):
        timing = real(*args, **kwargs)
        timing.state_root = b"\x01" * 32
        return timing

    monkeypatch.setattr(runner.one_block, "run_stock", wrong_root)


def test_a_root_mismatch_is_an_error_and_prints_no_figure(monkeypatch, tmp_path):
    _stock_reports_a_wrong_root(monkeypatch)
    result = invoke("bench", "run", "--workload", "eth", "--txs", "4", "--workers", "1", "--rounds", "1",
                    "--json", str(tmp_path / "r.json"), "-q")
    assert result.exit_code == 1
    assert "state root of" in result.output and "tx/s" not in result.output
    assert not (tmp_path / "r.json").exists()


def test_all_stands_for_every_workload_once():
    assert runner.workload_names(["all"]) == list(suite.WORKLOADS)
    assert runner.workload_names(["nft", "all", "t8n:x", "eth"]) == ["nft"] + [
        w for w in suite.WORKLOADS if w != "nft"] + ["t8n:x"]


def test_list_and_bad_input():
    listed = invoke("bench", "list")
    assert listed.exit_code == 0 and all(name in listed.output for name in suite.WORKLOADS)
    for args, message in ((["--workload", "nope"], "unknown workload 'nope'"),
                          (["--contention", "2"], "between 0 and 1"),
                          (["--baseline", "geth"], "unknown baseline 'geth'"),
                          (["--workers", "0"], "positive integers"),
                          (["--chain"], "a chained run has no stock side"),
                          (["--chain", "--baseline", "sequential", "--workload", "t8n:x"], "cannot be chained"),
                          (["--phases", "--baseline", "stock"], "--phases compares Block-STM")):
        result = CliRunner().invoke(main, ["bench", "run", "--txs", "2", *args])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_workload_blocks_are_deterministic_and_contention_concentrates_recipients():
    from hyperion.evm.forks import get_fork

    builder = get_fork("Prague").vm_class.get_transaction_builder()
    assert suite.blocks("mixed", 30, 2, 0.5, seed=3) == suite.blocks("mixed", 30, 2, 0.5, seed=3)
    assert suite.blocks("mixed", 30, 1, 0.5, seed=3) != suite.blocks("mixed", 30, 1, 0.5, seed=4)
    for contention, hot in ((0.0, 0), (1.0, 30)):
        txs = [builder.decode(raw) for raw in suite.blocks("eth", 30, 1, contention, seed=3)[0]]
        assert len({tx.sender for tx in txs}) == 30 and {tx.nonce for tx in txs} == {0}
        assert sum(tx.to == suite.HOT_HOLDER for tx in txs) == hot


def test_amm_swaps_succeed_and_keep_the_constant_product():
    """Ten swaps on pool 0 (contention 1): every one succeeds, the pool gains their ether,
    and the tokens it paid out are exactly what the buyers were credited."""
    from hyperion import BlockEnv, ChainConfig, Engine
    from hyperion.tools import workloads as w

    layout = w.contract_artifact("Pool")["storage_layout"]
    pool = suite.pool_address(0)
    with Engine.in_memory(chain_config=ChainConfig(chain_id=suite.CHAIN_ID)) as engine:
        engine.init_genesis(suite.genesis(10), timestamp=runner.GENESIS_TIME)
        env = BlockEnv(number=1, timestamp=runner.GENESIS_TIME + 12, coinbase=b"\xc0" * 20, base_fee=w.GWEI,
                       gas_limit=30_000_000, parent_beacon_block_root=(1).to_bytes(32, "big"))
        engine.commit(engine.execute(env, suite.blocks("amm", 10, 1, 1.0, seed=5)[0]))
        ether = engine.get_storage(pool, layout["ether_reserve"]["slot"])
        tokens = engine.get_storage(pool, layout["token_reserve"]["slot"])
        bought = [engine.get_storage(pool, w.hashmap_slot(layout["tokens"]["slot"], wallet.address))
                  for wallet in w.wallets(10)]
    assert ether == suite.POOL_ETHER + 10 * suite.SWAP_ETHER
    assert all(b > 0 for b in bought) and sum(bought) == suite.POOL_TOKENS - tokens
    assert bought == sorted(bought, reverse=True)  # each swap on the same pool gets a worse price


def test_nft_mints_number_tokens_in_order():
    """Ten mints on collection 0 (contention 1): token ids 0-9 go to the senders in block order."""
    from hyperion import BlockEnv, ChainConfig, Engine
    from hyperion.tools import workloads as w

    layout = w.contract_artifact("Collection")["storage_layout"]
    collection = suite.collection_address(0)
    with Engine.in_memory(chain_config=ChainConfig(chain_id=suite.CHAIN_ID)) as engine:
        engine.init_genesis(suite.genesis(10), timestamp=runner.GENESIS_TIME)
        env = BlockEnv(number=1, timestamp=runner.GENESIS_TIME + 12, coinbase=b"\xc0" * 20, base_fee=w.GWEI,
                       gas_limit=30_000_000, parent_beacon_block_root=(1).to_bytes(32, "big"))
        engine.commit(engine.execute(env, suite.blocks("nft", 10, 1, 1.0, seed=5)[0]))
        supply = engine.get_storage(collection, layout["total_supply"]["slot"])
        owners = [engine.get_storage(collection, w.hashmap_slot(layout["ownerOf"]["slot"], i.to_bytes(32, "big")))
                  for i in range(10)]
    assert supply == 10
    assert owners == [int.from_bytes(wallet.address, "big") for wallet in w.wallets(10)]


def test_a_t8n_input_replays_as_a_workload(tmp_path):
    """Five transfers given as t8n files (Cancun, block 0x20): every Hyperion side runs the
    block on the given pre-state and agrees; a malformed input is a usage error."""
    from hyperion.tools import workloads as w

    senders = w.wallets(5)
    alloc = {"0x" + s.address.hex(): {"balance": hex(10**18)} for s in senders}
    env = {"currentCoinbase": "0x" + "c0" * 20, "currentGasLimit": hex(30_000_000), "currentNumber": "0x20",
           "currentTimestamp": "0x1000", "currentRandom": "0x" + "07" * 32, "currentBaseFee": "0x7",
           "withdrawals": [], "parentBeaconBlockRoot": "0x" + "09" * 32, "currentExcessBlobGas": "0x0",
           "blockHashes": {"0x1f": "0x" + "01" * 32}}
    txs = [{"type": "0x2", "nonce": "0x0", "gas": hex(21_000), "maxFeePerGas": "0x20", "maxPriorityFeePerGas": "0x2",
            "to": "0x" + "ab" * 20, "value": hex(i + 1), "input": "0x", "chainId": "0x1",
            "secretKey": "0x" + s.key.to_bytes().hex()} for i, s in enumerate(senders)]
    for name, value in (("alloc.json", alloc), ("env.json", env), ("txs.json", txs)):
        (tmp_path / name).write_text(json.dumps(value))
    (tmp_path / "fork.txt").write_text("Cancun\n")
    result = invoke("bench", "run", "--workload", f"t8n:{tmp_path}", "--workers", "2", "--rounds", "1",
                    "--json", str(tmp_path / "r.json"), "-q")
    assert result.exit_code == 0, result.output
    (config,) = json.loads((tmp_path / "r.json").read_text())["configs"]
    assert config["txs"] == 5 and set(config["samples"]) == {"sequential", "blockstm-2"}
    assert all(s["gas_used"] == 5 * 21_000 for samples in config["samples"].values() for s in samples)
    (tmp_path / "env.json").write_text("{")
    broken = CliRunner().invoke(main, ["bench", "run", "--workload", f"t8n:{tmp_path}", "-q"])
    assert broken.exit_code == 2 and "env.json: not JSON" in broken.output


def test_stock_warms_up_on_the_first_workload_only(monkeypatch):
    """py-evm builds a fresh VM per block: one warm-up block per run, then measured blocks only."""
    real, calls = runner.one_block.run_stock, []

    def counted(*args, **kwargs):
        calls.append(len(args[3]))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner.one_block, "run_stock", counted)
    run = runner.measure(("eth", "erc20"), 4, workers=(1,), contentions=(0.0, 1.0), rounds=2)
    assert len(calls) == 1 + 2 * 2 * 2  # the warm-up, then 2 rounds of 2 workloads x 2 levels
    assert all(len(c.samples["stock"]) == 2 for c in run.configs)


def test_chained_blocks_advance_each_senders_nonce_across_workloads():
    from hyperion.evm.forks import get_fork

    builder = get_fork("Prague").vm_class.get_transaction_builder()
    nonces = {}
    blocks = suite.blocks("eth", 5, 2, 0.0, seed=3, nonces=nonces) + suite.blocks("dao", 5, 1, 0.0, seed=3,
                                                                                  nonces=nonces)
    assert [{builder.decode(raw).nonce for raw in block} for block in blocks] == [{0}, {1}, {2}]
    assert nonces == {i: 3 for i in range(5)}


def test_bench_parallel_is_the_runners_chained_preset(tmp_path):
    """Every block builds on the last: two rounds of ETH transfers from the same six senders
    are all included (a stale nonce would drop them), each round reaches a new state root on
    which every side agrees, and the cost table is printed."""
    result = invoke("bench", "parallel", "--txs", "6", "--workers", "2", "--rounds", "2", "--min-txs", "1",
                    "--workload", "eth", "--workload", "hot", "--json", str(tmp_path / "p.json"), "-q")
    assert result.exit_code == 0, result.output
    assert "worker µs/tx" in result.output and "chained blocks, commit untimed" in result.output
    (data,) = json.loads((tmp_path / "p.json").read_text())["runs"]
    assert data["chain"] and data["baselines"] == ["sequential"] and data["txs"] == 6
    assert [c["workload"] for c in data["configs"]] == ["eth", "hot"]
    eth = data["configs"][0]["samples"]
    assert set(eth) == {"sequential", "blockstm-2"}
    assert all(s["gas_used"] == 6 * 21_000 and s["commit_seconds"] is not None for ss in eth.values() for s in ss)
    roots = [[s["state_root"] for s in ss] for ss in eth.values()]
    assert roots[0] == roots[1] and len(set(roots[0])) == 2
    hot = data["configs"][1]["samples"]["blockstm-2"]
    assert all(s["stats"]["scheduler"] == "blockstm" and s["stats"]["workers"] == 2 for s in hot)


def test_a_chained_side_that_differs_is_an_error(monkeypatch):
    """The second side of every block reports other gas: no figure, exit 1."""
    real, calls = runner._run_chained, []

    def skewed(*args):
        sample, results = real(*args)
        calls.append(sample)
        if len(calls) % 2 == 0:
            sample.gas_used += 1
        return sample, results

    monkeypatch.setattr(runner, "_run_chained", skewed)
    result = invoke("bench", "parallel", "--txs", "4", "--workers", "1", "--rounds", "1", "--workload", "eth", "-q")
    assert result.exit_code == 1
    assert "gas used by" in result.output and "µs/tx" not in result.output


def test_fewer_accounts_send_several_transactions_each_in_order():
    from hyperion.evm.forks import get_fork

    builder = get_fork("Prague").vm_class.get_transaction_builder()
    (block,) = suite.blocks("erc20", 7, 1, 0.0, seed=3, accounts=3)
    decoded = [builder.decode(raw) for raw in block]
    senders = [w.address for w in suite.w.wallets(3)]
    assert [(tx.sender, tx.nonce) for tx in decoded] == [(senders[i % 3], i // 3) for i in range(7)]


def test_run_with_fewer_accounts_includes_every_transaction(tmp_path):
    """Seven ether transfers from three wallets: a wrong nonce would drop one (less gas)."""
    result = invoke("bench", "run", "--workload", "eth", "--txs", "7", "--accounts", "3", "--workers", "none",
                    "--rounds", "1", "--json", str(tmp_path / "r.json"), "-q")
    assert result.exit_code == 0, result.output
    assert "7 txs/block from 3 wallets" in result.output
    data = json.loads((tmp_path / "r.json").read_text())
    (config,) = data["configs"]
    assert data["accounts"] == 3 and set(config["samples"]) == {"stock", "sequential"}  # --workers none
    assert all(s["gas_used"] == 7 * 21_000 for samples in config["samples"].values() for s in samples)


def test_bench_foundation_is_the_runners_stock_vs_sequential_preset(tmp_path):
    result = invoke("bench", "foundation", "--txs", "7", "--accounts", "3", "--rounds", "2",
                    "--json", str(tmp_path / "f.json"), "-q")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "f.json").read_text())
    assert data["kind"] == "hyperion-bench-run" and data["baselines"] == ["stock", "sequential"]
    assert data["workers"] == [] and data["accounts"] == 3 and data["rounds"] == 2
    assert [c["workload"] for c in data["configs"]] == ["eth", "erc20"]
    for config in data["configs"]:
        assert set(config["samples"]) == {"stock", "sequential"}
        assert all(len(samples) == 2 for samples in config["samples"].values())
    (eth,) = [c for c in data["configs"] if c["workload"] == "eth"]
    assert all(s["gas_used"] == 7 * 21_000 for s in eth["samples"]["sequential"])  # every transfer included
    for workload in ("eth", "erc20"):
        assert re.search(rf"^{workload}: Hyperion [\d.]+x stock end to end \[", result.output, re.M)
        assert re.search(rf"^{workload}\s+stock\s+[\d.]+", result.output, re.M)


def test_bench_foundation_root_mismatch_and_bad_input(monkeypatch):
    _stock_reports_a_wrong_root(monkeypatch)
    result = invoke("bench", "foundation", "--txs", "4", "--rounds", "1", "--workload", "eth", "-q")
    assert result.exit_code == 1 and "state root of" in result.output and "end to end" not in result.output
    for args, message in ((["--accounts", "0"], "--accounts"), (["--no-twins"], "No such option"),
                          (["--workload", "dao"], "'dao' is not one of")):
        bad = CliRunner().invoke(main, ["bench", "foundation", "--txs", "2", *args])
        assert bad.exit_code == 2 and message in bad.output and "Traceback" not in bad.output
