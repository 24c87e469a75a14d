"""Sequential Hyperion equals stock py-evm on random blocks (through tests/known_differences.py).

Each example builds a genesis with funded wallets and a few *library* contracts whose code is
a random program of raw-bytecode snippets (storage writes, logs, reverts, CREATE/CREATE2,
SELFDESTRUCT, nested CALL/DELEGATECALL/STATICCALL with value, reads of the coinbase
balance, BLOCKHASH, transient storage ...), then a random batch of transfers, contract calls,
contract deployments and transactions that must be refused (bad nonce, insufficient funds,
intrinsic gas too low, wrong chain id, bad signature, block gas exceeded, malformed RLP,
priority fee above max fee, a sender with code).  Hyperion and stock py-evm must agree on
the state root, the receipts (status, gas, cumulative gas, logs, positions), the set of
refused transactions, and the transactions and receipts roots.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperion.tools import workloads
from hyperion.evm.forks import FORKS, get_fork
from hyperion.genesis import merge_allocs, system_contracts_alloc
from hyperion.types import BlockEnv

from tests import evm_asm as A
from tests import txgen
from tests.stock_compare import compare_with_stock

CHAIN_ID = 1337
ETHER = 10**18
GAS_LIMIT = 8_000_000
COINBASE = bytes.fromhex("c0ffee00000000000000000000000000000000c0")
LIBRARY = [bytes(19 * [0x10]) + bytes([i]) for i in range(3)]
FUNDED = [workloads.wallet(i) for i in range(4)]
POOR = workloads.wallet(10)  # can pay for gas, not for value
CODED = workloads.wallet(11)  # has code: EIP-3607
FRESH = bytes.fromhex("fe" * 19 + "01")
PRECOMPILES = [i.to_bytes(20, "big") for i in (1, 2, 3, 4)]

#: forks compared here: two recent ones and pre-merge ones (with and without status receipts)
DIFFERENTIAL_FORKS = ["prague", "cancun", "london", "byzantium", "frontier"]


def fork_has(fork_name: str, since: str) -> bool:
    return FORKS[fork_name].order >= FORKS[since].order


# -- programs ---------------------------------------------------------------------------------
slots = st.integers(0, 3)
values = st.sampled_from([0, 1, 2, 2**255 + 7])
targets = st.sampled_from(LIBRARY + [w.address for w in FUNDED[:2]] + PRECOMPILES + [FRESH, COINBASE])


def child_snippets(fork_name):
    """What a contract created by CREATE/CREATE2 runs (constructor or runtime): no nested creates."""
    options = [
        st.builds(A.sstore, slots, values),
        st.builds(A.log, st.lists(st.integers(0, 9), max_size=2), values),
        st.builds(A.coinbase_balance, slots),
    ]
    return st.one_of(options)


def child_terminators(fork_name):
    options = [st.just(A.stop()), st.builds(A.selfdestruct, st.sampled_from([COINBASE, FRESH, LIBRARY[0]]))]
    if fork_has(fork_name, "byzantium"):
        options.append(st.just(A.revert()))
    return st.one_of(options)


@st.composite
def init_codes(draw, fork_name):
    runtime = A.program(draw(st.lists(child_snippets(fork_name), max_size=2)) + [draw(child_terminators(fork_name))])
    constructor = draw(st.lists(child_snippets(fork_name), max_size=2))
    ending = draw(st.sampled_from(["return", "selfdestruct", "fail"]))
    if ending == "selfdestruct":
        constructor.append(A.selfdestruct(COINBASE))
    elif ending == "fail":
        constructor.append(A.revert() if fork_has(fork_name, "byzantium") else A.invalid())
    return A.deploy_code(runtime, A.program(constructor))


def snippets(fork_name):
    call_kinds = [k for k, since in (("CALL", "frontier"), ("CALLCODE", "frontier"), ("DELEGATECALL", "homestead"),
                                     ("STATICCALL", "byzantium")) if fork_has(fork_name, since)]
    options = [
        st.builds(A.sstore, slots, values),
        st.builds(A.sstore_calldata, slots),
        st.builds(A.sload_increment, slots),
        st.builds(A.log, st.lists(st.integers(0, 9), max_size=3), values),
        st.builds(A.call, targets, st.sampled_from([0, 1, 10**15]), st.sampled_from([3_000, 40_000, 150_000]),
                  slots, st.sampled_from(call_kinds), st.sampled_from([0, 1]), st.sampled_from([0, 0, 1])),
        st.builds(A.create, init_codes(fork_name), st.sampled_from([0, 5]), slots),
        st.builds(A.coinbase_balance, slots),
        st.builds(A.store_env, st.sampled_from(["NUMBER", "TIMESTAMP", "GASLIMIT", "CALLER", "CALLVALUE",
                                                "ORIGIN", "SELFBALANCE", "CHAINID", "BASEFEE"]), slots),
        st.builds(A.store_of, st.sampled_from(["BALANCE", "EXTCODESIZE", "EXTCODEHASH"]), targets, slots),
        st.builds(A.blockhash, st.sampled_from([0, 1, 2]), slots),
    ]
    if fork_has(fork_name, "constantinople"):
        options.append(st.builds(A.create, init_codes(fork_name), st.sampled_from([0, 5]), slots,
                                 st.sampled_from([0, 1])))
    if fork_has(fork_name, "cancun"):
        options.append(st.builds(A.transient_roundtrip, slots, values))
        options.append(st.builds(A.tload, slots, slots))
    if fork_has(fork_name, "byzantium"):
        options.append(st.just(A.revert_if_calldata(1)))
    return st.one_of(options).filter(lambda s: fork_has(fork_name, s.since))


def terminators(fork_name):
    ends = [A.stop(), A.return_word(1), A.stop(), A.invalid(), A.return_word(2**200), A.stop()]
    ends += [A.selfdestruct(b) for b in (COINBASE, FRESH, FUNDED[0].address, LIBRARY[1])]
    if fork_has(fork_name, "byzantium"):
        ends.append(A.revert())
    return st.sampled_from(ends)


@st.composite
def programs(draw, fork_name, max_snippets=6, min_snippets=1):
    body = draw(st.lists(snippets(fork_name), min_size=min_snippets, max_size=max_snippets))
    return A.program(body + [draw(terminators(fork_name))])


# -- transactions -----------------------------------------------------------------------------
VALID_KINDS = ["transfer"] * 3 + ["call"] * 6 + ["deploy"] * 3 + ["blob", "set_code"]
INVALID_KINDS = ["bad_nonce", "poor", "intrinsic", "wrong_chain", "bad_signature", "block_gas", "malformed",
                 "tip_above_max", "coded_sender", "low_fee"]
TX_KINDS = VALID_KINDS + INVALID_KINDS


@st.composite
def batches(draw, fork_name):
    fork = get_fork(fork_name)
    nonces = {w.index: 0 for w in FUNDED + [POOR, CODED]}
    types = [t for t in (0, 1, 2) if t in fork.allowed_tx_types]
    txs, kinds = [], []
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(TX_KINDS))
        if (kind == "tip_above_max" and 2 not in types) or (kind == "blob" and 3 not in fork.allowed_tx_types) \
                or (kind == "set_code" and 4 not in fork.allowed_tx_types):
            kind = "transfer"
        wallet = draw(st.sampled_from(FUNDED))
        tx_type = {"tip_above_max": 2, "blob": 3, "set_code": 4}.get(kind) or draw(st.sampled_from(types))
        fields = dict(nonce=nonces[wallet.index], tx_type=tx_type, chain_id=CHAIN_ID,
                      eip155=draw(st.booleans()) if tx_type == 0 else True)
        if kind == "call":
            fields.update(to=draw(st.sampled_from(LIBRARY)), value=draw(st.sampled_from([0, 7])),
                          data=draw(st.binary(min_size=0, max_size=64)), gas=draw(st.sampled_from([120_000, 1_000_000])))
        elif kind == "deploy":
            runtime = draw(programs(fork_name, 3, 0))
            constructor = A.program(draw(st.lists(snippets(fork_name), max_size=2)))
            fields.update(to=None, value=draw(st.sampled_from([0, 3])), data=A.deploy_code(runtime, constructor),
                          gas=draw(st.sampled_from([80_000, 600_000])))
        else:
            fields.update(to=draw(st.sampled_from([FRESH, FUNDED[1].address, LIBRARY[2], COINBASE, PRECOMPILES[3]])),
                          value=draw(st.sampled_from([0, 1, ETHER])), gas=60_000)
        if kind == "bad_nonce":
            fields["nonce"] += draw(st.sampled_from([1, 5] + ([-1] if fields["nonce"] else [])))
        elif kind == "poor":
            wallet = POOR
            fields.update(nonce=nonces[POOR.index], value=10 * ETHER)
        elif kind == "coded_sender":
            wallet = CODED
            fields["nonce"] = nonces[CODED.index]
        elif kind == "intrinsic":
            fields["gas"] = 20_999
        elif kind == "wrong_chain":
            fields.update(chain_id=CHAIN_ID + 1, eip155=True)
            if tx_type == 0 and not fork.has_eip161:
                kind = "transfer"  # no chain id before EIP-155
        elif kind == "block_gas":
            fields["gas"] = GAS_LIMIT - draw(st.sampled_from([0, 30_000]))
        elif kind == "tip_above_max":
            fields.update(max_fee=3 * txgen.GWEI, tip=4 * txgen.GWEI)
        elif kind == "blob":
            count, version = draw(st.sampled_from([1, 1, 2, 3, 0])), draw(st.sampled_from([b"\x01"] * 4 + [b"\x02"]))
            fields.update(max_fee_per_blob_gas=draw(st.sampled_from([1, 10, 0])),
                          blob_hashes=[version + bytes([i]) * 31 for i in range(count)],
                          to=draw(st.sampled_from([FRESH] + LIBRARY)), gas=200_000)
        elif kind == "set_code":
            authority = draw(st.sampled_from(FUNDED))
            nonce = nonces[authority.index] + (1 if authority == wallet else 0) + draw(st.sampled_from([0, 0, 1]))
            auths = [txgen.authorization(authority.key, draw(st.sampled_from([CHAIN_ID, 0, CHAIN_ID + 1])),
                                         draw(st.sampled_from(LIBRARY + [b"\x00" * 20])), nonce)]
            fields.update(authorizations=auths if draw(st.integers(0, 9)) else [], gas=300_000,
                          to=draw(st.sampled_from(LIBRARY + [authority.address])))
        elif kind == "low_fee":
            fields.update(gas_price=txgen.GWEI // 2, max_fee=txgen.GWEI // 2, tip=0)
        raw = txgen.sign(fork_name, wallet.key, **fields)
        if kind == "bad_signature":
            how = draw(st.sampled_from(["r0", "high_s", "v"]))
            tx = txgen.decode(fork_name, raw)
            if how == "r0":
                raw = txgen.with_signature(fork_name, raw, r=0)
            elif how == "high_s":
                raw = txgen.with_signature(fork_name, raw, s=txgen.SECP256K1_N - tx.s)
            elif raw[0] >= 0xC0:
                raw = txgen.with_signature(fork_name, raw, v=29)
            else:
                raw = txgen.with_signature(fork_name, raw, y_parity=2)
        elif kind == "malformed":
            how = draw(st.sampled_from(["truncate", "append", "junk"]))
            raw = raw[:-3] if how == "truncate" else raw + b"\x00" if how == "append" else draw(st.binary(min_size=1, max_size=40))
        elif kind in ("transfer", "call", "deploy", "block_gas", "coded_sender", "poor", "blob", "set_code"):
            # expected valid unless the state says otherwise (the comparison decides)
            nonces[wallet.index] += 1
        txs.append(raw)
        kinds.append(kind)
    return txs, kinds


@st.composite
def scenarios(draw, fork_name):
    fork = get_fork(fork_name)
    alloc = {}
    if fork.has_beacon_root_call:
        alloc.update(system_contracts_alloc())
    for wallet in FUNDED:
        alloc["0x" + wallet.address.hex()] = {"balance": hex(100 * ETHER)}
    alloc["0x" + POOR.address.hex()] = {"balance": hex(10**16)}
    alloc["0x" + CODED.address.hex()] = {"balance": hex(100 * ETHER), "code": "0x00"}
    for address in LIBRARY:
        alloc["0x" + address.hex()] = {
            "balance": hex(ETHER), "code": "0x" + draw(programs(fork_name)).hex(),
            "storage": {"0x1": "0x5"} if draw(st.booleans()) else {},
        }
    alloc = merge_allocs(alloc)
    env = BlockEnv(
        number=1, timestamp=1_000, coinbase=COINBASE, gas_limit=GAS_LIMIT,
        base_fee=txgen.GWEI if fork.has_base_fee else None,
        difficulty=0 if fork.is_post_merge else 131_072,
        prev_randao=b"\x42" * 32,
        parent_beacon_block_root=b"\x07" * 32 if fork.has_beacon_root_call else None,
    )
    txs, kinds = draw(batches(fork_name))
    return alloc, env, txs, kinds


@pytest.mark.parametrize("fork_name", DIFFERENTIAL_FORKS)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_hyperion_equals_stock_pyevm(fork_name, data):
    alloc, env, txs, kinds = data.draw(scenarios(fork_name), label="scenario")
    compare_with_stock(fork_name, CHAIN_ID, alloc, env, txs)


# -- deterministic scenarios ------------------------------------------------------------------
SENDER = FUNDED[0]


def _block(fork_name: str, alloc: dict, txs, coinbase: bytes = COINBASE):
    fork = get_fork(fork_name)
    full = {}
    if fork.has_beacon_root_call:
        full.update(system_contracts_alloc())
    full["0x" + SENDER.address.hex()] = {"balance": hex(100 * ETHER)}
    full.update(alloc)
    env = BlockEnv(number=1, timestamp=1_000, coinbase=coinbase, gas_limit=GAS_LIMIT,
                   base_fee=txgen.GWEI if fork.has_base_fee else None,
                   difficulty=0 if fork.is_post_merge else 131_072)
    return merge_allocs(full), env, txs


def _calls(fork_name, calls):
    """Signed calls from SENDER: ``calls`` is a list of (to, calldata words)."""
    txs = []
    for nonce, (to, words) in enumerate(calls):
        data = b"".join(w.to_bytes(32, "big") for w in words)
        txs.append(txgen.sign(fork_name, SENDER.key, nonce=nonce, to=to, data=data, gas=1_000_000,
                              chain_id=CHAIN_ID, tx_type=2 if get_fork(fork_name).has_base_fee else 0))
    return txs


def _storage(outcome, address: bytes, slot: int) -> int:
    return outcome.stock.vm.state.get_storage(address, slot)


FACTORY = bytes(19 * [0xFA]) + b"\x01"
FACTORY2 = bytes(19 * [0xFA]) + b"\x02"
# the child: constructor sets slot 1; called with a non-zero word it sets slot 5, with zero it self-destructs
CHILD_INIT = A.deploy_code(
    A.asm(0, "CALLDATALOAD", "ISZERO", ("ref", "sd"), "JUMPI", 7, 5, "SSTORE", "STOP",
          ("label", "sd"), "CALLER", "SELFDESTRUCT"),
    A.asm(1, 1, "SSTORE"),
)
# the factory: CREATE2(salt 0) of the child, its address to slot 0; with a non-zero word it also
# calls the new child with a zero word (the child self-destructs in the transaction that created it)
FACTORY_CODE = A.asm(
    A.mstore_bytes(CHILD_INIT), 0, len(CHILD_INIT), 0, 0, "CREATE2", "DUP1", 0, "SSTORE",
    0, "CALLDATALOAD", "ISZERO", ("ref", "end"), "JUMPI",
    0, 0, "MSTORE", 0, 0, 64, 0, 0, "DUP6", "GAS", "CALL", "POP",
    ("label", "end"), "POP", "STOP",
)


def _child_address(factory: bytes) -> bytes:
    from eth._utils.address import generate_safe_contract_address

    return generate_safe_contract_address(factory, 0, CHILD_INIT)


@pytest.mark.parametrize("fork_name", ["london", "shanghai", "cancun", "prague"])
def test_selfdestruct_and_recreate_in_one_block(fork_name):
    """Pre-Cancun: a self-destructed account with storage is wiped and can be re-created in the
    same block (only the new constructor's storage remains).  Cancun (EIP-6780): SELFDESTRUCT
    outside the creating transaction deletes nothing, so the re-creation collides; inside the
    creating transaction it still deletes the account."""
    child, child2 = _child_address(FACTORY), _child_address(FACTORY2)
    alloc = {"0x" + FACTORY.hex(): {"code": "0x" + FACTORY_CODE.hex()},
             "0x" + FACTORY2.hex(): {"code": "0x" + FACTORY_CODE.hex()}}
    calls = [(FACTORY, [0]), (child, [1]), (child, [0]), (FACTORY, [0]), (FACTORY2, [1])]
    outcome = compare_with_stock(fork_name, CHAIN_ID, *_block(fork_name, alloc, _calls(fork_name, calls)))
    assert [r.status.value for r in outcome.hyperion.tx_results] == ["success"] * 5
    state = outcome.stock.vm.state
    if get_fork(fork_name).at_least("cancun"):
        assert _storage(outcome, FACTORY, 0) == 0  # the second CREATE2 collided
        assert (_storage(outcome, child, 1), _storage(outcome, child, 5)) == (1, 7)
    else:
        assert _storage(outcome, FACTORY, 0) == int.from_bytes(child, "big")
        assert (_storage(outcome, child, 1), _storage(outcome, child, 5)) == (1, 0)
    assert not state.account_exists(child2)  # self-destructed in its creating transaction
    diff = outcome.hyperion.diff
    assert child2 not in diff.accounts and child2 not in diff.storage


@pytest.mark.parametrize("fork_name", ["berlin", "cancun", "prague"])
def test_reverted_frame_forgets_warm_slots_and_addresses(fork_name):
    """EIP-2929: accesses made in a frame that reverts are cold again afterwards (the gas differs)."""
    reader, victim = bytes(19 * [0xAA]) + b"\x01", bytes(19 * [0xAA]) + b"\x02"
    # reader: touch slot 0 and the victim's balance, then revert if asked (word 1)
    reader_code = A.asm(0, "SLOAD", "POP", int.from_bytes(victim, "big"), "BALANCE", "POP") + \
        A.revert_if_calldata(1).code + A.asm("STOP")
    caller = bytes(19 * [0xAA]) + b"\x03"
    caller_code = A.program([A.call(reader, 0, 100_000, 1, revert_word=1), A.call(reader, 0, 100_000, 2),
                             A.store_of("BALANCE", victim, 3), A.stop()])
    alloc = {"0x" + reader.hex(): {"code": "0x" + reader_code.hex(), "storage": {"0x0": "0x9"}},
             "0x" + caller.hex(): {"code": "0x" + caller_code.hex()},
             "0x" + victim.hex(): {"balance": "0x5"}}
    outcome = compare_with_stock(fork_name, CHAIN_ID, *_block(fork_name, alloc, _calls(fork_name, [(caller, [])])))
    assert (_storage(outcome, caller, 1), _storage(outcome, caller, 2), _storage(outcome, caller, 3)) == (0, 1, 5)


@pytest.mark.parametrize("fork_name", ["byzantium", "london", "cancun", "prague"])
def test_coinbase_balance_reads_see_earlier_fees(fork_name):
    """A contract that reads the coinbase balance sees the fees of the transactions before it."""
    reader = bytes(19 * [0xAB]) + b"\x01"
    alloc = {"0x" + reader.hex(): {"code": "0x" + A.program([A.coinbase_balance(0), A.stop()]).hex()}}
    txs = _calls(fork_name, [(FRESH, []), (reader, []), (FRESH, []), (reader, [])])
    outcome = compare_with_stock(fork_name, CHAIN_ID, *_block(fork_name, alloc, txs))
    assert _storage(outcome, reader, 0) > 0


def test_eip7623_receipt_floor_is_the_named_difference():
    """Prague, refunds capped and the calldata floor applying: py-evm's receipt reports less gas
    than it charged (KNOWN_DIFFERENCES "eip7623-receipt-floor"); Hyperion reports the floor."""
    clearer = bytes(19 * [0xAC]) + b"\x01"
    code = A.program([A.sstore(slot, 0) for slot in range(10)] + [A.stop()])
    alloc = {"0x" + clearer.hex(): {"code": "0x" + code.hex(), "storage": {hex(s): "0x1" for s in range(10)}}}
    data = b"\x01" * 2000
    tx = txgen.sign("prague", SENDER.key, nonce=0, to=clearer, data=data, gas=1_000_000, chain_id=CHAIN_ID, tx_type=2)
    outcome = compare_with_stock("prague", CHAIN_ID, *_block("prague", alloc, [tx]))
    assert outcome.used == {"eip7623-receipt-floor"}
    assert outcome.hyperion.tx_results[0].gas_used == 21_000 + 10 * 4 * len(data)
    assert outcome.stock.receipts[0].cumulative_gas_used < 21_000 + 10 * 4 * len(data)


@pytest.mark.parametrize("fork_name", ["byzantium", "cancun", "prague"])
def test_eip7610_storage_collision_is_the_named_difference(fork_name):
    """Creating a contract where an address already has storage (but no code or nonce) fails under
    EIP-7610, as in the specs; stock py-evm deploys over it (KNOWN_DIFFERENCES "eip7610-storage-
    collision").  Everything else about the block must still agree."""
    from eth._utils.address import generate_contract_address

    from tests.known_differences import KNOWN_DIFFERENCES
    from tests.stock_compare import Mismatch

    assert "eip7610-storage-collision" in KNOWN_DIFFERENCES
    target = generate_contract_address(SENDER.address, 0)
    alloc = {"0x" + target.hex(): {"storage": {"0x1": "0x1"}}}
    init = A.deploy_code(A.asm("STOP"), A.asm(2, 2, "SSTORE"))
    tx = txgen.sign(fork_name, SENDER.key, nonce=0, to=None, data=init, gas=200_000, chain_id=CHAIN_ID,
                    tx_type=2 if get_fork(fork_name).has_base_fee else 0)
    with pytest.raises(Mismatch) as failure:
        compare_with_stock(fork_name, CHAIN_ID, *_block(fork_name, alloc, [tx]))
    problems = [line.strip() for line in str(failure.value).splitlines()[1:]]
    # the creation fails on Hyperion (all gas used) and succeeds on stock; nothing else differs
    assert problems[0] == "tx 0 (receipt 0): status halted vs stock success"
    assert problems[1].startswith("tx 0 (receipt 0): created None vs stock b")
    assert all(p.startswith(("tx 0 (receipt 0):", "block gas used", "state root", "receipts root", "account ",
                             "storage ", "(Hyperion wiped")) for p in problems)
