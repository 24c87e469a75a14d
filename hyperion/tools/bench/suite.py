"""The benchmark runner's workloads: a genesis and signed blocks, deterministic from a seed.

Every workload takes a size (transactions per block, blocks) and a contention knob
``contention`` in [0, 1]; :data:`WORKLOADS` lists them and ``hyperion bench list`` shows
them.  All blocks of one workload are valid on its genesis (each block's senders start at
nonce 0), so every side of the runner executes each block on the same state, stock py-evm
included (docs/benchmarks.md).

The workloads share one genesis: funded wallets, each holding the demo ERC-20 token
(:mod:`hyperion.tools.workloads`, the same one ``bench parallel`` uses), the ``amm``
workload's pools (``contracts/Pool.vy``), the ``nft`` workload's collections
(``contracts/Collection.vy``), and the system contracts of a new Hyperion chain.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

from eth_hash.auto import keccak

from hyperion.genesis import merge_allocs, system_contracts_alloc
from hyperion.tools import workloads as w

CHAIN_ID = 1
#: the one holder that contended transfers credit (one account, and one token storage slot)
HOT_HOLDER = b"\xee" * 19 + b"\x02"
#: recipients the ``mixed`` workload picks from (Zipf exponent 1 over the pool)
MIXED_POOL = 1000
MIXED_ZIPF = 1.0

#: the ``amm`` workload's pools: ether / token reserves at genesis, and what one swap pays
POOLS = 8
POOL_ETHER = 10_000 * w.ETHER
POOL_TOKENS = 10**27
SWAP_ETHER = 10**15
SWAP_GAS = 100_000
#: the ``nft`` workload's collections
COLLECTIONS = 8
MINT_GAS = 120_000

Plan = List[Tuple[w.Wallet, bytes, bool]]
#: (senders, contention, rng) -> one signed transaction per sender
Builder = Callable[[List[w.Wallet], float, random.Random], List[bytes]]


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    #: what ``contention`` means for this workload
    contention: str
    build: Builder
    #: false: ``contention`` changes nothing (the runner runs such a workload once)
    contended: bool = True


def _hot_or(recipient: bytes, contention: float, rng: random.Random) -> bytes:
    """The hot holder with probability ``contention``, else ``recipient``."""
    return HOT_HOLDER if rng.random() < contention else recipient


def _payments(plan: Callable[[List[w.Wallet], float, random.Random], Plan]) -> Builder:
    return lambda senders, contention, rng: w.payments(plan(senders, contention, rng), {}, chain_id=CHAIN_ID)


def _transfers(token: bool):
    def plan(senders, contention, rng):
        fresh = w.random_addresses(len(senders), rng)
        return [(s, _hot_or(r, contention, rng), token) for s, r in zip(senders, fresh)]
    return _payments(plan)


def _mixed(senders, contention, rng):
    pool = w.random_addresses(MIXED_POOL, rng)
    recipients = w.zipf_choices(pool, len(senders), MIXED_ZIPF, rng)
    return [(s, _hot_or(r, contention, rng), rng.random() < 0.5) for s, r in zip(senders, recipients)]


def _hot(senders, _contention, _rng):
    return [(s, HOT_HOLDER, True) for s in senders]


def pool_address(index: int) -> bytes:
    return b"POOL" + index.to_bytes(16, "big")


def collection_address(index: int) -> bytes:
    return b"NFT" + index.to_bytes(17, "big")


def _calls(address: Callable[[int], bytes], count: int, signature: bytes, args: bytes, value: int, gas: int) -> Builder:
    """One call per sender to one of ``count`` contracts: the first with probability
    ``contention``, else any of them."""
    data = keccak(signature)[:4] + args

    def build(senders, contention, rng):
        return [w.sign_tx(sender, 0, address(0 if rng.random() < contention else rng.randrange(count)),
                          value=value, data=data, gas=gas, chain_id=CHAIN_ID) for sender in senders]
    return build


def _contracts_alloc(name: str, address: Callable[[int], bytes], count: int, balance: int,
                     storage: Dict[str, int]) -> Dict[str, dict]:
    """``count`` instances of a checked-in contract, with ``storage`` (variable -> value)
    written where its constructor would."""
    artifact = w.contract_artifact(name)
    slots = {hex(artifact["storage_layout"][var]["slot"]): hex(value) for var, value in storage.items()}
    return {"0x" + address(i).hex(): {"balance": hex(balance), "nonce": "0x1", "code": artifact["runtime"],
                                      "storage": dict(slots)} for i in range(count)}


WORKLOADS: Dict[str, Workload] = {workload.name: workload for workload in (
    Workload("eth", "ether transfers, distinct senders, fresh random recipients", "share of txs paying one hot account",
             _transfers(token=False)),
    Workload("erc20", "ERC-20 transfers, distinct senders, fresh random recipients",
             "share of txs crediting one hot holder (one storage slot)", _transfers(token=True)),
    Workload("mixed", "ether and ERC-20 transfers half and half, recipients Zipf(1)-skewed over 1,000 addresses",
             "share of txs paying one hot account/holder", _payments(_mixed)),
    Workload("hot", "ERC-20 transfers that all credit one holder (one hot storage slot)",
             "none: every tx is contended (runs once, reported as contention 1)", _payments(_hot),
             contended=False),
    Workload("amm", f"ether-to-token swaps on {POOLS} constant-product pools (contracts/Pool.vy)",
             f"share of swaps on pool 0; the rest pick any of the {POOLS} pools",
             _calls(pool_address, POOLS, b"swap(uint256)", bytes(32), SWAP_ETHER, SWAP_GAS)),
    Workload("nft", f"NFT mints on {COLLECTIONS} collections (contracts/Collection.vy)",
             f"share of mints on collection 0; the rest pick any of the {COLLECTIONS} collections",
             _calls(collection_address, COLLECTIONS, b"mint()", b"", 0, MINT_GAS)),
)}


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}") from None


def genesis(txs: int) -> dict:
    """The workloads' genesis: ``txs`` funded token holders (one sender per tx of a block),
    the pools, the collections and the system contracts (stock py-evm needs them listed; Hyperion adds them too)."""
    return merge_allocs(system_contracts_alloc(), w.genesis_alloc(txs),
                       _contracts_alloc("Pool", pool_address, POOLS, POOL_ETHER,
                                        {"ether_reserve": POOL_ETHER, "token_reserve": POOL_TOKENS}),
                       _contracts_alloc("Collection", collection_address, COLLECTIONS, 0, {}))


def blocks(name: str, txs: int, count: int, contention: float, seed: int) -> List[List[bytes]]:
    """``count`` signed blocks of ``txs`` transactions, each valid on :func:`genesis` (every
    sender sends once, at nonce 0); the same arguments give the same bytes."""
    if not 0 <= contention <= 1:
        raise ValueError(f"contention must be between 0 and 1, got {contention}")
    workload = get(name)
    rng = random.Random(f"{seed}/{name}/{contention}")
    senders = w.wallets(txs)
    return [workload.build(senders, contention, rng) for _ in range(count)]
