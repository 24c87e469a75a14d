"""The benchmark runner's workloads: a genesis and signed blocks, deterministic from a seed.

Every workload takes a size (transactions per block, blocks) and a contention knob
``contention`` in [0, 1]; :data:`WORKLOADS` lists them and ``hyperion bench list`` shows
them.  All blocks of one workload are valid on its genesis (each block's senders start at
nonce 0), so every side of the runner executes each block on the same state, stock py-evm
included (docs/benchmarks.md).  Given a nonce book instead, the blocks form a chain: each
sender's nonce advances from block to block (``bench run --chain``, ``bench parallel``).

The workloads share one genesis: funded wallets, each holding the demo ERC-20 token
(:mod:`hyperion.tools.workloads`), the contracts of
the contract workloads (``amm``, ``nft``, ``dao``, ``data``, ``ai``, ``compute``; their
Vyper sources are in ``contracts/``), and the system contracts of a new Hyperion chain.
Contract storage is written into the genesis where the contract's constructor (and, for
``dao`` and ``data``, its ``propose`` / ``mint``) would have written it
(tests/test_bench_workloads.py checks this against real deployments).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from eth_hash.auto import keccak

from hyperion.genesis import merge_allocs, system_contracts_alloc
from hyperion.precompiles.ai import abi as ai_abi, examples as ai
from hyperion.precompiles.ai.examples import call_data  # a minimal ABI encoder
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
#: the ``dao`` workload: proposals open at genesis, and the gas one vote is given
PROPOSALS = 32
VOTE_GAS = 120_000
#: the share of votes in favour (for and against are separate tallies, both updated per vote)
VOTE_FOR = 0.7
#: the ``data`` workload: datasets minted at genesis (dataset i has (i + 3) % 5 contributors, so
#: the hot dataset 0 has three and its fee split leaves remainders); their owners are wallets
#: from this index on, so a test can mint the same datasets with real transactions
DATASETS = 64
DATA_OWNER_WALLETS = 1_000_000
USE_FEE = 10**15  # plus up to 9,999 wei, so the fee split leaves remainders
USE_GAS = 200_000
#: the ``ai`` workload's chain enables Hyperion's AI precompiles (docs/ai-precompiles.md)
AI_PRECOMPILES = ("ai",)
INFER_GAS = 150_000
#: the ``compute`` workload's calls (contracts/Compute.vy), 78,000-109,000 gas each
HASH_LOOP = ("hash_loop(uint256)", 300)
MANDELBROT = ("mandelbrot(uint256,uint256)", 3, 12)
TOKEN_LOOP = ("token_loop(uint256)", 40)
COMPUTE_GAS = 200_000

Plan = List[Tuple[w.Wallet, bytes, bool]]
#: wallet index -> that wallet's next nonce (advanced as transactions are signed)
Nonces = Dict[int, int]
#: (senders, contention, rng, nonces) -> one signed transaction per sender
Builder = Callable[[List[w.Wallet], float, random.Random, Nonces], List[bytes]]


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    #: what ``contention`` means for this workload
    contention: str
    build: Builder
    #: false: ``contention`` changes nothing (the runner runs such a workload once)
    contended: bool = True
    #: extra precompile sets the workload's chain enables (``ChainConfig.extra_precompiles``)
    precompiles: Tuple[str, ...] = ()
    #: why stock py-evm cannot run this workload ("": it can)
    no_stock: str = ""


def _hot_or(recipient: bytes, contention: float, rng: random.Random) -> bytes:
    """The hot holder with probability ``contention``, else ``recipient``."""
    return HOT_HOLDER if rng.random() < contention else recipient


def _payments(plan: Callable[[List[w.Wallet], float, random.Random], Plan]) -> Builder:
    return lambda senders, contention, rng, nonces: w.payments(plan(senders, contention, rng), nonces,
                                                               chain_id=CHAIN_ID)


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


#: (hot, rng) -> (to, data, value, gas) of one call
Call = Callable[[bool, random.Random], Tuple[bytes, bytes, int, int]]


def _each(call: Call) -> Builder:
    """One call per sender, ``hot`` with probability ``contention``."""
    def build(senders, contention, rng, nonces):
        txs = []
        for sender in senders:
            to, data, value, gas = call(rng.random() < contention, rng)
            txs.append(w.sign_tx(sender, w.next_nonce(nonces, sender), to, value=value, data=data, gas=gas,
                                 chain_id=CHAIN_ID))
        return txs
    return build


def _pick(hot: bool, count: int, rng: random.Random) -> int:
    """0 when ``hot``, else any of ``count``."""
    return 0 if hot else rng.randrange(count)


def _calls(address: Callable[[int], bytes], count: int, signature: bytes, args: bytes, value: int, gas: int) -> Builder:
    """One call per sender to one of ``count`` contracts: the first with probability
    ``contention``, else any of them."""
    data = keccak(signature)[:4] + args
    return _each(lambda hot, rng: (address(_pick(hot, count, rng)), data, value, gas))


DAO_ADDRESS = b"DAO" + bytes(16) + b"\x01"
DATA_ADDRESS = b"DATA" + bytes(15) + b"\x01"
FEED_ADDRESS = b"FEED" + bytes(15) + b"\x01"
MODEL_ADDRESS = b"MODEL" + bytes(14) + b"\x01"
COMPUTE_ADDRESS = b"COMPUTE" + bytes(12) + b"\x01"


def _vote(hot, rng):
    proposal = _pick(hot, PROPOSALS, rng)
    return DAO_ADDRESS, call_data("vote(uint256,bool)", proposal, rng.random() < VOTE_FOR), 0, VOTE_GAS


def _use(hot, rng):
    return DATA_ADDRESS, call_data("use(uint256)", _pick(hot, DATASETS, rng)), USE_FEE + rng.randrange(10_000), \
        USE_GAS


def _infer(hot, rng):
    x = ai.sample_input(rng.randrange(ai.N_CLASSES), rng.randrange(1000))
    return FEED_ADDRESS, call_data("infer(bytes,bool)", x, hot), 0, INFER_GAS


def _compute(hot, rng):
    signature, *args = TOKEN_LOOP if hot else (HASH_LOOP, MANDELBROT)[rng.randrange(2)]
    return COMPUTE_ADDRESS, call_data(signature, *args), 0, COMPUTE_GAS


def _contracts_alloc(name: str, address: Callable[[int], bytes], count: int, balance: int,
                     storage: Dict[str, int]) -> Dict[str, dict]:
    """``count`` instances of a checked-in contract, with ``storage`` (variable -> value)
    written where its constructor would."""
    artifact = w.contract_artifact(name)
    slots = {artifact["storage_layout"][var]["slot"]: value for var, value in storage.items()}
    return {"0x" + address(i).hex(): _account(name, slots, balance) for i in range(count)}


def _account(name: str, storage: Dict[int, int], balance: int = 0, immutables: Sequence[int] = ()) -> dict:
    """A deployed checked-in contract: Vyper 0.4 appends the immutables, a word each, to
    the runtime code."""
    code = w.contract_artifact(name)["runtime"] + "".join(f"{value:064x}" for value in immutables)
    return {"balance": hex(balance), "nonce": "0x1", "code": code,
            "storage": {hex(slot): hex(value) for slot, value in storage.items() if value}}


def _slot(name: str, variable: str) -> int:
    return w.contract_artifact(name)["storage_layout"][variable]["slot"]


def _map(name: str, variable: str, key: int) -> int:
    return w.hashmap_slot(_slot(name, variable), key.to_bytes(32, "big"))


def proposal_hash(proposal: int) -> bytes:
    return keccak(b"hyperion-proposal-%d" % proposal)


def dataset(index: int) -> Tuple[bytes, w.Wallet, List[bytes]]:
    """The ``data`` workload's dataset ``index``: (content hash, owner, contributors)."""
    contributors = [keccak(b"hyperion-data-contributor-%d-%d" % (index, k))[:20] for k in range((index + 3) % 5)]
    return keccak(b"hyperion-dataset-%d" % index), w.wallet(DATA_OWNER_WALLETS + index), contributors


