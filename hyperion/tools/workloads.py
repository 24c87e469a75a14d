"""Deterministic accounts, genesis and signed transaction batches.

Shared by the demo, the benchmarks, the tests and the example sequencer, so every one of
them measures and checks the same workloads.  Keys are derived from an index, never
random: the same call gives the same bytes on every machine.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Dict, List, Optional, Sequence, Tuple

import rlp
from eth_hash.auto import keccak
from eth_keys import keys

from hyperion.evm.forks import DEFAULT_FORK, get_fork

ETHER = 10**18
GWEI = 10**9
TOKEN_SUPPLY = 10**27
TOKEN_ADDRESS = bytes.fromhex("4859504552494f4e00000000000000000000000a")  # "HYPERION".."0a"


@dataclass(frozen=True)
class Wallet:
    index: int
    key: keys.PrivateKey

    @property
    def address(self) -> bytes:
        return self.key.public_key.to_canonical_address()


@lru_cache(maxsize=None)
def wallet(index: int) -> Wallet:
    secret = keccak(b"hyperion-wallet-" + index.to_bytes(8, "big"))
    return Wallet(index, keys.PrivateKey(secret))


def wallets(count: int, start: int = 0) -> List[Wallet]:
    return [wallet(i) for i in range(start, start + count)]


@lru_cache(maxsize=None)
def contract_artifact(name: str) -> dict:
    return json.loads(resources.files("hyperion.contracts").joinpath(f"{name}.json").read_text())


def token_runtime() -> bytes:
    return bytes.fromhex(contract_artifact("Token")["runtime"][2:])


def token_init_code(supply: int = TOKEN_SUPPLY) -> bytes:
    return bytes.fromhex(contract_artifact("Token")["bytecode"][2:]) + supply.to_bytes(32, "big")


def hashmap_slot(slot: int, key: bytes) -> int:
    """Vyper 0.4 ``HashMap`` storage: keccak(slot || key), both 32 bytes."""
    return int.from_bytes(keccak(slot.to_bytes(32, "big") + key.rjust(32, b"\x00")), "big")


def token_balance_slot(holder: bytes) -> int:
    return hashmap_slot(contract_artifact("Token")["storage_layout"]["balanceOf"]["slot"], holder)


def _string_slots(slot: int, text: str) -> Dict[int, int]:
    raw = text.encode()
    return {slot: len(raw), slot + 1: int.from_bytes(raw.ljust(32, b"\x00"), "big")}


def token_genesis_storage(holders: Sequence[bytes], each: int) -> Dict[str, str]:
    """The token's storage as its constructor would leave it, with ``each`` per holder."""
    layout = contract_artifact("Token")["storage_layout"]
    slots: Dict[int, int] = {}
    slots.update(_string_slots(layout["name"]["slot"], "Hyperion Token"))
    slots.update(_string_slots(layout["symbol"]["slot"], "HYP"))
    slots[layout["decimals"]["slot"]] = 18
    slots[layout["totalSupply"]["slot"]] = each * len(holders)
    for holder in holders:
        slots[token_balance_slot(holder)] = each
    return {hex(k): hex(v) for k, v in slots.items() if v}


def genesis_alloc(accounts: int = 1000, balance: int = 1000 * ETHER, token_each: int = 10**24) -> Dict[str, dict]:
    """``accounts`` funded wallets, each also holding ``token_each`` demo tokens."""
    holders = [w.address for w in wallets(accounts)]
    alloc = {"0x" + a.hex(): {"balance": hex(balance)} for a in holders}
    alloc["0x" + TOKEN_ADDRESS.hex()] = {
        "balance": "0x0",
        "nonce": "0x1",
        "code": "0x" + token_runtime().hex(),
        "storage": token_genesis_storage(holders, token_each),
    }
    return alloc


def erc20_transfer_data(receiver: bytes, amount: int) -> bytes:
    selector = keccak(b"transfer(address,uint256)")[:4]
    return selector + receiver.rjust(32, b"\x00") + amount.to_bytes(32, "big")


def erc20_balance_of_data(holder: bytes) -> bytes:
    return keccak(b"balanceOf(address)")[:4] + holder.rjust(32, b"\x00")


def sign_transaction(
    key,
    *,
    fork: str = DEFAULT_FORK,
    nonce: int,
    to: Optional[bytes],
    value: int = 0,
    data: bytes = b"",
    gas: int = 21_000,
    tx_type: int = 2,
    gas_price: int = 2 * GWEI,
    max_fee: int = 2 * GWEI,
    tip: int = GWEI,
    chain_id: int = 31337,
    eip155: bool = True,
    access_list=(),
    max_fee_per_blob_gas: int = 1,
    blob_hashes=(),
    authorizations=(),
) -> bytes:
    """EIP-2718 bytes of a transaction of any type (0-4) signed with ``key`` (an eth-keys
    private key) under ``fork``'s rules: a legacy one is EIP-155 protected when ``eip155``
    and the fork has EIP-155 (Spurious Dragon on)."""
    the_fork = get_fork(fork)
    builder = the_fork.vm_class.get_transaction_builder()
    to = to or b""
    if tx_type == 0:
        unsigned = builder.create_unsigned_transaction(
            nonce=nonce, gas_price=gas_price, gas=gas, to=to, value=value, data=data
        )
        if eip155 and the_fork.has_eip161:
            signed = unsigned.as_signed_transaction(key, chain_id=chain_id)
        else:
            signed = unsigned.as_signed_transaction(key)
        return rlp.encode(signed)
    if tx_type == 1:
        unsigned = builder.new_unsigned_access_list_transaction(
            chain_id=chain_id, nonce=nonce, gas_price=gas_price, gas=gas, to=to, value=value, data=data,
            access_list=list(access_list),
        )
    elif tx_type == 2:
        unsigned = builder.new_unsigned_dynamic_fee_transaction(
            chain_id=chain_id, nonce=nonce, max_priority_fee_per_gas=tip, max_fee_per_gas=max_fee, gas=gas,
            to=to, value=value, data=data, access_list=list(access_list),
        )
    elif tx_type == 3:
        unsigned = builder.new_unsigned_blob_transaction(
            chain_id=chain_id, nonce=nonce, max_priority_fee_per_gas=tip, max_fee_per_gas=max_fee, gas=gas,
            to=to, value=value, data=data, access_list=list(access_list), max_fee_per_blob_gas=max_fee_per_blob_gas,
            blob_versioned_hashes=list(blob_hashes),
        )
    elif tx_type == 4:
        unsigned = builder.new_unsigned_set_code_transaction(
            chain_id=chain_id, nonce=nonce, max_priority_fee_per_gas=tip, max_fee_per_gas=max_fee, gas=gas,
            to=to, value=value, data=data, access_list=list(access_list), authorization_list=list(authorizations),
        )
    else:
        raise ValueError(f"tx type {tx_type} not supported here")
    return unsigned.as_signed_transaction(key).encode()


