"""The ``dao``, ``data``, ``ai`` and ``compute`` workloads of ``hyperion bench run`` at tiny
sizes (not a measurement): every side reaches the same roots, the genesis holds what real
deployments write, and each block does what its workload says."""
from contextlib import contextmanager

import pytest

from hyperion import BlockEnv, ChainConfig, Engine, TxStatus
from hyperion.evm.forks import get_fork
from hyperion.precompiles.ai import abi as ai_abi, examples as ai, kernels_py
from hyperion.tools import workloads as w
from hyperion.tools.bench import runner, suite

NEW = ("dao", "data", "compute", "ai")  # suite order: the first three share engines
ENV = BlockEnv(number=1, timestamp=runner.GENESIS_TIME + 12, coinbase=b"\xc0" * 20, base_fee=w.GWEI,
               gas_limit=30_000_000, parent_beacon_block_root=(1).to_bytes(32, "big"))


def test_every_side_reaches_the_same_roots_and_ai_has_no_stock_side():
    """measure() raises ResultMismatch if any side's state root differs; ``min_txs`` 1 makes
    Block-STM run these 8-transaction blocks in parallel instead of falling back."""
    run = runner.measure(NEW, 8, workers=(2,), contentions=(0.0, 1.0), rounds=1, scheduler_options={"min_txs": 1})
    assert [(c.workload, c.contention) for c in run.configs] == [(n, c) for n in NEW for c in (0.0, 1.0)]
    for config in run.configs:
        expected = {"sequential", "blockstm-2"} | (set() if config.workload == "ai" else {"stock"})
        assert set(config.samples) == expected
        assert len({s.state_root for samples in config.samples.values() for s in samples}) == 1
        if config.contention == 0:  # conflict-free enough to stay parallel
            assert [s.stats["fallback"] for s in config.samples["blockstm-2"]] == [None]
    assert run.notes == ["ai: no stock side: " + suite.WORKLOADS["ai"].no_stock]


def _deploy_and_call(name, args, calls_by=()):
    """Deploy contract ``name`` with constructor ``args`` (types, values) from wallet 0, then
    run ``calls_by`` [(wallet, data)] on it in a second block; -> (its code, its storage)."""
    deployer = w.wallet(0)
    funded = {deployer.address} | {wallet.address for wallet, _ in calls_by}
    alloc = {"0x" + a.hex(): {"balance": hex(10**20)} for a in funded}
    with Engine.in_memory(chain_config=ChainConfig(chain_id=suite.CHAIN_ID)) as engine:
        engine.init_genesis(alloc, timestamp=runner.GENESIS_TIME)
        init = ai.deploy_code(name, *args)
        result = engine.execute(ENV, [w.sign_tx(deployer, 0, None, data=init, gas=3_000_000, chain_id=suite.CHAIN_ID)])
        (receipt,) = result.tx_results
        assert receipt.status is TxStatus.SUCCESS, receipt.error
        address = receipt.contract_address
        engine.commit(result)
        nonces = {deployer.index: 1}
        txs = []
        for wallet, data in calls_by:
            nonce = nonces.get(wallet.index, 0)
            nonces[wallet.index] = nonce + 1
            txs.append(w.sign_tx(wallet, nonce, address, data=data, gas=300_000, chain_id=suite.CHAIN_ID))
        env2 = BlockEnv(number=2, timestamp=ENV.timestamp + 12, coinbase=ENV.coinbase, base_fee=w.GWEI,
                        gas_limit=30_000_000, parent_beacon_block_root=(2).to_bytes(32, "big"))
        calls = engine.execute(env2, txs)
        assert all(r.status is TxStatus.SUCCESS for r in calls.tx_results), [r.error for r in calls.tx_results]
        engine.commit(calls)
        storage = dict(result.diff.storage.get(address, {}))
        storage.update(calls.diff.storage.get(address, {}))
        return engine.get_code(address), {slot: value for slot, value in storage.items() if value}


def _genesis_account(address):
    account = suite.genesis(1)["0x" + address.hex()]
    return bytes.fromhex(account["code"][2:]), {int(k, 16): int(v, 16) for k, v in account.get("storage", {}).items()}


def test_genesis_contracts_are_what_their_deployments_write():
    """The genesis writes these contracts' code (immutables appended) and storage directly;
    each must equal a real deployment followed by the real ``propose`` / ``mint`` calls."""
    proposals = [(w.wallet(0), ai.selector("propose(bytes32)") + suite.proposal_hash(p)) for p in range(3)]
    code, storage = _deploy_and_call("Dao", (["address"], [w.TOKEN_ADDRESS]), proposals)
    genesis_code, _ = _genesis_account(suite.DAO_ADDRESS)
    assert code == genesis_code and storage == suite.dao_storage(3)

    mints = []
    for index in range(6):  # 3, 4, 0, 1, 2, 3 contributors
        content, owner, contributors = suite.dataset(index)
        selector = ai.selector("mint(bytes32,address[])")
        head = content + (64).to_bytes(32, "big")
        tail = len(contributors).to_bytes(32, "big") + b"".join(c.rjust(32, b"\0") for c in contributors)
        mints.append((owner, selector + head + tail))
    code, storage = _deploy_and_call("DataAsset", ((), ()), mints)
    genesis_code, _ = _genesis_account(suite.DATA_ADDRESS)
    assert code == genesis_code and storage == suite.data_storage(6)

    code, storage = _deploy_and_call("InferenceFeed", (["address", "address"], [ai_abi.DEFAULT_ADDRESSES["mlp"],
                                                                                  suite.MODEL_ADDRESS]))
    assert (code, storage) == (_genesis_account(suite.FEED_ADDRESS)[0], {})
    assert _deploy_and_call("Compute", ((), ())) == _genesis_account(suite.COMPUTE_ADDRESS)


