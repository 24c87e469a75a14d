"""The process tests/test_crash.py kills: executes and commits blocks on an LMDB engine.

    python -m tests.crash_child DATA_DIR [SCHEDULER]

Opens (creating the genesis if needed) and prints ``ready NUMBER ROOT``; then, block after
block, ``exec N`` before executing, ``commit N ROOT`` before committing and ``done N ROOT``
after, until it is killed.  Block N's transactions depend only on N and the state below
it (:func:`block_txs`), so a crash-free replay gives the same chain.
"""
from __future__ import annotations

import sys
from typing import Dict, List

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.tools import workloads

ACCOUNTS = 40
GENESIS_TIME = 1_700_000_000
CONFIG = ChainConfig()


def env(number: int) -> BlockEnv:
    return BlockEnv(number=number, timestamp=GENESIS_TIME + 12 * number, base_fee=workloads.GWEI,
                    coinbase=b"\xc0" * 20, parent_beacon_block_root=number.to_bytes(32, "big"))


def block_txs(number: int, nonces: Dict[int, int]) -> List[bytes]:
    """Transfers and token transfers (storage writes, so commits touch many tries)."""
    offset = (number * 7) % ACCOUNTS
    chain_id = CONFIG.chain_id
    return (workloads.transfer_batch(12, ACCOUNTS, nonces, chain_id=chain_id, offset=offset)
            + workloads.erc20_batch(12, ACCOUNTS, nonces, chain_id=chain_id, offset=offset + 12))


def open_engine(path: str, scheduler: str = "sequential") -> Engine:
    engine = Engine.open(path, chain_config=CONFIG, scheduler=scheduler, workers=2 if scheduler != "sequential" else None)
    if engine.head.number < 0:
        engine.init_genesis(workloads.genesis_alloc(ACCOUNTS), timestamp=GENESIS_TIME)
    return engine


def nonces_of(engine: Engine) -> Dict[int, int]:
    return {i: engine.get_nonce(workloads.wallet(i).address) for i in range(ACCOUNTS)}


def replay(blocks: int) -> bytes:
    """The state root after ``blocks`` blocks, crash-free, in memory."""
    engine = Engine.in_memory(chain_config=CONFIG)
    engine.init_genesis(workloads.genesis_alloc(ACCOUNTS), timestamp=GENESIS_TIME)
    nonces = nonces_of(engine)
    for number in range(1, blocks + 1):
        engine.commit(engine.execute(env(number), block_txs(number, nonces)))
    return engine.head.state_root


def main(path: str, scheduler: str) -> None:
    engine = open_engine(path, scheduler)
    head = engine.head
    print(f"ready {head.number} {head.state_root.hex()}", flush=True)
    nonces = nonces_of(engine)
    number = head.number
    while True:
        number += 1
        print(f"exec {number}", flush=True)
        result = engine.execute(env(number), block_txs(number, nonces))
        print(f"commit {number} {result.state_root.hex()}", flush=True)
        engine.commit(result)
        print(f"done {number} {result.state_root.hex()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "sequential")
