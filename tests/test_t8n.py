"""``hyperion t8n`` against ``ethereum-spec-evm t8n`` (the execution specs, an independent EVM).

Random batches (tests/crosscheck.py) must give the same state root, receipts, logs,
rejections, post-state alloc and derived env values through both tools.  Differences
from the specs are failures, except a known py-evm difference whose cause is not found,
which is an xfail naming it (tests/known_differences.py).
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest
import rlp
from click.testing import CliRunner
from hypothesis import given, settings

from tests import known_differences
from tests.crosscheck import (
    COINBASE,
    CONTRACTS,
    KEYS,
    LOGGER,
    SENDERS,
    Batch,
    batches,
    compare,
    h,
    hb,
    hyperion_t8n,
    spec_t8n,
    system_contracts,
)
from hyperion.cli import main
from hyperion.tools.conformance.fixture_json import encode_signed, sign, to_bytes, tx_from_json

BIN = os.path.dirname(sys.executable)

# the execution specs raise the recursion limit while hypothesis runs an example
pytestmark = pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")


@given(batches())
def test_t8n_matches_the_specs_on_random_batches(batch):
    spec = spec_t8n(batch)
    mine = hyperion_t8n(batch)
    problems = compare(spec, mine)
    known_differences.xfail_unexplained(batch.fork, batch.alloc, batch.txs, problems)
    assert not problems, "\n".join(problems) + "\n" + batch.describe()


@given(batches(forks=["Prague", "Cancun"], max_txs=1))
def test_state_test_mode_matches_the_specs(batch):
    """``--state-test``: one transaction, no system calls, withdrawals or rewards (the specs
    apply only the first transaction in this mode)."""
    batch.env = dict(batch.env, withdrawals=[])
    from hyperion.tools.conformance.oracle import spec_t8n as run

    spec = run(batch.alloc, batch.env, batch.txs, batch.fork, state_test=True)
    mine = hyperion_t8n(batch, ("--state-test",))
    problems = compare(spec, mine)
    assert not problems, "\n".join(problems) + "\n" + batch.describe()


def _simple_batch(fork="Cancun", **env_changes) -> Batch:
    alloc = {hb(SENDERS[0]): {"balance": h(10**18), "nonce": "0x3"},
             hb(CONTRACTS["logger"]): {"balance": "0x0", "nonce": "0x1", "code": hb(LOGGER)}}
    env = {"currentCoinbase": hb(COINBASE), "currentGasLimit": h(30_000_000), "currentNumber": "0x20",
           "currentTimestamp": "0x1000", "currentRandom": hb(b"\x07" * 32), "currentBaseFee": "0x7",
           "withdrawals": [{"index": "0x0", "validatorIndex": "0x1", "address": hb(SENDERS[2]), "amount": "0x10"}],
           "parentBeaconBlockRoot": hb(b"\x09" * 32), "currentExcessBlobGas": "0x0",
           "blockHashes": {"0x1f": hb(b"\x01" * 32)}}
    env.update(env_changes)
    txs = [
        {"type": "0x2", "nonce": "0x3", "gas": h(100_000), "maxFeePerGas": "0x20", "maxPriorityFeePerGas": "0x2",
         "to": hb(CONTRACTS["logger"]), "value": "0x5", "input": "0x", "secretKey": hb(KEYS[0]), "chainId": "0x1"},
        {"type": "0x0", "nonce": "0x4", "gas": h(60_000), "gasPrice": "0x10", "to": None, "value": "0x0",
         "input": "0x600160005500", "secretKey": hb(KEYS[0])},
        {"type": "0x2", "nonce": "0x9", "gas": h(21_000), "maxFeePerGas": "0x20", "maxPriorityFeePerGas": "0x2",
         "to": hb(SENDERS[1]), "value": "0x1", "input": "0x", "secretKey": hb(KEYS[0]), "chainId": "0x1"},
    ]
    return Batch(fork, alloc, env, txs)


def test_command_line_tools_agree(tmp_path):
    """Both tools from a shell, with files in and out."""
    batch = _simple_batch()
    for name, value in (("alloc.json", batch.alloc), ("env.json", batch.env), ("txs.json", batch.txs)):
        (tmp_path / name).write_text(json.dumps(value))
    outputs = {}
    for tool, command in (("hyperion", [sys.executable, "-c", "from hyperion.cli import main; main()", "t8n"]),
                          ("spec", [os.path.join(BIN, "ethereum-spec-evm"), "t8n"])):
        outdir = tmp_path / f"out-{tool}"  # not "hyperion/": `python -c` in tmp_path would import it as a namespace package
        outdir.mkdir()
        completed = subprocess.run(
            command + ["--input.alloc", str(tmp_path / "alloc.json"), "--input.env", str(tmp_path / "env.json"),
                       "--input.txs", str(tmp_path / "txs.json"), "--state.fork", "Cancun", "--state.chainid", "1",
                       "--output.basedir", str(outdir), "--output.result", "result.json",
                       "--output.alloc", "alloc.json"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        outputs[tool] = {"result": json.loads((outdir / "result.json").read_text()),
                         "alloc": json.loads((outdir / "alloc.json").read_text())}
    problems = compare(outputs["spec"], outputs["hyperion"])
    assert not problems, problems
    result = outputs["hyperion"]["result"]
    for key in ("stateRoot", "txRoot", "receiptsRoot", "logsHash", "logsBloom", "receipts", "rejected", "gasUsed",
                "currentBaseFee", "currentExcessBlobGas", "withdrawalsRoot"):
        assert key in result, key
    assert result["rejected"] == [{"index": 2, "error": result["rejected"][0]["error"]}]
    assert "nonce" in result["rejected"][0]["error"]


def test_stdin_stdout_and_body(tmp_path):
    batch = _simple_batch()
    stdin = json.dumps({"alloc": batch.alloc, "env": batch.env, "txs": batch.txs})
    result = CliRunner().invoke(main, ["t8n", "--input.alloc", "stdin", "--input.env", "stdin", "--input.txs", "stdin",
                                       "--state.fork", "Cancun", "--output.result", "stdout", "--output.alloc",
                                       "stdout", "--output.body", "stdout"], input=stdin)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"result", "alloc", "body"}
    body = rlp.decode(to_bytes(out["body"]))
    assert len(body) == 3  # every parsed transaction, as a block body holds them


def test_secret_key_and_signed_transactions_are_the_same():
    batch = _simple_batch()
    signed = copy.deepcopy(batch)
    for tx in signed.txs:
        parsed = sign(tx_from_json(tx), 1)
        tx.pop("secretKey")
        tx.update(v=h(parsed.v), r=h(parsed.r), s=h(parsed.s))
    a, b = hyperion_t8n(batch), hyperion_t8n(signed)
    assert a["result"] == b["result"]
    assert a["alloc"] == b["alloc"]


def test_rlp_transactions_input():
    batch = _simple_batch()
    raw = [encode_signed(sign(tx_from_json(tx), 1), 1) for tx in batch.txs]
    rlp_batch = copy.deepcopy(batch)
    rlp_batch.txs = "0x" + rlp.encode([r if r[0] < 0xC0 else rlp.decode(r) for r in raw]).hex()
    assert hyperion_t8n(rlp_batch)["result"] == hyperion_t8n(batch)["result"]


def test_unsigned_transactions_with_a_sender_run_as_that_sender():
    """Hyperion's extension: no signature, no secretKey, a ``sender``."""
    batch = _simple_batch()
    unsigned = copy.deepcopy(batch)
    for tx in unsigned.txs:
        tx.pop("secretKey")
        tx["sender"] = hb(SENDERS[0])
    a, b = hyperion_t8n(batch), hyperion_t8n(unsigned)
    assert a["result"]["stateRoot"] == b["result"]["stateRoot"]
    assert a["alloc"] == b["alloc"]
    assert [r["cumulativeGasUsed"] for r in a["result"]["receipts"]] == \
        [r["cumulativeGasUsed"] for r in b["result"]["receipts"]]
    assert a["result"]["txRoot"] != b["result"]["txRoot"]  # v = r = s = 0 in the transactions root