def sign_tx(
    sender: Wallet,
    nonce: int,
    to: Optional[bytes],
    value: int = 0,
    data: bytes = b"",
    gas: int = 21_000,
    chain_id: int = 31337,
    max_fee: int = 2 * GWEI,
    tip: int = GWEI,
    fork: str = DEFAULT_FORK,
    tx_type: int = 2,
    access_list=(),
) -> bytes:
    """A signed EIP-2718 transaction from a workload wallet (type 2 by default; a legacy or
    access-list one pays ``max_fee`` as its gas price)."""
    return sign_transaction(sender.key, fork=fork, nonce=nonce, to=to, value=value, data=data, gas=gas,
                            tx_type=tx_type, gas_price=max_fee, max_fee=max_fee, tip=tip, chain_id=chain_id,
                            access_list=access_list)


def next_nonce(nonces: Dict[int, int], sender: Wallet) -> int:
    """``sender``'s next nonce in the book ``nonces`` (wallet index -> next nonce; 0 for a
    wallet not in it yet), advancing the book past it."""
    nonce = nonces.get(sender.index, 0)
    nonces[sender.index] = nonce + 1
    return nonce


def transfer_batch(
    count: int, accounts: int, nonces: Dict[int, int], chain_id: int = 31337, offset: int = 0, conflict: bool = False
) -> List[bytes]:
    """``count`` ETH transfers.  Independent by default: each sender sends once per
    ``accounts`` txs to a receiver that is not a sender in the batch; ``conflict=True``
    sends everything to one hot receiver."""
    txs = []
    for i in range(count):
        sender = wallet((offset + i) % accounts)
        receiver = b"\xee" * 19 + b"\x01" if conflict else (0xC0FFEE0000 + offset + i).to_bytes(20, "big")
        nonce = next_nonce(nonces, sender)
        txs.append(sign_tx(sender, nonce, receiver, value=1000 + i, chain_id=chain_id))
    return txs


def erc20_batch(
    count: int, accounts: int, nonces: Dict[int, int], chain_id: int = 31337, offset: int = 0, conflict: bool = False
) -> List[bytes]:
    """``count`` token transfers; ``conflict=True`` makes every one credit the same holder
    (one hot storage slot)."""
    txs = []
    for i in range(count):
        sender = wallet((offset + i) % accounts)
        receiver = b"\xee" * 19 + b"\x02" if conflict else (0xBEEF000000 + offset + i).to_bytes(20, "big")
        nonce = next_nonce(nonces, sender)
        data = erc20_transfer_data(receiver, 1 + i)
        txs.append(sign_tx(sender, nonce, TOKEN_ADDRESS, data=data, gas=80_000, chain_id=chain_id))
    return txs


def random_addresses(count: int, rng: random.Random) -> List[bytes]:
    """``count`` distinct 20-byte addresses drawn from ``rng`` (seed it: the same seed gives
    the same addresses).  Unlike counters they spread over the whole key space, as real
    recipients do in LMDB and in the trie."""
    seen: Dict[bytes, None] = {}
    while len(seen) < count:
        seen[rng.randbytes(20)] = None
    return list(seen)


def zipf_choices(population: Sequence[bytes], count: int, exponent: float, rng: random.Random) -> List[bytes]:
    """``count`` picks from ``population`` where the k-th item is picked with weight
    1 / k**exponent (0: uniform; 1: the first item about 1/ln(len) of the time)."""
    weights = [1.0 / (rank ** exponent) for rank in range(1, len(population) + 1)]
    return rng.choices(population, weights=weights, k=count)


def payments(plan: Sequence[Tuple[Wallet, bytes, bool]], nonces: Dict[int, int], chain_id: int = 31337) -> List[bytes]:
    """Signed payments, one per ``(sender, recipient, token)`` in ``plan``: a transfer of the
    demo token (:data:`TOKEN_ADDRESS`) when ``token``, else of ether.  ``nonces`` (wallet
    index -> next nonce) is advanced."""
    txs = []
    for position, (sender, recipient, token) in enumerate(plan):
        nonce = next_nonce(nonces, sender)
        if token:
            txs.append(sign_tx(sender, nonce, TOKEN_ADDRESS, data=erc20_transfer_data(recipient, 1 + position),
                               gas=80_000, chain_id=chain_id))
        else:
            txs.append(sign_tx(sender, nonce, recipient, value=1000 + position, chain_id=chain_id))
    return txs
