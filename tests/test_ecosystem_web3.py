"""web3.py on HyperionBackend, unchanged: deploy, transact, events through filters, calls,
gas estimates, snapshots, manual mining and time travel.

The same session also runs on eth-tester's stock py-evm backend, and both must agree on
everything a contract test sees (receipts, gas, logs, balances, call results).
"""
from __future__ import annotations

import pytest

pytest.importorskip("web3", reason="the web3 extra (web3, eth-tester) is not installed")

from eth_tester import EthereumTester, PyEVMBackend  # noqa: E402
from eth_tester.exceptions import TransactionFailed  # noqa: E402
from web3 import EthereumTesterProvider, Web3  # noqa: E402

from hyperion.ecosystem import HyperionBackend  # noqa: E402
from hyperion.tools.workloads import contract_artifact  # noqa: E402

TOKEN = contract_artifact("Token")
SUPPLY = 10**24


def web3_on(backend) -> Web3:
    return Web3(EthereumTesterProvider(EthereumTester(backend=backend)))


def session(w3: Web3) -> dict:
    """A contract test's session; returns what it observed."""
    alice, bob, carol = w3.eth.accounts[:3]
    Token = w3.eth.contract(abi=TOKEN["abi"], bytecode=TOKEN["bytecode"])
    deployed = w3.eth.wait_for_transaction_receipt(Token.constructor(SUPPLY).transact({"from": alice}))
    token = w3.eth.contract(address=deployed["contractAddress"], abi=TOKEN["abi"])
    transfers = token.events.Transfer.create_filter(from_block=0)
    seen = {"deploy": (deployed["status"], deployed["gasUsed"]), "code": bytes(w3.eth.get_code(token.address))}

    receipt = w3.eth.wait_for_transaction_receipt(token.functions.transfer(bob, 1000).transact({"from": alice}))
    seen["transfer"] = (receipt["status"], receipt["gasUsed"], receipt["blockNumber"])
    estimate = token.functions.transfer(carol, 5).estimate_gas({"from": bob})
    paid = w3.eth.wait_for_transaction_receipt(token.functions.transfer(carol, 5).transact({"from": bob,
                                                                                           "gas": estimate}))
    seen["estimated"] = (estimate >= paid["gasUsed"], paid["status"], paid["gasUsed"])
    seen["estimate"] = estimate
    seen["events"] = [(e["args"]["sender"], e["args"]["receiver"], e["args"]["value"], e["blockNumber"])
                      for e in transfers.get_all_entries()]
    seen["balances"] = [token.functions.balanceOf(a).call() for a in (alice, bob, carol)]
    seen["at_block"] = token.functions.balanceOf(bob).call(block_identifier=receipt["blockNumber"])
    with pytest.raises(TransactionFailed, match="execution reverted"):  # web3's eth-tester provider raises it
        token.functions.transfer(alice, 10**30).call({"from": carol})

    tester = w3.provider.ethereum_tester
    snapshot = tester.take_snapshot()
    token.functions.transfer(carol, 7).transact({"from": alice})
    seen["before_revert"] = token.functions.balanceOf(carol).call()
    tester.revert_to_snapshot(snapshot)
    seen["after_revert"] = (token.functions.balanceOf(carol).call(), w3.eth.block_number)

    tester.disable_auto_mine_transactions()
    # eth-tester keeps unmined transactions outside the backend, one per sender (as with py-evm)
    hashes = [token.functions.transfer(carol, 1).transact({"from": sender}) for sender in (alice, bob)]
    tester.mine_blocks()
    tester.enable_auto_mine_transactions()
    mined = [w3.eth.get_transaction_receipt(h) for h in hashes]
    seen["manual"] = [(r["blockNumber"], r["transactionIndex"], r["gasUsed"]) for r in mined]
    seen["block_txs"] = len(w3.eth.get_block(mined[0]["blockNumber"])["transactions"])
    seen["eth_balance_change"] = w3.eth.get_balance(bob, block_identifier="latest") - \
        w3.eth.get_balance(bob, block_identifier=0)
    return seen


