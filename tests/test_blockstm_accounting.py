"""Honest parallel accounting: ``ParallelScheduler.parallel_blocks`` counts only the blocks
the workers finished without any fallback, whether the fallback came before the workers
started (a small block) or after (the block gas limit found in the fold)."""
from __future__ import annotations

from hyperion import BlockEnv, ChainConfig, Engine
from tests.test_blockstm import COINBASE, GWEI, block_env, build_batch, genesis


def test_only_blocks_the_workers_finished_count_as_parallel():
    config = ChainConfig(system_contracts=True)
    with Engine.in_memory(chain_config=config, scheduler="blockstm", workers=2,
                          scheduler_options={"min_txs": 4}) as engine:
        engine.init_genesis(genesis())
        scheduler = engine.scheduler
        stores = build_batch([("store", i, i, i) for i in range(30)], "none", config.chain_id)

        small = engine.execute(block_env(), stores[:2])  # below min_txs: never reaches the workers
        engine.discard(small)
        assert "below the parallel threshold" in small.stats.fallback and scheduler.parallel_blocks == 0

        # the workers run the block, but the fold stops at the block gas limit: not parallel
        tight = BlockEnv(number=1, timestamp=1_700_000_012, coinbase=COINBASE, base_fee=GWEI, gas_limit=1_000_000,
                         parent_beacon_block_root=b"\x01" * 32)
        limited = engine.execute(tight, stores)
        engine.discard(limited)
        assert "block gas limit" in limited.stats.fallback and scheduler.parallel_blocks == 0

        clean = engine.execute(block_env(), stores)
        assert clean.stats.fallback is None and scheduler.parallel_blocks == 1
