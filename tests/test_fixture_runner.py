"""The fixture runner itself: it must be able to fail, name the first difference, skip only
through the skip list, filter, and report; and the ``hyperion fixtures`` command around it."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import rlp
from click.testing import CliRunner

from tests.conftest import fixtures_root
from hyperion.cli import main
from hyperion.tools.conformance import skips
from hyperion.tools.conformance.fixture_json import (
    encode_signed,
    sign,
    state_test_tx,
    to_bytes,
)
from hyperion.tools.conformance.fixtures import FAIL, PASS, SKIP, FixtureRunner, RunOptions, run_paths
from hyperion.evm.forks import get_fork

ROOT = fixtures_root()
STATE_FILE = ROOT / "GeneralStateTests" / "stExample" / "add11.json"
INVALID_TX_FILE = ROOT / "GeneralStateTests" / "stEIP1559" / "tipTooHigh.json"
BLOCK_FILE = ROOT / "BlockchainTests" / "ValidBlocks" / "bcExample" / "optionsTest.json"

pytestmark = pytest.mark.skipif(not STATE_FILE.exists() or not BLOCK_FILE.exists(),
                                reason=f"no ethereum/tests fixtures under {ROOT}")


def load(path):
    with open(path) as handle:
        return json.load(handle)


def run_data(tmp_path, data, name="case.json", **options):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return FixtureRunner(RunOptions(**options)).run_file(path)


def single(result):
    assert len(result.cases) == 1, [c.id for c in result.cases]
    return result.cases[0]


# -- state tests ---------------------------------------------------------------------------
def test_state_test_passes_unchanged(tmp_path):
    case = single(run_data(tmp_path, load(STATE_FILE)))
    assert case.status == PASS, case.describe()


def test_wrong_state_root_fails(tmp_path):
    data = load(STATE_FILE)
    next(iter(data.values()))["post"]["Cancun"][0]["hash"] = "0x" + "11" * 32
    case = single(run_data(tmp_path, data, diagnose=False))
    assert case.status == FAIL
    assert case.difference.field == "stateRoot" and case.difference.expected == "0x" + "11" * 32


def test_a_root_mismatch_names_the_account_from_the_specs(tmp_path, monkeypatch):
    """With the diagnosis on, the runner asks the execution specs for the post-state and
    names the first account and field where Hyperion's differs."""
    from hyperion.tools.conformance import oracle

    data = load(STATE_FILE)
    next(iter(data.values()))["post"]["Cancun"][0]["hash"] = "0x" + "11" * 32
    real = oracle.spec_state_test_post

    def skewed(fork, test, entry):
        root, alloc = real(fork, test, entry)
        address = sorted(alloc)[0]
        alloc[address]["balance"] += 1
        return root, alloc

    monkeypatch.setattr(oracle, "spec_state_test_post", skewed)
    case = single(run_data(tmp_path, data))
    assert case.status == FAIL
    assert case.difference.where.startswith("account 0x") and case.difference.field == "balance"


def test_a_root_mismatch_names_the_account_from_the_fixture_post_state(tmp_path):
    """execution-spec-tests state fixtures carry the post-state ("state") in each entry."""
    data = load(STATE_FILE)
    test = next(iter(data.values()))
    entry = test["post"]["Cancun"][0]
    entry["hash"] = "0x" + "11" * 32
    state = copy.deepcopy(test["pre"])
    address = sorted(state)[0]
    state[address]["nonce"] = "0x77"
    entry["state"] = state
    case = single(run_data(tmp_path, data))
    assert case.status == FAIL
    assert case.difference.where == f"account {address}"


def test_wrong_logs_hash_fails(tmp_path):
    data = load(STATE_FILE)
    next(iter(data.values()))["post"]["Cancun"][0]["logs"] = "0x" + "22" * 32
    case = single(run_data(tmp_path, data, diagnose=False))
    assert case.status == FAIL and case.difference.field == "logs hash"


def test_an_expected_exception_must_be_an_invalid_transaction(tmp_path):
    data = load(STATE_FILE)
    next(iter(data.values()))["post"]["Cancun"][0]["expectException"] = "TransactionException.INTRINSIC_GAS_TOO_LOW"
    case = single(run_data(tmp_path, data, diagnose=False))
    assert case.status == FAIL and case.difference.field == "validity"


