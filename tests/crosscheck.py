"""Random t8n inputs and the comparison of two t8n outputs (Hyperion's and the specs').

Batches mix transfers, deployments, calls into small hand-assembled contracts (storage,
logs, reverts, CREATE/CREATE2 factories, self-destructs, value-forwarding proxies),
EIP-7702 delegations and blob transactions, plus invalid transactions (bad nonces, too
little balance or gas, fee caps below the base fee, priority fee above the max fee, a
sender with code, too much gas for the block).  Everything is derived from hypothesis
draws, so examples shrink and replay.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import coincurve
import rlp
from eth_hash.auto import keccak
from hypothesis import strategies as st

from hyperion.tools.conformance.fixture_json import normalize_alloc, to_bytes, to_int
from hyperion.evm.receipts import encode_receipt, ordered_trie_root
from hyperion.types import Log

# -- a tiny assembler ------------------------------------------------------------------------
OP = {
    "STOP": 0x00, "ADD": 0x01, "LT": 0x10, "ISZERO": 0x15, "CALLER": 0x33, "CALLVALUE": 0x34,
    "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36, "CALLDATACOPY": 0x37, "BALANCE": 0x31, "SELFBALANCE": 0x47,
    "NUMBER": 0x43, "POP": 0x50, "MLOAD": 0x51, "MSTORE": 0x52, "SLOAD": 0x54, "SSTORE": 0x55, "JUMP": 0x56,
    "JUMPI": 0x57, "GAS": 0x5A, "JUMPDEST": 0x5B, "LOG1": 0xA1, "LOG2": 0xA2, "CREATE": 0xF0, "CALL": 0xF1,
    "RETURN": 0xF3, "DELEGATECALL": 0xF4, "CREATE2": 0xF5, "STATICCALL": 0xFA, "REVERT": 0xFD, "INVALID": 0xFE,
    "SELFDESTRUCT": 0xFF, "MSTORE8": 0x53, "TSTORE": 0x5D, "TLOAD": 0x5C, "RETURNDATASIZE": 0x3D, "EXTCODESIZE": 0x3B,
}


def push(value: int, size: Optional[int] = None) -> bytes:
    if size is None:
        size = max(1, (value.bit_length() + 7) // 8)
    return bytes([0x5F + size]) + value.to_bytes(size, "big")


def asm(*parts) -> bytes:
    out = b""
    for part in parts:
        if isinstance(part, str):
            out += bytes([OP[part]])
        elif isinstance(part, int):
            out += push(part)
        else:
            out += bytes(part)
    return out


def init_returning(runtime: bytes) -> bytes:
    """Init code that deploys ``runtime`` (any length): CODECOPY the tail, RETURN it."""
    body_len = 14
    prefix = asm(push(len(runtime), 2), push(body_len, 1), 0, bytes([0x39]), push(len(runtime), 2), 0, "RETURN")
    assert len(prefix) == body_len, len(prefix)
    return prefix + runtime


STORE = asm(0x20, "CALLDATALOAD", 0, "CALLDATALOAD", "SSTORE", "STOP")
REVERTER = asm(1, 0, "SSTORE", "CALLER", 0, "MSTORE", 0x20, 0, "REVERT")
LOGGER = asm("CALLVALUE", 0, "MSTORE", "CALLER", 0x20, 0, "LOG1", "NUMBER", "CALLER", 0x40, 0, "LOG2", "STOP")
FACTORY = asm("CALLDATASIZE", 0, 0, "CALLDATACOPY", "CALLDATASIZE", 0, "CALLVALUE", "CREATE", 0, "SSTORE",
              "CALLDATASIZE", 0, 0, "CALLDATACOPY", "NUMBER", "CALLDATASIZE", 0, 0, "CREATE2", 1, "SSTORE",
              "RETURNDATASIZE", 2, "SSTORE", "STOP")
SELFDESTRUCTOR = asm(1, 0, "SSTORE", "CALLER", "SELFDESTRUCT")
TRANSIENT = asm(0, "CALLDATALOAD", 1, "TSTORE", 1, "TLOAD", 0, "SSTORE", "STOP")
OOG = asm("JUMPDEST", 1, 0, "SSTORE", 0, "JUMP")


def proxy(target: bytes) -> bytes:
    return asm("CALLDATASIZE", 0, 0, "CALLDATACOPY", 0, 0, "CALLDATASIZE", 0, "CALLVALUE", push(int.from_bytes(target, "big"), 20),
               "GAS", "CALL", 0, "SSTORE", "RETURNDATASIZE", 1, "SSTORE", "STOP")


INIT_CODES = [
    init_returning(STORE),
    init_returning(LOGGER),
    init_returning(b""),
    asm(0, 0, "REVERT"),
    asm("INVALID"),
    asm(7, 3, "SSTORE") + init_returning(SELFDESTRUCTOR),
    init_returning(bytes(range(1, 200))),
    init_returning(b"\xef\x00"),  # EIP-3541: code starting with 0xEF is rejected (London on)
    asm(5, 1, "SSTORE", "CALLER", "SELFDESTRUCT"),  # created and destroyed in one transaction (EIP-6780)
]


def create2_address(deployer: bytes, salt: int, init_code: bytes) -> bytes:
    return keccak(b"\xff" + deployer + salt.to_bytes(32, "big") + keccak(init_code))[12:]

# -- accounts ----------------------------------------------------------------------------------
KEYS = [keccak(b"hyperion-crosscheck-" + bytes([i])) for i in range(6)]


def key_address(secret: bytes) -> bytes:
    public = coincurve.PrivateKey(secret).public_key.format(compressed=False)
    return keccak(public[1:])[12:]


SENDERS = [key_address(k) for k in KEYS]
CONTRACTS = {
    "store": bytes.fromhex("c0de000000000000000000000000000000000001"),
    "reverter": bytes.fromhex("c0de000000000000000000000000000000000002"),
    "logger": bytes.fromhex("c0de000000000000000000000000000000000003"),
    "factory": bytes.fromhex("c0de000000000000000000000000000000000004"),
    "selfdestructor": bytes.fromhex("c0de000000000000000000000000000000000005"),
    "proxy": bytes.fromhex("c0de000000000000000000000000000000000006"),
    "transient": bytes.fromhex("c0de000000000000000000000000000000000007"),
    "oog": bytes.fromhex("c0de000000000000000000000000000000000008"),
}
CODE_SENDER = 5  #: SENDERS[5] gets code in some batches (EIP-3607)
COINBASE = bytes.fromhex("c014ba5e00000000000000000000000000000000")
FRESH = [bytes.fromhex("f0000000000000000000000000000000000000%02x" % i) for i in range(4)]
PRECOMPILES = [(i).to_bytes(20, "big") for i in (1, 2, 4, 5)]

FORKS = ["Prague", "Cancun", "Shanghai", "Paris", "London", "Berlin", "Istanbul", "ConstantinopleFix", "Byzantium",
         "SpuriousDragon", "TangerineWhistle", "Homestead", "Frontier"]
FORK_ORDER = {name: i for i, name in enumerate(reversed(FORKS))}


def at_least(fork: str, other: str) -> bool:
    return FORK_ORDER[fork] >= FORK_ORDER[other]


def system_contracts() -> Dict[str, Dict[str, Any]]:
    from importlib import resources

    return json.loads(resources.files("hyperion.contracts").joinpath("system_contracts.json").read_text())


def contract_code(name: str) -> bytes:
    if name == "proxy":
        return proxy(CONTRACTS["logger"])
    return {"store": STORE, "reverter": REVERTER, "logger": LOGGER, "factory": FACTORY,
            "selfdestructor": SELFDESTRUCTOR, "transient": TRANSIENT, "oog": OOG}[name]


def h(value: int) -> str:
    return hex(value)


def hb(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass
class Batch:
    fork: str
    alloc: Dict[str, Any]
    env: Dict[str, Any]
    txs: List[Dict[str, Any]]
    notes: List[str] = field(default_factory=list)
    #: --state.reward (None: the fork's block reward)
    reward: Optional[int] = None

    def describe(self) -> str:
        return json.dumps({"fork": self.fork, "alloc": self.alloc, "env": self.env, "txs": self.txs}, indent=1)


def sign_authorization(secret: bytes, chain_id: int, address: bytes, nonce: int) -> Dict[str, str]:
    message = keccak(b"\x05" + rlp.encode([chain_id, address, nonce]))
    signature = coincurve.PrivateKey(secret).sign_recoverable(message, hasher=None)
    return {"chainId": h(chain_id), "address": hb(address), "nonce": h(nonce), "v": h(signature[64]),
            "r": h(int.from_bytes(signature[:32], "big")), "s": h(int.from_bytes(signature[32:64], "big"))}


@st.composite
def batches(draw, forks=FORKS, max_txs: int = 8, stock_compatible: bool = False) -> Batch:
    """A random t8n batch.  ``stock_compatible``: block 1, no withdrawals and no system
    contracts, so that ``hyperion.tools.reference.run_stock`` (stock py-evm) runs the same block."""
    fork = draw(st.sampled_from(forks))
    base_fee = draw(st.sampled_from([7, 10**9, 875_000_000])) if at_least(fork, "London") else None
    gas_limit = draw(st.sampled_from([30_000_000] * 3 + [400_000]))
    alloc: Dict[str, Any] = {}
    balances = []
    for address in SENDERS:
        balance = draw(st.sampled_from([10**18] * 4 + [10**16, 3 * 10**14, 0]))
        nonce = draw(st.sampled_from([0, 1, 5])) or (0 if balance else 1)  # the specs refuse empty accounts
        entry = {"balance": h(balance), "nonce": h(nonce), "code": "0x", "storage": {}}
        alloc[hb(address)] = entry
        balances.append(balance)
    sender_with_code = draw(st.booleans()) and draw(st.booleans())
    if sender_with_code:
        delegation = at_least(fork, "Prague") and draw(st.booleans())
        target = draw(st.sampled_from([CONTRACTS["logger"], CONTRACTS["factory"]]))
        alloc[hb(SENDERS[CODE_SENDER])]["code"] = hb(b"\xef\x01\x00" + target if delegation else STORE)
    for name, address in CONTRACTS.items():
        storage = {}
        if name in ("store", "selfdestructor") and draw(st.booleans()):
            storage = {"0x01": "0x2a", "0x00": "0x01"}
        alloc[hb(address)] = {"balance": h(draw(st.sampled_from([0, 10**15]))), "nonce": "0x1",
                              "code": hb(contract_code(name)), "storage": storage}
    if draw(st.booleans()):
        alloc[hb(COINBASE)] = {"balance": "0x1", "nonce": "0x0", "code": "0x", "storage": {}}
    if at_least(fork, "Cancun") and not stock_compatible and draw(st.integers(0, 3)):  # mostly with them
        for name, contract in system_contracts().items():
            if name in ("beacon_roots",) or at_least(fork, "Prague"):
                alloc[contract["address"]] = {"balance": "0x0", "nonce": h(contract["nonce"]),
                                              "code": contract["code"], "storage": {}}

    number = 1 if stock_compatible else draw(st.integers(1, 300))
    env: Dict[str, Any] = {
        "currentCoinbase": hb(COINBASE),
        "currentGasLimit": h(gas_limit),
        "currentNumber": h(number),
        "currentTimestamp": h(1_000 + number * 12),
        "blockHashes": {h(n): hb(keccak(n.to_bytes(8, "big"))) for n in range(max(0, number - 3), number)},
    }
    if at_least(fork, "Paris"):
        env["currentRandom"] = hb(keccak(b"randao" + bytes([number % 256])))
    else:
        env["currentDifficulty"] = h(0x20000)
    if base_fee is not None:
        if draw(st.booleans()):
            env["currentBaseFee"] = h(base_fee)
        else:  # derived from the parent, as the specs' t8n does
            env["parentBaseFee"] = h(base_fee)
            env["parentGasUsed"] = h(draw(st.sampled_from([0, gas_limit // 2, gas_limit])))
            env["parentGasLimit"] = h(gas_limit)
    if at_least(fork, "Shanghai"):
        withdrawals = []
        for i in range(0 if stock_compatible else draw(st.integers(0, 2))):
            withdrawals.append({"index": h(i), "validatorIndex": h(7 + i),
                                "address": hb(draw(st.sampled_from([SENDERS[0], FRESH[1], CONTRACTS["store"]]))),
                                "amount": h(draw(st.sampled_from([0, 1, 10**9])))})
        env["withdrawals"] = withdrawals
    if at_least(fork, "Cancun"):
        env["parentBeaconBlockRoot"] = hb(keccak(b"beacon"))
        if draw(st.booleans()):
            env["currentExcessBlobGas"] = h(draw(st.sampled_from([0, 10_000_000])))
        else:
            env["parentExcessBlobGas"] = h(draw(st.sampled_from([0, 400_000])))
            env["parentBlobGasUsed"] = h(draw(st.sampled_from([0, 393_216, 786_432])))

    nonces = [to_int(alloc[hb(a)]["nonce"]) for a in SENDERS]
    txs = []
    for _ in range(draw(st.integers(1, max_txs))):
        sender = draw(st.integers(0, len(SENDERS) - 1))
        kind = draw(st.sampled_from(["transfer", "deploy", "call", "call", "factory", "factory", "created",
                                     "precompile", "proxy"]))
        types = [0]
        if at_least(fork, "Berlin"):
            types.append(1)
        if at_least(fork, "London"):
            types += [2, 2]
        if at_least(fork, "Cancun") and kind in ("transfer", "call"):
            types.append(3)
        if at_least(fork, "Prague") and kind in ("transfer", "call"):
            types.append(4)
        tx_type = draw(st.sampled_from(types))
        tx: Dict[str, Any] = {"type": h(tx_type), "nonce": h(nonces[sender]), "value": "0x0", "input": "0x",
                              "secretKey": hb(KEYS[sender]), "chainId": "0x1"}
        gas = draw(st.sampled_from([60_000, 150_000, 400_000, 1_000_000] if kind != "transfer"
                                   else [21_000, 60_000]))
        if kind == "transfer":
            tx["to"] = hb(draw(st.sampled_from(SENDERS + FRESH + [COINBASE])))
            tx["value"] = h(draw(st.sampled_from([0, 1, 10**15])))
            if draw(st.booleans()):  # calldata: init code, for a delegated EOA running the factory
                tx["input"] = hb(draw(st.sampled_from(INIT_CODES)))
                gas = 200_000
        elif kind == "deploy" and tx_type not in (3, 4):
            tx["to"] = None
            tx["input"] = hb(draw(st.sampled_from(INIT_CODES)))
            tx["value"] = h(draw(st.sampled_from([0, 5])))
        elif kind == "factory":
            tx["to"] = hb(CONTRACTS["factory"])
            tx["input"] = hb(draw(st.sampled_from(INIT_CODES)))
            tx["value"] = h(draw(st.sampled_from([0, 3])))
        elif kind == "created":  # a contract the factory's CREATE2 made (or will make) in this block
            tx["to"] = hb(create2_address(CONTRACTS["factory"], number, draw(st.sampled_from(INIT_CODES))))
            tx["input"] = hb(draw(st.sampled_from([b"", (3).to_bytes(32, "big") + (4).to_bytes(32, "big")])))
        elif kind == "precompile":
            tx["to"] = hb(draw(st.sampled_from(PRECOMPILES)))
            tx["input"] = hb(draw(st.binary(max_size=100)))
        elif kind == "proxy":
            tx["to"] = hb(CONTRACTS["proxy"])
            tx["value"] = h(draw(st.sampled_from([0, 9])))
        else:
            name = draw(st.sampled_from(sorted(CONTRACTS)))
            if name == "transient" and not at_least(fork, "Cancun"):
                name = "store"
            tx["to"] = hb(CONTRACTS[name])
            data = draw(st.sampled_from([b"", bytes(64), (5).to_bytes(32, "big") + (9).to_bytes(32, "big"),
                                         b"\x01" * 300, bytes(2000), b"\xff" * 1000]))
            tx["input"] = hb(data)
            tx["value"] = h(draw(st.sampled_from([0, 0, 1])))
        if tx.get("to", "") is None:
            tx.pop("to")
            tx["to"] = None
        if kind == "deploy" and tx_type in (3, 4):
            tx["to"] = hb(SENDERS[0])
        tx["gas"] = h(gas)
        price = (base_fee or 10) + draw(st.sampled_from([0, 2, 10**9]))
        if tx_type in (0, 1):
            tx["gasPrice"] = h(price)
        else:
            tip = draw(st.sampled_from([0, 1, 2, 2, 2 * 10**9]))
            tx["maxFeePerGas"] = h(price)
            tx["maxPriorityFeePerGas"] = h(tip)
        if tx_type in (1, 2) and draw(st.booleans()):
            tx["accessList"] = [{"address": tx["to"] or hb(SENDERS[0]),
                                 "storageKeys": [hb(bytes(32)), hb((1).to_bytes(32, "big"))]}]
        if tx_type == 3:
            tx["maxFeePerBlobGas"] = h(draw(st.sampled_from([1, 10**6])))
            tx["blobVersionedHashes"] = [hb(b"\x01" + keccak(bytes([i]))[1:]) for i in range(draw(st.integers(1, 2)))]
        if tx_type == 4:
            signer = draw(st.integers(0, len(SENDERS) - 1))
            target = draw(st.sampled_from([CONTRACTS["logger"], CONTRACTS["store"], CONTRACTS["factory"], bytes(20)]))
            auth_nonce = nonces[signer] + (1 if signer == sender else 0)
            auth_nonce += draw(st.sampled_from([0, 0, 1]))
            tx["authorizationList"] = [sign_authorization(KEYS[signer], draw(st.sampled_from([1, 1, 0, 7])), target,
                                                          auth_nonce)]
        # invalid on purpose, sometimes
        mutation = draw(st.sampled_from([None] * 12 + ["nonce+", "nonce-", "gas-", "gas>block", "tip>max", "fee<base"]))
        if mutation == "nonce+":
            tx["nonce"] = h(nonces[sender] + 1)
        elif mutation == "nonce-" and nonces[sender] > 0:
            tx["nonce"] = h(nonces[sender] - 1)
        elif mutation == "gas-":
            tx["gas"] = h(20_000)
        elif mutation == "gas>block":
            tx["gas"] = h(gas_limit + 1)
        elif mutation == "tip>max" and tx_type >= 2:
            tx["maxPriorityFeePerGas"] = h(to_int(tx["maxFeePerGas"]) + 1)
        elif mutation == "fee<base" and base_fee:
            if tx_type >= 2:
                tx["maxFeePerGas"] = h(base_fee - 1)
                tx["maxPriorityFeePerGas"] = "0x0"
            else:
                tx["gasPrice"] = h(base_fee - 1)
        txs.append(tx)
        if mutation is None:
            nonces[sender] += 1  # a guess: the transaction may still be invalid (funds, gas)
    # the fork's block reward in every batch (hyperion.tools.reference.run_stock pays py-evm's too)
    return Batch(fork=fork, alloc=alloc, env=env, txs=txs)


# -- comparison ----------------------------------------------------------------------------
def spec_receipts_root(spec_result: Dict[str, Any], types: List[int]) -> bytes:
    """The receipts root of the specs' receipts re-keyed by position among included
    transactions (the specs' t8n keys them by input index, counting rejected ones)."""
    receipts = []
    for receipt, tx_type in zip(spec_result["receipts"], types):
        logs = [Log(to_bytes(l["address"]), tuple(to_bytes(t) for t in l["topics"]), to_bytes(l["data"]))
                for l in receipt["logs"]]
        status = (b"\x01" if receipt["succeeded"] else b"") if "succeeded" in receipt else to_bytes(receipt["post_state"])
        receipts.append(encode_receipt(tx_type, status, to_int(receipt["cumulativeGasUsed"]), logs))
    return ordered_trie_root(receipts)


def compare(spec: Dict[str, Any], mine: Dict[str, Any]) -> List[str]:
    """Differences between the specs' t8n output and Hyperion's (empty = same)."""
    problems = []
    sr, hr = spec["result"], mine["result"]
    spec_rejected = sorted(r["index"] for r in sr["rejected"])
    my_rejected = sorted(r["index"] for r in hr["rejected"])
    if spec_rejected != my_rejected:
        problems.append(f"rejected: specs {sr['rejected']} vs hyperion {hr['rejected']}")
    if len(sr["receipts"]) != len(hr["receipts"]):
        problems.append(f"receipt count: specs {len(sr['receipts'])} vs hyperion {len(hr['receipts'])}")
    for i, (a, b) in enumerate(zip(sr["receipts"], hr["receipts"])):
        if to_int(a["cumulativeGasUsed"]) != to_int(b["cumulativeGasUsed"]):
            problems.append(f"receipt {i} cumulativeGasUsed: specs {to_int(a['cumulativeGasUsed'])} vs hyperion "
                            f"{to_int(b['cumulativeGasUsed'])}")
        if "succeeded" in a and a["succeeded"] != (b["status"] == "0x1"):
            problems.append(f"receipt {i} status: specs {a['succeeded']} vs hyperion {b['status']}")
        spec_logs = [(l["address"], l["topics"], l["data"]) for l in a["logs"]]
        my_logs = [(l["address"], l["topics"], l["data"]) for l in (b["logs"] or [])]
        if spec_logs != my_logs:
            problems.append(f"receipt {i} logs differ")
    for key in ("stateRoot", "logsHash", "logsBloom", "gasUsed", "currentBaseFee", "currentExcessBlobGas",
                "withdrawalsRoot", "requestsHash"):
        if key in sr or key in hr:
            a, b = sr.get(key), hr.get(key)
            if key in ("gasUsed", "currentBaseFee", "currentExcessBlobGas"):
                a = None if a is None else to_int(a)
                b = None if b is None else to_int(b)
            if a != b:
                problems.append(f"{key}: specs {a} vs hyperion {b}")
    if not spec_rejected and sr["txRoot"] != hr["txRoot"]:
        problems.append(f"txRoot: specs {sr['txRoot']} vs hyperion {hr['txRoot']}")
    types = [to_int(r["type"]) for r in hr["receipts"]]
    if len(types) == len(sr["receipts"]) and spec_receipts_root(sr, types) != to_bytes(hr["receiptsRoot"]):
        problems.append("receiptsRoot differs from the root of the specs' receipts")
    if ("blockException" in sr) != ("blockException" in hr):
        problems.append(f"blockException: specs {sr.get('blockException')} vs hyperion {hr.get('blockException')}")
    a_alloc, b_alloc = normalize_alloc(spec["alloc"]), normalize_alloc(mine["alloc"])
    if a_alloc != b_alloc:
        for address in sorted(set(a_alloc) | set(b_alloc)):
            if a_alloc.get(address) != b_alloc.get(address):
                problems.append(f"alloc {address.hex()}: specs {a_alloc.get(address)} vs hyperion "
                                f"{b_alloc.get(address)}")
                break
    return problems


# -- running both tools ----------------------------------------------------------------------
def hyperion_t8n(batch: Batch, extra_args: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """``hyperion t8n`` on a batch (in process, through the click command, stdin/stdout)."""
    from click.testing import CliRunner

    from hyperion.cli import main

    stdin = json.dumps({"alloc": batch.alloc, "env": batch.env, "txs": batch.txs})
    result = CliRunner().invoke(
        main, ["t8n", "--input.alloc", "stdin", "--input.env", "stdin", "--input.txs", "stdin",
               "--state.fork", batch.fork, "--state.chainid", "1", "--output.result", "stdout",
               "--output.alloc", "stdout", *(("--state.reward", str(batch.reward)) if batch.reward is not None else ()),
               *extra_args], input=stdin, catch_exceptions=False)
    if result.exit_code != 0:
        raise AssertionError(f"hyperion t8n exited with {result.exit_code}: {result.output}")
    return json.loads(result.stdout)


def spec_t8n(batch: Batch) -> Dict[str, Any]:
    """``ethereum-spec-evm t8n`` on a batch (in process, through its own argument parser)."""
    from hyperion.tools.conformance.oracle import spec_t8n as run

    return run(batch.alloc, batch.env, batch.txs, batch.fork, chain_id=1, reward=batch.reward)