def dao_storage(proposals: int) -> Dict[int, int]:
    """``Dao``'s storage after ``propose(proposal_hash(p))`` for p < ``proposals``."""
    storage = {_slot("Dao", "proposal_count"): proposals}
    storage.update({_map("Dao", "description_hash", p): int.from_bytes(proposal_hash(p), "big") for p in range(proposals)})
    return storage


def data_storage(datasets: int) -> Dict[int, int]:
    """``DataAsset``'s storage after each dataset below ``datasets`` was minted by its owner."""
    storage = {_slot("DataAsset", "dataset_count"): datasets}
    for index in range(datasets):
        content, owner, contributors = dataset(index)
        storage[_map("DataAsset", "owner_of", index)] = int.from_bytes(owner.address, "big")
        storage[_map("DataAsset", "content_hash", index)] = int.from_bytes(content, "big")
        # a DynArray in storage: its length, then one slot per item
        array = _map("DataAsset", "contributors", index)
        storage[array] = len(contributors)
        storage.update({array + 1 + k: int.from_bytes(c, "big") for k, c in enumerate(contributors)})
    return {slot: value for slot, value in storage.items() if value}  # an empty array's length is no write


def compute_storage() -> Dict[int, int]:
    """``Compute``'s storage after its constructor (ten balances of 1,000)."""
    return {_map("Compute", "balances", k): 1000 for k in range(10)}