def test_env_derived_from_parent_fields_matches_the_specs():
    batch = _simple_batch(currentBaseFee=None, currentExcessBlobGas=None)
    batch.env = {k: v for k, v in batch.env.items() if v is not None}
    batch.env.update(parentBaseFee="0x100", parentGasUsed=h(29_000_000), parentGasLimit=h(30_000_000),
                     parentExcessBlobGas=h(500_000), parentBlobGasUsed=h(393_216))
    spec, mine = spec_t8n(batch), hyperion_t8n(batch)
    assert not compare(spec, mine)
    assert mine["result"]["currentBaseFee"] == spec["result"]["currentBaseFee"]
    assert mine["result"]["currentExcessBlobGas"] == spec["result"]["currentExcessBlobGas"] == hex(500_000)


def test_pre_merge_difficulty_reward_and_receipt_roots_match_the_specs():
    for fork in ("Homestead", "Byzantium", "London"):
        batch = _simple_batch(fork)
        batch.env = {k: v for k, v in batch.env.items()
                     if k not in ("currentRandom", "withdrawals", "parentBeaconBlockRoot", "currentExcessBlobGas")}
        batch.env.update(parentDifficulty="0x20000", parentTimestamp="0xff0")
        if fork != "London":
            batch.env.pop("currentBaseFee")
            for tx in batch.txs:
                tx.update(type="0x0", gasPrice="0x20")
                for key in ("maxFeePerGas", "maxPriorityFeePerGas", "chainId"):
                    tx.pop(key, None)
        spec, mine = spec_t8n(batch), hyperion_t8n(batch)
        problems = compare(spec, mine)
        assert not problems, (fork, problems)
        assert mine["result"]["currentDifficulty"] == spec["result"]["currentDifficulty"]
        if fork == "Homestead":
            assert mine["result"]["receipts"][0]["root"] != "0x"  # intermediate state roots


