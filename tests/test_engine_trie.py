"""The engine's state root, pipelining, revert and eth_getProof on real transactions.

The oracle is py-trie: roots are recomputed from scratch from the store's flat tables, and
proofs are checked with ``HexaryTrie.get_from_proof`` against the block's state root.
"""
from __future__ import annotations

import pytest
import rlp
from eth_hash.auto import keccak
from trie import HexaryTrie

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads
from hyperion.errors import UnknownBlockError
from hyperion.types import BLANK_ROOT, EMPTY_CODE_HASH

from tests.test_stateroot import check_store, flat_root, reachable_nodes, table

WALLETS = 12


def env(number: int) -> BlockEnv:
    return BlockEnv(number=number, timestamp=1_700_000_000 + 12 * number, base_fee=10**9)


def new_engine(kind: str, tmp_path) -> Engine:
    config = ChainConfig()
    if kind == "memory":
        engine = Engine.in_memory(chain_config=config, revert_depth=8)
    else:
        engine = Engine.open(str(tmp_path / "data"), chain_config=config, revert_depth=8)
    engine.init_genesis(workloads.genesis_alloc(WALLETS))
    return engine


def block_txs(number: int, nonces: dict) -> list:
    """ETH transfers to new accounts and ERC-20 transfers (new storage slots, changed ones)."""
    txs = workloads.transfer_batch(4, WALLETS, nonces, offset=number * 4)
    txs += workloads.erc20_batch(4, WALLETS, nonces, offset=number * 4 + 2)
    return txs