def test_a_contract_session_on_hyperion():
    backend = HyperionBackend()
    seen = session(web3_on(backend))
    assert seen["deploy"][0] == 1 and seen["code"] == bytes.fromhex(TOKEN["runtime"].removeprefix("0x"))
    assert seen["transfer"][0] == 1 and seen["estimated"] == (True, 1, seen["estimate"])  # the least that works
    assert seen["balances"] == [SUPPLY - 1000, 995, 5]
    assert seen["at_block"] == 1000
    assert [e[2] for e in seen["events"]] == [SUPPLY, 1000, 5]  # the mint, then the two transfers
    assert seen["before_revert"] == 12 and seen["after_revert"][0] == 5
    assert seen["manual"][0][0] == seen["manual"][1][0] and seen["block_txs"] == 2
    backend.close()


def test_hyperion_and_stock_py_evm_agree():
    hyperion = session(web3_on(HyperionBackend()))
    stock = session(web3_on(PyEVMBackend()))
    # py-evm's estimator pads its answer; Hyperion's is the least limit that succeeds
    assert hyperion.pop("estimate") <= stock.pop("estimate")
    assert hyperion == stock


def test_time_travel_and_fee_history():
    backend = HyperionBackend()
    w3 = web3_on(backend)
    tester = w3.provider.ethereum_tester
    target = w3.eth.get_block("pending")["timestamp"] + 3600
    tester.time_travel(target)
    assert w3.eth.get_block("pending")["timestamp"] == target
    assert w3.eth.get_block("latest")["timestamp"] == target - 1
    tester.mine_blocks(3)
    history = backend.get_fee_history(2, "latest")
    latest = w3.eth.block_number
    assert history["oldest_block"] == latest - 1
    fees = [w3.eth.get_block(n)["baseFeePerGas"] for n in (latest - 1, latest)]
    assert history["base_fee_per_gas"][:2] == fees
    assert history["base_fee_per_gas"][2] == fees[1] - fees[1] // 8  # after an empty block (EIP-1559)
    tester.reset_to_genesis()
    assert w3.eth.block_number == 0
    backend.close()


def test_pending_state_is_read_and_called_at():
    """Reads and calls at "pending" see the sent, unmined transactions (eth-tester's
    backend API, below web3's manual-mining queue)."""
    backend = HyperionBackend()
    alice, bob = backend.get_accounts()[:2]
    before = backend.get_balance(bob)
    backend.send_transaction({"from": alice, "to": bob, "value": 5, "gas": 21_000})
    assert backend.get_balance(bob, "pending") == before + 5
    assert backend.get_balance(bob, "latest") == before
    assert backend.get_nonce(alice, "pending") == 1
    assert backend.call({"from": bob, "to": alice, "value": 1, "gas": 30_000}, "pending") == b""
    receipt = backend.get_transaction_receipt(backend.mine_blocks()[0] and backend.chain.latest.transactions[0].hash)
    assert receipt["block_number"] == 1 and backend.get_balance(bob) == before + 5
    backend.close()


def test_the_benchmark_runs(capsys):
    from benchmarks import bench_web3

    figures = bench_web3.main(["--txs", "2", "--rounds", "1", "--no-warm-up"])
    assert figures["median_ratio"] > 0
    assert "py-evm / hyperion" in capsys.readouterr().out


def test_on_a_data_directory(tmp_path):
    from hyperion import Engine

    engine = Engine.open(str(tmp_path / "chain"))
    backend = HyperionBackend(engine=engine, keep_blocks=2)
    w3 = web3_on(backend)
    alice, bob = w3.eth.accounts[:2]
    for value in (1, 2, 3, 4):
        w3.eth.send_transaction({"from": alice, "to": bob, "value": value})
    assert engine.head.number == 2  # blocks 3 and 4 are still held, 1 and 2 committed
    assert w3.eth.get_balance(bob, block_identifier=3) - w3.eth.get_balance(bob, block_identifier=2) == 3
    with pytest.raises(Exception, match="no longer kept"):
        w3.eth.get_balance(bob, block_identifier=1)
    tester = w3.provider.ethereum_tester
    backend.revert_to_snapshot(w3.eth.get_block(1)["hash"])  # below the committed head: Engine.revert_to
    assert engine.head.number == 1 and w3.eth.block_number == 1
    tester.reset_to_genesis()
    assert engine.head.number == 0 and w3.eth.get_transaction_count(alice) == 0
    engine.close()