def test_an_invalid_transaction_leaves_the_state_unchanged():
    if not INVALID_TX_FILE.exists():
        pytest.skip("fixture family not present")
    result = FixtureRunner(RunOptions(diagnose=False)).run_file(INVALID_TX_FILE)
    data = load(INVALID_TX_FILE)
    expected = [e for t in data.values() for entries in t["post"].values() for e in entries if "expectException" in e]
    assert expected, "the file should hold entries that expect an invalid transaction"
    assert all(c.status == PASS for c in result.cases), [c.describe() for c in result.cases if c.status != PASS]


def test_entries_signed_from_json_match_the_fixture_txbytes():
    """The transaction built from ``transaction`` + ``indexes`` and signed with ``secretKey``
    is byte for byte the fixture's ``txbytes`` (deterministic RFC 6979 signatures)."""
    checked = 0
    for path in sorted((ROOT / "GeneralStateTests").glob("st*/*.json"))[:60]:
        for test in load(path).values():
            for label, entries in test["post"].items():
                try:
                    fork = get_fork(label)
                except Exception:
                    continue
                for entry in entries[:2]:
                    if "txbytes" not in entry or "expectException" in entry:
                        continue
                    tx = state_test_tx(test["transaction"], entry["indexes"])
                    assert encode_signed(sign(tx, 1, fork), 1) == to_bytes(entry["txbytes"]), path
                    checked += 1
    assert checked > 50


def test_entries_without_txbytes_are_signed_by_the_runner(tmp_path):
    data = load(STATE_FILE)
    for entries in next(iter(data.values()))["post"].values():
        for entry in entries:
            entry.pop("txbytes")
    assert single(run_data(tmp_path, data)).status == PASS


def test_fork_filter_and_pattern(tmp_path):
    data = load(STATE_FILE)
    assert run_data(tmp_path, data, forks=frozenset({"prague"})).cases == []
    assert len(run_data(tmp_path, data, forks=frozenset({"cancun"})).cases) == 1
    assert run_data(tmp_path, data, pattern="no-such-test").cases == []
    assert len(run_data(tmp_path, data, pattern="add11").cases) == 1
    assert len(run_data(tmp_path, data, pattern="*::add11[Cancun-0]").cases) == 1


def test_unsupported_forks_are_skipped_with_the_listed_reason(tmp_path):
    data = load(STATE_FILE)
    test = next(iter(data.values()))
    test["post"]["Osaka"] = copy.deepcopy(test["post"]["Cancun"])
    result = run_data(tmp_path, data)
    statuses = {c.fork: (c.status, c.reason) for c in result.cases}
    assert statuses["Cancun"][0] == PASS
    assert statuses["Osaka"] == (SKIP, skips.UNSUPPORTED_FORK.reason)


def test_an_unknown_fork_is_a_failure_not_a_skip(tmp_path):
    data = load(STATE_FILE)
    test = next(iter(data.values()))
    test["post"]["Pargue"] = test["post"].pop("Cancun")
    case = single(run_data(tmp_path, data))
    assert case.status == FAIL and "unknown fork" in case.reason


# -- blockchain tests ----------------------------------------------------------------------
def test_blockchain_test_passes_unchanged(tmp_path):
    case = single(run_data(tmp_path, load(BLOCK_FILE)))
    assert case.status == PASS, case.describe()
    assert case.notes == []  # post-merge: Hyperion's block hashes equal the fixture's


def test_post_state_difference_names_account_and_field(tmp_path):
    data = load(BLOCK_FILE)
    test = next(iter(data.values()))
    address = sorted(test["postState"])[0]
    test["postState"][address]["balance"] = hex(int(test["postState"][address]["balance"], 16) + 1)
    case = single(run_data(tmp_path, data))
    assert case.status == FAIL
    assert case.difference.where == f"account {address}" and case.difference.field == "balance"


def test_post_state_hash_is_checked(tmp_path):
    data = load(BLOCK_FILE)
    test = next(iter(data.values()))
    test.pop("postState")
    test["postStateHash"] = "0x" + "33" * 32
    case = single(run_data(tmp_path, data))
    assert case.status == FAIL and case.difference.field == "postStateHash"


def _mutate_header(block, index, value):
    items = rlp.decode(to_bytes(block["rlp"]))
    items[0][index] = value
    block["rlp"] = "0x" + rlp.encode(items).hex()