def dao_immutables() -> List[int]:
    return [int.from_bytes(w.TOKEN_ADDRESS, "big")]


def feed_immutables() -> List[int]:
    return [int.from_bytes(ai_abi.DEFAULT_ADDRESSES["mlp"], "big"), int.from_bytes(MODEL_ADDRESS, "big")]


def model_code() -> bytes:
    """The ``ai`` workload's model: the demo 64-32-10 MLP as a data contract."""
    return ai.model_codes(ai.demo_mlp_layers())[0]


def _contract_workloads_alloc() -> dict:
    return {"0x" + DAO_ADDRESS.hex(): _account("Dao", dao_storage(PROPOSALS), immutables=dao_immutables()),
            "0x" + DATA_ADDRESS.hex(): _account("DataAsset", data_storage(DATASETS)),
            "0x" + MODEL_ADDRESS.hex(): {"balance": "0x0", "nonce": "0x1", "code": "0x" + model_code().hex()},
            "0x" + FEED_ADDRESS.hex(): _account("InferenceFeed", {}, immutables=feed_immutables()),
            "0x" + COMPUTE_ADDRESS.hex(): _account("Compute", compute_storage())}


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
    Workload("dao", f"token-weighted votes on {PROPOSALS} proposals, the tally updated per vote (contracts/Dao.vy)",
             f"share of votes on proposal 0; the rest pick any of the {PROPOSALS} proposals", _each(_vote)),
    Workload("data", f"paid uses of {DATASETS} data-asset tokens, each fee split between the dataset's owner and "
             "its 0-4 contributors (contracts/DataAsset.vy)",
             f"share of uses of dataset 0; the rest pick any of the {DATASETS} datasets", _each(_use)),
    Workload("compute", "compute-heavy calls of contracts/Compute.vy (the interpreter benchmark's contract): "
             "hash_loop(300) or mandelbrot(3, 12), no storage writes",
             "share of calls that run token_loop(40) instead, moving balances among the contract's 10 storage "
             "slots (all such calls conflict)", _each(_compute)),
    Workload("ai", "64-32-10 MLP inference through the mlp precompile, called by a contract "
             "(contracts/InferenceFeed.vy; the chain enables the AI precompiles)",
             "share of calls that also publish the label to the contract's shared feed (two hot slots)",
             _each(_infer), precompiles=AI_PRECOMPILES,
             no_stock="stock py-evm has no AI precompiles (the mlp call would find no code there)"),
)}


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}") from None


def genesis(txs: int) -> dict:
    """The workloads' genesis: ``txs`` funded token holders (the senders of a block),
    every contract workload's contracts and the system contracts (stock py-evm needs them
    listed; Hyperion adds them too)."""
    return merge_allocs(system_contracts_alloc(), w.genesis_alloc(txs),
                       _contracts_alloc("Pool", pool_address, POOLS, POOL_ETHER,
                                        {"ether_reserve": POOL_ETHER, "token_reserve": POOL_TOKENS}),
                       _contracts_alloc("Collection", collection_address, COLLECTIONS, 0, {}),
                       _contract_workloads_alloc())


def blocks(name: str, txs: int, count: int, contention: float, seed: int,
           nonces: Optional[Nonces] = None, accounts: Optional[int] = None) -> List[List[bytes]]:
    """``count`` signed blocks of ``txs`` transactions sent by the first ``accounts`` wallets
    (default ``txs``: every sender sends once per block; fewer wallets take turns, so each
    sends several transactions per block, its nonce advancing); the same arguments give the
    same bytes.  Without ``nonces`` each block is valid on :func:`genesis` (each sender
    starting at nonce 0); with them the blocks are a chain, each valid on the state the
    previous one left (``nonces`` is advanced, so blocks of other workloads can follow)."""
    if not 0 <= contention <= 1:
        raise ValueError(f"contention must be between 0 and 1, got {contention}")
    if accounts is not None and accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    workload = get(name)
    rng = random.Random(f"{seed}/{name}/{contention}")
    wallets = w.wallets(min(accounts or txs, txs))
    senders = [wallets[i % len(wallets)] for i in range(txs)]
    return [workload.build(senders, contention, rng, {} if nonces is None else nonces) for _ in range(count)]