def test_ommers_are_rewarded():
    batch = _simple_batch("London")
    batch.env = {k: v for k, v in batch.env.items()
                 if k not in ("currentRandom", "withdrawals", "parentBeaconBlockRoot", "currentExcessBlobGas")}
    batch.env.update(currentDifficulty="0x20000", ommers=[{"delta": "0x2", "address": hb(b"\x11" * 20)}])
    out = hyperion_t8n(batch)
    reward = 2 * 10**18
    assert int(out["alloc"][hb(b"\x11" * 20)]["balance"], 16) == (8 - 2) * reward // 8
    without = copy.deepcopy(batch)
    without.env.pop("ommers")
    base = int(hyperion_t8n(without)["alloc"][hb(COINBASE)]["balance"], 16)
    assert int(out["alloc"][hb(COINBASE)]["balance"], 16) == base + reward // 32


def test_block_exception_is_reported_like_the_specs():
    """Prague without the EIP-7002 contract: the block is invalid, the results are still written."""
    batch = _simple_batch("Prague")
    contracts = system_contracts()
    for name in ("beacon_roots", "history_storage", "consolidation_requests"):
        c = contracts[name]
        batch.alloc[c["address"]] = {"balance": "0x0", "nonce": h(c["nonce"]), "code": c["code"]}
    spec, mine = spec_t8n(batch), hyperion_t8n(batch)
    assert "blockException" in mine["result"] and "blockException" in spec["result"]
    assert not compare(spec, mine)
    for c in contracts.values():
        batch.alloc[c["address"]] = {"balance": "0x0", "nonce": h(c["nonce"]), "code": c["code"]}
    spec, mine = spec_t8n(batch), hyperion_t8n(batch)
    assert "blockException" not in mine["result"]
    assert not compare(spec, mine)
    assert mine["result"]["requestsHash"] == spec["result"]["requestsHash"]


@pytest.mark.parametrize("args, code, text", [
    (["--state.fork", "Osaka"], 3, "Osaka"),
    (["--state.fork", "NoSuchFork"], 3, "unknown fork"),
])
def test_errors_have_exit_codes(args, code, text):
    batch = _simple_batch()
    stdin = json.dumps({"alloc": batch.alloc, "env": batch.env, "txs": batch.txs})
    result = CliRunner().invoke(main, ["t8n", "--input.alloc", "stdin", "--input.env", "stdin", "--input.txs", "stdin",
                                       "--output.result", "stdout", *args], input=stdin)
    assert result.exit_code == code, result.output
    assert text in result.output


@settings(max_examples=4)
@given(batches(forks=["Prague", "Cancun", "London"], max_txs=12))
def test_blockstm_scheduler_gives_the_sequential_output(batch):
    """``--scheduler blockstm`` runs every block of two or more transactions on worker
    processes (hyperion.tools.conformance.CHECKING_MIN_TXS) and must print exactly what the
    sequential scheduler prints."""
    assert hyperion_t8n(batch, ("--scheduler", "blockstm", "--workers", "2")) == hyperion_t8n(batch)


def test_an_env_missing_what_the_fork_needs_is_a_config_error():
    """geth's t8n: ErrorConfig (3) for "post-merge requires currentRandom"."""
    batch = _simple_batch()
    env = dict(batch.env)
    env.pop("currentRandom")
    stdin = json.dumps({"alloc": batch.alloc, "env": env, "txs": batch.txs})
    result = CliRunner().invoke(main, ["t8n", "--input.alloc", "stdin", "--input.env", "stdin", "--input.txs", "stdin",
                                       "--state.fork", "Cancun", "--output.result", "stdout"], input=stdin)
    assert result.exit_code == 3 and "currentRandom" in result.output


@pytest.mark.parametrize("value", [
    {"a": [1, {"b": "0x00"}, [], {}], "c": None, "d": True, "e": ""},
    {"big": 2**70, "list": [{"x": 1}]},  # past orjson's 64 bits
    {"text": "caf\u00e9 \u2603", "n": -3},  # escaped as the standard library escapes it
    [],
])
def test_t8n_json_output_is_the_standard_librarys(value):
    import json

    from hyperion.commands.t8n import dump_json

    assert dump_json(value) == json.dumps(value, indent=2).encode("ascii")