def test_a_wrong_header_root_fails(tmp_path):
    data = load(BLOCK_FILE)
    test = next(iter(data.values()))
    _mutate_header(test["blocks"][-1], 5, b"\x44" * 32)  # receiptTrie
    test["lastblockhash"] = "0x" + "00" * 32
    case = single(run_data(tmp_path, data))
    assert case.status == FAIL and case.difference.field == "receiptTrie"


def test_a_wrong_gas_used_fails(tmp_path):
    data = load(BLOCK_FILE)
    test = next(iter(data.values()))
    _mutate_header(test["blocks"][0], 10, (1).to_bytes(1, "big"))  # gasUsed
    case = single(run_data(tmp_path, data))
    assert case.status == FAIL and case.difference.field == "gasUsed"


def test_a_block_expected_invalid_must_be_rejected(tmp_path):
    data = load(BLOCK_FILE)
    test = next(iter(data.values()))
    test["blocks"][-1]["expectException"] = "BlockException.SOMETHING"
    case = single(run_data(tmp_path, data))
    assert case.status == FAIL and "expects it to be invalid" in case.reason
    # a block that really is invalid (its state root is wrong) is rejected as expected;
    # the chain then ends at its parent
    data = load(BLOCK_FILE)
    test = next(iter(data.values()))
    last = test["blocks"][-1]
    _mutate_header(last, 3, b"\x55" * 32)  # stateRoot
    last["expectException"] = "BlockException.INVALID_STATE_ROOT"
    parent = test["blocks"][-2]["blockHeader"]
    test["lastblockhash"] = parent["hash"]
    test.pop("postState")
    test["postStateHash"] = parent["stateRoot"]
    case = single(run_data(tmp_path, data))
    assert case.status == PASS, case.describe()
    assert any("rejected as expected" in note for note in case.notes)


def test_an_unsupported_network_is_skipped(tmp_path):
    data = load(BLOCK_FILE)
    next(iter(data.values()))["network"] = "Osaka"
    case = single(run_data(tmp_path, data))
    assert case.status == SKIP and case.reason == skips.UNSUPPORTED_FORK.reason


# -- the command ---------------------------------------------------------------------------
def test_command_passes_and_writes_a_report(tmp_path):
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["fixtures", str(STATE_FILE), str(BLOCK_FILE), "--json", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["summary"] == {"pass": 2, "fail": 0, "skip": 0}
    assert set(data["by_suite_and_fork"]) == {"GeneralStateTests", "BlockchainTests"}


def test_command_fails_with_the_first_difference(tmp_path):
    data = load(BLOCK_FILE)
    test = next(iter(data.values()))
    address = sorted(test["postState"])[0]
    test["postState"][address]["nonce"] = "0x99"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["fixtures", str(path)])
    assert result.exit_code == 1
    assert "nonce expected 0x99" in result.output


def test_command_runs_the_blockstm_scheduler(tmp_path):
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["fixtures", str(STATE_FILE), "--scheduler", "blockstm", "--workers", "2",
                                       "--json", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["scheduler"] == "blockstm"
    assert data["summary"]["pass"] > 0 and data["summary"]["fail"] == 0


def test_command_runs_as_a_program(tmp_path):
    """``hyperion fixtures`` from a shell (the installed entry point's module)."""
    completed = subprocess.run([sys.executable, "-c", "from hyperion.cli import main; main()", "fixtures",
                                str(STATE_FILE), "-k", "add11"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "pass" in completed.stdout


def test_run_paths_counts_every_case(tmp_path):
    report = run_paths([STATE_FILE, BLOCK_FILE], RunOptions())
    assert report.totals() == {PASS: 2, FAIL: 0, SKIP: 0}
    assert report.ok


def test_block_decoding_is_strict():
    """Non-canonical integers and wrongly sized fields make a block undecodable (invalid)."""
    from hyperion.tools.conformance.fixture_json import FixtureFormatError, block_from_rlp

    data = load(BLOCK_FILE)
    raw = to_bytes(next(iter(data.values()))["blocks"][0]["rlp"])
    block_from_rlp(raw)
    for index, value in ((10, lambda v: b"\x00" + v), (2, lambda v: v + b"\x00"), (9, lambda v: b"\x01" * 9)):
        items = rlp.decode(raw)
        items[0][index] = value(items[0][index])
        with pytest.raises(FixtureFormatError):
            block_from_rlp(rlp.encode(items))