def big_endian(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def verify_proof(proof, root: bytes) -> None:
    """Check an AccountProof with py-trie's verifier, independently of Hyperion's trie."""
    hashed = keccak(proof.address)
    leaf = HexaryTrie.get_from_proof(root, hashed, [rlp.decode(n) for n in proof.account_proof])
    if leaf == b"":
        assert (proof.nonce, proof.balance, proof.code_hash, proof.storage_hash) == (0, 0, EMPTY_CODE_HASH, BLANK_ROOT)
    else:
        assert rlp.decode(leaf) == [big_endian(proof.nonce), big_endian(proof.balance), proof.storage_hash,
                                    proof.code_hash]
    for entry in proof.storage_proof:
        key = keccak(entry.key.to_bytes(32, "big"))
        if proof.storage_hash == BLANK_ROOT:
            assert entry.proof == () and entry.value == 0
            continue
        value = HexaryTrie.get_from_proof(proof.storage_hash, key, [rlp.decode(n) for n in entry.proof])
        assert (rlp.decode(value) if value else b"") == big_endian(entry.value)


@pytest.mark.parametrize("kind", ["memory", "lmdb"])
def test_committed_roots_match_pytrie_and_revert_restores_them(kind, tmp_path):
    engine = new_engine(kind, tmp_path)
    try:
        roots = {0: engine.head.state_root}
        check_store(engine.store, roots[0])
        nonces: dict = {}
        for number in range(1, 5):
            result = engine.execute(env(number), block_txs(number, nonces))
            assert all(r.included for r in result.tx_results)
            engine.commit(result)
            roots[number] = result.state_root
            check_store(engine.store, result.state_root)
        assert len(set(roots.values())) == len(roots)
        engine.revert_to(2)
        check_store(engine.store, roots[2])
        engine.revert_to(0)
        check_store(engine.store, roots[0])
        # and the chain moves on from the reverted head
        result = engine.execute(env(1), block_txs(1, {}))
        assert result.state_root == roots[1]
        engine.commit(result)
        check_store(engine.store, roots[1])
    finally:
        engine.close()


def test_pipelined_blocks_give_the_roots_of_sequential_ones(tmp_path):
    sequential = new_engine("memory", tmp_path)
    pipelined = new_engine("lmdb", tmp_path)
    try:
        nonces_a: dict = {}
        nonces_b: dict = {}
        roots = []
        for number in range(1, 5):
            result = sequential.execute(env(number), block_txs(number, nonces_a))
            sequential.commit(result)
            roots.append(result.state_root)
        # four blocks deep before the first commit
        pending = []
        parent = None
        for number in range(1, 5):
            parent = pipelined.execute(env(number), block_txs(number, nonces_b), parent=parent)
            pending.append(parent)
        assert [p.state_root for p in pending] == roots
        # proofs at a pending block verify against its root (its nodes are not in the store yet)
        for block in pending:
            proof = pipelined.get_proof(workloads.TOKEN_ADDRESS, [0, 1, workloads.token_balance_slot(
                workloads.wallet(3).address)], at=block)
            assert proof.state_root == block.state_root
            verify_proof(proof, block.state_root)
        for block in pending:
            pipelined.commit(block)
            check_store(pipelined.store, block.state_root)
        assert pipelined.head.state_root == roots[-1]
        with pytest.raises(UnknownBlockError):
            pipelined.get_proof(workloads.wallet(0).address, at=pending[0])
    finally:
        sequential.close()
        pipelined.close()


@pytest.mark.parametrize("kind", ["memory", "lmdb"])
def test_get_proof_matches_the_state_and_verifies(kind, tmp_path):
    engine = new_engine(kind, tmp_path)
    try:
        nonces: dict = {}
        result = engine.execute(env(1), block_txs(1, nonces))
        engine.commit(result)
        root = engine.head.state_root
        token = workloads.TOKEN_ADDRESS
        holder = workloads.wallet(2).address
        slots = [workloads.token_balance_slot(holder), 0, 5, 2**256 - 1,
                 workloads.token_balance_slot(holder).to_bytes(32, "big")]
        proof = engine.get_proof(token, slots)
        verify_proof(proof, root)
        account = engine.get_account(token)
        assert (proof.nonce, proof.balance, proof.code_hash) == (account.nonce, account.balance, account.code_hash)
        assert proof.storage_hash != BLANK_ROOT
        assert [p.value for p in proof.storage_proof] == [
            engine.get_storage(token, workloads.token_balance_slot(holder)),
            engine.get_storage(token, 0), engine.get_storage(token, 5), 0,
            engine.get_storage(token, workloads.token_balance_slot(holder)),
        ]
        assert proof.storage_proof[0].value > 0
        # an EOA, and an account that does not exist
        for address in (workloads.wallet(1).address, b"\x42" * 20):
            p = engine.get_proof(address, [1])
            verify_proof(p, root)
            assert p.balance == engine.get_balance(address)
            assert p.nonce == engine.get_nonce(address)
        missing = engine.get_proof(b"\x42" * 20, [1])
        assert missing.storage_hash == BLANK_ROOT and missing.account_proof
        rpc = proof.to_rpc()
        assert set(rpc) == {"address", "balance", "nonce", "codeHash", "storageHash", "accountProof", "storageProof"}
        assert set(rpc["storageProof"][0]) == {"key", "value", "proof"}
        assert rpc["accountProof"][0] == "0x" + proof.account_proof[0].hex()
        assert keccak(proof.account_proof[0]) == root
    finally:
        engine.close()


def test_store_holds_only_the_head_trie_after_many_blocks(tmp_path):
    """Superseded nodes live in change sets and are pruned with them (docs/design.md §8)."""
    engine = Engine.open(str(tmp_path / "data"), chain_config=ChainConfig(), revert_depth=2)
    try:
        engine.init_genesis(workloads.genesis_alloc(WALLETS))
        nonces: dict = {}
        for number in range(1, 7):
            engine.commit(engine.execute(env(number), block_txs(number, nonces)))
            head = engine.head
            assert table(engine.store, "trie") == reachable_nodes(engine.store, head.state_root)
            assert len(table(engine.store, "changesets")) == min(number, 2)
        assert flat_root(engine.store) == engine.head.state_root
    finally:
        engine.close()