@contextmanager
def _block(name, txs, contention, seed=5):
    """-> (engine after the workload's block, the decoded transactions, the block's result)."""
    workload = suite.get(name)
    signed = suite.blocks(name, txs, 1, contention, seed=seed)[0]
    with Engine.in_memory(chain_config=ChainConfig(chain_id=suite.CHAIN_ID,
                                                   extra_precompiles=workload.precompiles)) as engine:
        engine.init_genesis(suite.genesis(txs), timestamp=runner.GENESIS_TIME)
        result = engine.execute(ENV, signed)
        assert all(r.status is TxStatus.SUCCESS for r in result.tx_results), [r.error for r in result.tx_results]
        engine.commit(result)
        builder = get_fork("Prague").vm_class.get_transaction_builder()
        yield engine, [builder.decode(raw) for raw in signed], result


def _word(data: bytes, index: int) -> int:
    return int.from_bytes(data[4 + 32 * index:36 + 32 * index], "big")


def _get(engine, address, name, variable, key=None):
    slot = w.contract_artifact(name)["storage_layout"][variable]["slot"]
    if key is not None:
        slot = w.hashmap_slot(slot, key if isinstance(key, bytes) else key.to_bytes(32, "big"))
    return engine.get_storage(address, slot)


def test_dao_votes_are_weighted_by_token_balance_and_tallied():
    with _block("dao", 10, 1.0) as (engine, txs, _result):
        assert {_word(tx.data, 0) for tx in txs} == {0}  # contention 1: all on the hot proposal
        support = sum(_word(tx.data, 1) for tx in txs)
        each = 10**24  # every wallet's token balance at genesis
        assert _get(engine, suite.DAO_ADDRESS, "Dao", "votes_for", 0) == support * each
        assert _get(engine, suite.DAO_ADDRESS, "Dao", "votes_against", 0) == (10 - support) * each
        assert 0 < support < 10


def test_data_uses_split_each_fee_between_owner_and_contributors():
    with _block("data", 10, 1.0) as (engine, txs, _result):
        _content, owner, contributors = suite.dataset(0)
        fees = [tx.value for tx in txs]
        shares = [fee * 3000 // 10000 // len(contributors) for fee in fees]
        assert len(contributors) == 3 and any(fee - 3 * share != fee * 7000 // 10000 for fee, share in
                                              zip(fees, shares))  # remainders do occur
        earnings = [_get(engine, suite.DATA_ADDRESS, "DataAsset", "earnings", c) for c in contributors]
        assert earnings == [sum(shares)] * 3
        assert _get(engine, suite.DATA_ADDRESS, "DataAsset", "earnings", owner.address) == sum(fees) - 3 * sum(shares)
        assert _get(engine, suite.DATA_ADDRESS, "DataAsset", "use_count", 0) == 10
        assert _get(engine, suite.DATA_ADDRESS, "DataAsset", "fees_paid", 0) == sum(fees)
        assert engine.get_balance(suite.DATA_ADDRESS) == sum(fees)


@pytest.mark.parametrize("contention", [0.0, 1.0])
def test_ai_calls_return_the_models_label_and_publish_by_contention(contention):
    spec = ai_abi.parse_mlp_body(suite.model_code()[8:])
    model = kernels_py.load_mlp(suite.model_code()[8:], spec)
    with _block("ai", 8, contention) as (engine, txs, result):
        for tx, receipt in zip(txs, result.tx_results):
            x = tx.data[4 + 96:4 + 96 + _word(tx.data, 2)]
            label = kernels_py.mlp(model, x)[0]
            assert int.from_bytes(receipt.return_data, "big") == label
            assert _get(engine, suite.FEED_ADDRESS, "InferenceFeed", "label_of", tx.sender) == label
        assert len({int.from_bytes(r.return_data, "big") for r in result.tx_results}) > 1
        assert _get(engine, suite.FEED_ADDRESS, "InferenceFeed", "published") == (8 if contention else 0)


def test_compute_contention_is_the_share_of_calls_writing_the_balances():
    selectors = {ai.selector(signature): signature for signature, *_ in
                 (suite.HASH_LOOP, suite.MANDELBROT, suite.TOKEN_LOOP)}
    for contention, writing in ((0.0, False), (1.0, True)):
        with _block("compute", 6, contention) as (engine, txs, result):
            called = {selectors[tx.data[:4]] for tx in txs}
            balances = [_get(engine, suite.COMPUTE_ADDRESS, "Compute", "balances", k) for k in range(10)]
            assert (called == {suite.TOKEN_LOOP[0]}) is writing
            assert sum(balances) == 10_000 and (balances != [1000] * 10) is writing
            assert suite.COMPUTE_ADDRESS not in result.diff.storage or writing


def test_new_workloads_are_deterministic_from_the_seed():
    for name in NEW:
        assert suite.blocks(name, 5, 2, 0.5, seed=3) == suite.blocks(name, 5, 2, 0.5, seed=3)
        assert suite.blocks(name, 5, 1, 0.5, seed=3) != suite.blocks(name, 5, 1, 0.5, seed=4)
