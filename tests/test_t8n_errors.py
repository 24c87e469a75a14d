"""``hyperion t8n`` on bad input: one clear line on stderr and geth's t8n exit codes.

Regressions of issue #16, defects 1 and 7: tracebacks for non-UTF-8 or wrongly shaped
input, numbers too big and an ``--output.basedir`` under a file; out-of-range values
accepted with exit 0; ``currentExcessBlobGas: 0xffffffffffffffff`` never exiting.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hyperion.cli import main

from tests.hostile import deadline

ENV = {
    "currentCoinbase": "0x" + "2a" * 20, "currentGasLimit": "0x1c9c380", "currentNumber": "0x20",
    "currentTimestamp": "0x1000", "currentRandom": "0x" + "00" * 31 + "07", "currentBaseFee": "0x7",
    "withdrawals": [], "parentBeaconBlockRoot": "0x" + "09" * 32, "currentExcessBlobGas": "0x0",
}
PRE_MERGE_ENV = {
    "currentCoinbase": "0x" + "2a" * 20, "currentGasLimit": "0x1c9c380", "currentNumber": "0x20",
    "currentTimestamp": "0x1000", "parentTimestamp": "0x0ff0", "parentDifficulty": "0x20000",
}
WITHDRAWAL = {"index": "0x0", "validatorIndex": "0x1", "address": "0x" + "11" * 20, "amount": "0x10"}


def t8n(tmp_path, *args, env=None, alloc=None, txs=None, raw_env: bytes = None, fork="Cancun"):
    """Run the command on files in ``tmp_path``: -> (exit code, stdout, stderr)."""
    files = {}
    for name, value in (("alloc", {} if alloc is None else alloc), ("env", ENV if env is None else env),
                        ("txs", [] if txs is None else txs)):
        path = tmp_path / f"{name}.json"
        path.write_bytes(raw_env if name == "env" and raw_env is not None else json.dumps(value).encode())
        files[name] = str(path)
    with deadline(120, "hyperion t8n"):  # some of these inputs used to make it spin for ever
        result = CliRunner().invoke(main, ["t8n", "--input.alloc", files["alloc"], "--input.env", files["env"],
                                           "--input.txs", files["txs"], "--state.fork", fork, "--output.result",
                                           "stdout", "--output.alloc", "stdout", *args])
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code, stdout, stderr, expected_code, text):
    assert code == expected_code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], stderr
    assert "Traceback" not in stderr and not stdout


@pytest.mark.parametrize("changes, text", [
    (dict(currentNumber=hex(2**300)), "currentNumber"),
    (dict(currentNumber=hex(2**64)), "currentNumber"),
    (dict(currentGasLimit=hex(2**300)), "currentGasLimit"),
    (dict(currentGasLimit="0x10"), "currentGasLimit"),
    (dict(currentTimestamp=hex(2**64)), "currentTimestamp"),
    (dict(currentExcessBlobGas=hex(2**64)), "currentExcessBlobGas"),
    (dict(currentBaseFee=hex(2**256)), "currentBaseFee"),
    (dict(withdrawals=[dict(WITHDRAWAL, amount=hex(2**64))]), "withdrawals[0].amount"),
    (dict(withdrawals=[dict(WITHDRAWAL, index=hex(2**64))]), "withdrawals[0].index"),
    (dict(withdrawals=["not an object"]), "malformed input"),
    (dict(blockHashes=[1, 2]), "malformed input"),
    (dict(currentExtraData="0x" + "00" * 33), "currentExtraData"),
    (dict(currentBaseFee=None, parentBaseFee="0x7", parentGasUsed="0x0", parentGasLimit="0x0"), "parentGasLimit"),
    (dict(currentNumber="twelve"), "currentNumber"),
])
def test_out_of_range_or_malformed_env_values_exit_10(tmp_path, changes, text):
    env = {k: v for k, v in {**ENV, **changes}.items() if v is not None}
    assert_one_line_error(*t8n(tmp_path, env=env), 10, text)


@pytest.mark.parametrize("number", [2**40, 2**63])
def test_a_difficulty_bomb_past_2_256_exits_10_at_once(tmp_path, number):
    """Pre-merge: the bomb is 2 ** (number // 100,000 - 2); py-evm would build that number."""
    with deadline(30, f"t8n deriving the difficulty at block {number}"):
        result = t8n(tmp_path, env=dict(PRE_MERGE_ENV, currentNumber=hex(number)), fork="Byzantium")
    assert_one_line_error(*result, 10, "currentDifficulty")


@pytest.mark.parametrize("env, text", [
    ([1, 2], "env: expected an object, got a list"),
    ("abc", "env: expected an object, got a string"),
    (None, "env: expected an object, got null"),
])
def test_a_wrongly_shaped_env_exits_10(tmp_path, env, text):
    code, stdout, stderr = t8n(tmp_path, raw_env=json.dumps(env).encode())
    assert_one_line_error(code, stdout, stderr, 10, text)


@pytest.mark.parametrize("raw, text", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b"{", "not JSON"),
    (b"{\"currentNumber\": " + b"9" * 5000 + b"}", "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_undecodable_input_exits_10(tmp_path, raw, text):
    assert_one_line_error(*t8n(tmp_path, raw_env=raw), 10, text)


def test_io_errors_exit_11(tmp_path):
    (tmp_path / "a-file").write_text("")
    assert_one_line_error(*t8n(tmp_path, "--output.basedir", str(tmp_path / "a-file" / "out")), 11,
                          "--output.basedir")
    assert_one_line_error(*t8n(tmp_path, "--output.basedir", str(tmp_path / "a-file")), 11, "--output.basedir")
    result = CliRunner().invoke(main, ["t8n", "--input.alloc", str(tmp_path / "missing.json")])
    assert_one_line_error(result.exit_code, result.stdout, result.stderr, 11, "cannot read alloc")


def test_bad_rlp_exits_12(tmp_path):
    assert_one_line_error(*t8n(tmp_path, txs="0xc1"), 12, "RLP")


def test_config_errors_exit_3(tmp_path):
    assert_one_line_error(*t8n(tmp_path, fork="NoSuchFork"), 3, "unknown fork")
    env = dict(ENV)
    env.pop("currentBaseFee")
    assert_one_line_error(*t8n(tmp_path, env=env), 3, "currentBaseFee")


def test_bad_alloc_exits_10(tmp_path):
    alloc = {"0x" + "11" * 20: {"balance": hex(2**256)}}
    assert_one_line_error(*t8n(tmp_path, alloc=alloc), 10, "256 bits")
    assert_one_line_error(*t8n(tmp_path, alloc=[1]), 10, "alloc: expected an object, got a list")


def test_largest_excess_blob_gas_exits_promptly(tmp_path):
    """A subprocess, as a user runs it: before the fix this never exited."""
    for name, value in (("alloc", {}), ("env", dict(ENV, currentExcessBlobGas="0xffffffffffffffff")), ("txs", [])):
        (tmp_path / f"{name}.json").write_text(json.dumps(value))
    completed = subprocess.run(
        [sys.executable, "-c", "from hyperion.cli import main; main()", "t8n", "--state.fork", "Prague",
         "--output.result", "stdout", "--output.alloc", "stdout"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["result"]["currentExcessBlobGas"] == "0xffffffffffffffff"
