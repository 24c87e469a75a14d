"""``hyperion demo``: a few blocks of signed transactions on the default data directory."""
from __future__ import annotations

import time

import click
from rich.console import Console
from rich.table import Table

from hyperion import native
from hyperion.chain import ChainConfig
from hyperion.commands.options import data_dir_option, scheduler_option, workers_option
from hyperion.engine import Engine
from hyperion.tools import workloads
from hyperion.types import BlockEnv, TxStatus

DEMO_ACCOUNTS = 1000
BLOCK_TIME = 12
GENESIS_TIME = 1_700_000_000


def demo_block(engine: Engine, number: int, txs_per_block: int, nonces: dict) -> list:
    """Half ETH transfers, half ERC-20 transfers, from rotating demo wallets."""
    chain_id = engine.chain_config.chain_id
    half = txs_per_block // 2
    offset = (number * txs_per_block) % DEMO_ACCOUNTS
    txs = workloads.transfer_batch(half, DEMO_ACCOUNTS, nonces, chain_id=chain_id, offset=offset)
    txs += workloads.erc20_batch(txs_per_block - half, DEMO_ACCOUNTS, nonces, chain_id=chain_id, offset=offset + half)
    return txs


@click.command("demo")
@data_dir_option
@click.option("--blocks", default=5, show_default=True, type=click.IntRange(1, 10_000), help="Blocks to execute.")
@click.option("--txs", "txs_per_block", default=200, show_default=True, type=click.IntRange(1, 100_000),
              help="Transactions per block.")
@scheduler_option
@workers_option
@click.option("--ai", "ai", is_flag=True,
              help="Instead: deploy the AI example contracts and execute blocks of inference calls "
                   "(classification through the mlp precompile, top-k retrieval), with verified records.")
def command(data_dir: str, blocks: int, txs_per_block: int, scheduler: str, workers, ai: bool) -> None:
    """Create (or reuse) a chain and execute blocks of signed ETH and ERC-20 transfers
    (or, with --ai, of AI precompile calls)."""
    console = Console()
    with Engine.open(data_dir, scheduler=scheduler, workers=workers) as engine:
        if engine.head.number < 0:
            started = time.perf_counter()
            engine.init_genesis(workloads.genesis_alloc(DEMO_ACCOUNTS), chain_config=ChainConfig.hyperion_default(),
                                timestamp=GENESIS_TIME)
            console.print(f"created {data_dir}: genesis with {DEMO_ACCOUNTS} funded wallets and an ERC-20 token "
                          f"({time.perf_counter() - started:.2f}s)")
        else:
            console.print(f"reusing {data_dir} at block {engine.head.number}")
        from hyperion.evm import accountdb  # noqa: F401
        if scheduler != "sequential":
            console.print(f"started {engine.scheduler.workers} {scheduler} workers in {engine.warm_up():.2f}s")
        console.print(f"{engine.chain_config.describe()}, scheduler {scheduler}, native: {native.describe()}")
        if engine.startup_seconds:
            console.print("precompile warm-up at engine start: "
                          + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in engine.startup_seconds.items()))
        if ai:
            from hyperion.commands import ai_demo

            ai_demo.run(engine, console, blocks, txs_per_block, DEMO_ACCOUNTS)
            return
        nonces = {w.index: engine.get_nonce(w.address) for w in workloads.wallets(DEMO_ACCOUNTS)}

        table = Table(title="hyperion demo")
        for column in ("block", "txs", "invalid", "gas used", "time (s)", "tx/s", "state root"):
            table.add_column(column, justify="right" if column not in ("state root",) else "left")
        total_txs = 0
        total_time = 0.0
        for _ in range(blocks):
            number = engine.head.number + 1
            txs = demo_block(engine, number, txs_per_block, nonces)
            env = BlockEnv(number=number, timestamp=GENESIS_TIME + number * BLOCK_TIME,
                           coinbase=b"\xc0" + b"\x00" * 18 + b"\x01", base_fee=workloads.GWEI,
                           parent_beacon_block_root=number.to_bytes(32, "big"))
            started = time.perf_counter()
            result = engine.execute(env, txs)
            engine.commit(result)
            elapsed = time.perf_counter() - started
            invalid = sum(1 for r in result.tx_results if r.status is TxStatus.INVALID)
            total_txs += len(txs)
            total_time += elapsed
            table.add_row(str(number), str(len(txs)), str(invalid), f"{result.gas_used:,}", f"{elapsed:.3f}",
                          f"{len(txs) / elapsed:,.0f}", "0x" + result.state_root.hex())
            if invalid:
                first = next(r for r in result.tx_results if r.status is TxStatus.INVALID)
                console.print(f"[yellow]block {number}: {invalid} invalid, e.g. tx {first.index}: {first.error}")
        console.print(table)
        console.print(f"{total_txs} transactions in {total_time:.2f}s: {total_txs / total_time:,.0f} tx/s end to end "
                      f"(execute + state root + commit)")
