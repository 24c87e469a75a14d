"""State-root benchmark: Hyperion's trie (``hyperion.state.trie.mpt``) against py-trie, side by side.

    python benchmarks/bench_trie.py                 # states of 10k and 100k accounts
    python benchmarks/bench_trie.py --big           # also 1M accounts (a few minutes to set up)
    python benchmarks/bench_trie.py --sizes 10000 --changed 500 --repeat 3

For each state size a temporary LMDB store is filled with N accounts (flat records and
path-keyed trie nodes, as the engine keeps them) and, for py-trie, an LMDB table of the
same nodes keyed by hash (what the py-trie code on ``main`` used).  Then, for ``--repeat``
different blocks that each change ``--changed`` existing accounts (nonce + 1, new
balance) and, in the storage column, write ``--slots`` storage slots of 100 contracts,
both compute the new state root from the same snapshot, in the same process, one after
the other; the roots must agree.  Timings are the median over the blocks:

- ``py-trie``: the py-trie implementation on ``main`` (hash-keyed nodes in LMDB).
- ``hyperion``: ``hyperion.state.trie.stateroot.compute_state_root`` (the engine's path).
- ``+commit``: ``hyperion`` plus writing the block (flat state, nodes, change set with the
  superseded nodes) into the store's write transaction, aborted afterwards so every block
  starts from the same state.
- ``nodes/block``: trie nodes the block writes or deletes (about the nodes it loads).

Both wall-clock and process CPU time are shown: on a shared machine the CPU time is the
steadier of the two.

``HYPERION_PUREPYTHON=1`` measures the pure-Python twin instead of the compiled module.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import lmdb
import rlp
from eth_hash.auto import keccak
from trie import HexaryTrie

from hyperion import native
from hyperion.state import codec
from hyperion.state.kv import LmdbTxn
from hyperion.state.trie.stateroot import compute_state_root
from hyperion.state.store import Store
from hyperion.types import BLANK_ROOT, EMPTY_CODE_HASH, Account, StateDiff

CONTRACTS = 100


# -- the baseline: main's py-trie state root (hash-keyed nodes) ------------------------------------
class _NodeDB:
    """dict-like node store for py-trie: new nodes in a dict, old ones from a lookup."""

    __slots__ = ("lookup", "writes")

    def __init__(self, lookup, writes) -> None:
        self.lookup = lookup
        self.writes = writes

    def __getitem__(self, key):
        value = self.writes.get(key)
        if value is None:
            value = self.lookup(key)
            if value is None:
                raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        self.writes[key] = value

    def __contains__(self, key):
        return key in self.writes or self.lookup(key) is not None

    def __delitem__(self, key):
        pass


def pytrie_state_root(prev_root, diff: StateDiff, accounts_before, nodes) -> Tuple[bytes, Dict]:
    """``compute_state_root`` as it was on main (py-trie ``HexaryTrie``, ``squash_changes``)."""
    writes: Dict[bytes, bytes] = {}
    db = _NodeDB(nodes, writes)
    touched = set(diff.accounts) | set(diff.storage) | set(diff.wiped)
    state_trie = HexaryTrie(db, prev_root)
    with state_trie.squash_changes() as batch:
        for address in sorted(touched):
            before = accounts_before(address)
            if address in diff.accounts:
                after = diff.accounts[address]
                if after is None:
                    batch.delete(keccak(address))
                    continue
                nonce, balance, code_hash = after.nonce, after.balance, after.code_hash
            else:
                nonce, balance, code_hash = before[:3] if before is not None else (0, 0, EMPTY_CODE_HASH)
            storage_root = BLANK_ROOT if (address in diff.wiped or before is None) else before[3]
            slots = diff.storage.get(address)
            if slots or address in diff.wiped:
                storage_trie = HexaryTrie(db, storage_root)
                with storage_trie.squash_changes() as storage_batch:
                    for slot in sorted(slots or ()):
                        key = keccak(slot.to_bytes(32, "big"))
                        value = slots[slot]
                        if value:
                            storage_batch[key] = rlp.encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))
                        else:
                            storage_batch.delete(key)
                storage_root = storage_trie.root_hash
            batch[keccak(address)] = rlp.encode([nonce, balance, storage_root, code_hash])
    return state_trie.root_hash, writes


# -- state set-up ---------------------------------------------------------------------------------
def address_of(i: int) -> bytes:
    return keccak(b"bench-account" + i.to_bytes(8, "big"))[:20]


def contract_of(i: int) -> bytes:
    return keccak(b"bench-contract" + i.to_bytes(8, "big"))[:20]


class BenchState:
    """N accounts (plus CONTRACTS contracts with storage) in a store and a py-trie node table."""

    def __init__(self, n: int, directory: str, chunk: int = 100_000, contract_slots: int = 1000, log=print) -> None:
        self.n = n
        self.store = Store.open_lmdb(os.path.join(directory, "store"), map_size=1 << 38)
        self.hash_env = lmdb.open(os.path.join(directory, "hash-keyed"), map_size=1 << 38, max_dbs=1,
                                  sync=False, metasync=False)
        self.root = BLANK_ROOT
        code_hash = keccak(b"\x60\x00")
        started = time.perf_counter()
        done = 0
        while done < n:
            upto = min(n, done + chunk)
            diff = StateDiff()
            for i in range(done, upto):
                diff.accounts[address_of(i)] = Account(nonce=i % 7, balance=10**18 + i)
            if done == 0:
                for c in range(CONTRACTS):
                    diff.accounts[contract_of(c)] = Account(nonce=1, balance=0, code_hash=code_hash)
                    diff.storage[contract_of(c)] = {slot: slot + 1 for slot in range(contract_slots)}
            self._apply(diff)
            done = upto
        log(f"  state of {n:,} accounts: set up in {time.perf_counter() - started:.1f}s, "
            f"{self.store.stats()['trie']:,} trie nodes")

    def _apply(self, diff: StateDiff) -> None:
        reader = self.store.reader()
        try:
            update = compute_state_root(self.root, diff, reader.account_record, reader.trie_lookup())
        finally:
            reader.close()
        with self.store.backend.write() as txn:
            for address, record in update.records.items():
                txn.put("accounts", address, codec.encode_account(*record))
            Store._apply_nodes(txn, update, None)
        with self.hash_env.begin(write=True) as txn:
            for node in update.nodes.values():
                if node is not None:
                    txn.put(node[:32], node[32:])  # stored value = hash + rlp
        self.root = update.root

    def close(self) -> None:
        self.store.close()
        self.hash_env.close()


def make_block(n: int, changed: int, slots: int, seed: int) -> StateDiff:
    rng = random.Random(seed)
    diff = StateDiff()
    for i in sorted(rng.sample(range(n), changed)):
        diff.accounts[address_of(i)] = Account(nonce=i % 7 + 1, balance=rng.randrange(10**20))
    if slots:
        for _ in range(slots):
            contract = contract_of(rng.randrange(CONTRACTS))
            diff.storage.setdefault(contract, {})[rng.randrange(2000)] = rng.randrange(2**64)
    return diff


def run_block(state: BenchState, diff: StateDiff) -> Dict[str, float]:
    """One block, both ways, from the same snapshot: wall-clock and process CPU seconds."""
    clock, cpu = time.perf_counter, time.process_time
    reader = state.store.reader()
    hash_txn = state.hash_env.begin(buffers=False)
    try:
        w0, c0 = clock(), cpu()
        old_root, _ = pytrie_state_root(state.root, diff, reader.account_record, hash_txn.get)
        w1, c1 = clock(), cpu()
        update = compute_state_root(state.root, diff, reader.account_record, reader.trie_lookup())
        w2, c2 = clock(), cpu()
    finally:
        hash_txn.abort()
        reader.close()
    if update.root != old_root:
        raise AssertionError(f"roots differ: py-trie {old_root.hex()} hyperion {update.root.hex()}")
    # commit into a write transaction that is then aborted (the next block starts from the same state)
    backend = state.store.backend
    raw = backend.env.begin(write=True)
    try:
        w3 = clock()
        state.store._apply_diff(LmdbTxn(raw, backend.dbs), diff, update, {"accounts": {}, "storage": {}, "wiped": {}})
        w4 = clock()
    finally:
        raw.abort()
    return {"pytrie": w1 - w0, "hyperion": w2 - w1, "pytrie_cpu": c1 - c0, "hyperion_cpu": c2 - c1,
            "commit": w4 - w3, "nodes": len(update.nodes)}


def bench(sizes: List[int], changed: int, slots: int, repeat: int, contract_slots: int = 1000, log=print) -> List[Dict]:
    rows = []
    for n in sizes:
        directory = tempfile.mkdtemp(prefix=f"hyperion-bench-trie-{n}-")
        try:
            state = BenchState(n, directory, contract_slots=contract_slots, log=log)
            try:
                for label, slot_count in (("accounts", 0), ("accounts+storage", slots)):
                    if label != "accounts" and not slot_count:
                        continue
                    runs = [run_block(state, make_block(n, changed, slot_count, seed)) for seed in range(repeat)]
                    keys = changed + slot_count
                    row = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                    row.update(n=n, block=label, changed=changed, slots=slot_count, keys=keys)
                    rows.append(row)
            finally:
                state.close()
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    return rows


def format_table(rows: List[Dict]) -> str:
    head = (f"{'state':>9} {'block':>16} {'keys':>5} | {'py-trie':>8} {'hyperion':>8} {'speedup':>7} | "
            f"{'py-trie':>8} {'hyperion':>8} {'speedup':>7} | {'nodes':>6} | {'+commit':>8}")
    unit = (f"{'accounts':>9} {'':>16} {'':>5} | {'us/key, wall clock':^33} | {'us/key, process CPU time':^33} | "
            f"{'/block':>6} | {'us/key':>8}")
    lines = [head, unit, "-" * len(head)]
    for r in rows:
        k = r["keys"]
        lines.append(
            f"{r['n']:>9,} {r['block']:>16} {k:>5} | {r['pytrie'] * 1e6 / k:>8.1f} {r['hyperion'] * 1e6 / k:>8.1f} "
            f"{r['pytrie'] / r['hyperion']:>6.1f}x | {r['pytrie_cpu'] * 1e6 / k:>8.1f} "
            f"{r['hyperion_cpu'] * 1e6 / k:>8.1f} {r['pytrie_cpu'] / r['hyperion_cpu']:>6.1f}x | {r['nodes']:>6.0f} | "
            f"{(r['hyperion'] + r['commit']) * 1e6 / k:>8.1f}"
        )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="accounts in the state")
    parser.add_argument("--big", action="store_true", help="add a state of 1,000,000 accounts")
    parser.add_argument("--changed", type=int, default=2000, help="accounts changed per block")
    parser.add_argument("--slots", type=int, default=2000, help="storage slots written per block (0: skip)")
    parser.add_argument("--repeat", type=int, default=5, help="blocks per configuration (median)")
    parser.add_argument("--contract-slots", type=int, default=1000, help="storage slots of each of the 100 contracts")
    args = parser.parse_args(argv)
    sizes = list(args.sizes) + ([1_000_000] if args.big else [])
    from hyperion.state.trie import mpt as _loaded  # noqa: F401

    print(f"state-root benchmark: native modules {native.describe()}, python {sys.version.split()[0]}, "
          f"{args.changed} changed accounts per block, median of {args.repeat} blocks")
    rows = bench(sizes, args.changed, args.slots, args.repeat, args.contract_slots)
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
