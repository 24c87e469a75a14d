"""``hyperion demo``: a few blocks of signed transactions on the default data directory."""
from __future__ import annotations

import sys
import time

import click
from rich.console import Console

from hyperion import native
from hyperion.chain import ChainConfig
from hyperion.commands import display
from hyperion.commands.options import data_dir_option, open_engine, quiet_option, scheduler_option, workers_option
from hyperion.engine import Engine
from hyperion.tools import workloads
from hyperion.types import BlockEnv, TxStatus

DEMO_ACCOUNTS = 1000
BLOCK_TIME = 12
GENESIS_TIME = 1_700_000_000
COLUMNS = ("block", "txs", "invalid", "gas used", "time (s)", "tx/s", "state root")


def demo_block(engine: Engine, number: int, txs_per_block: int, nonces: dict) -> list:
    """Half ETH transfers, half ERC-20 transfers, from rotating demo wallets."""
    chain_id = engine.chain_config.chain_id
    half = txs_per_block // 2
    offset = (number * txs_per_block) % DEMO_ACCOUNTS
    txs = workloads.transfer_batch(half, DEMO_ACCOUNTS, nonces, chain_id=chain_id, offset=offset)
    txs += workloads.erc20_batch(txs_per_block - half, DEMO_ACCOUNTS, nonces, chain_id=chain_id, offset=offset + half)
    return txs


def demo_env(number: int) -> BlockEnv:
    return BlockEnv(number=number, timestamp=GENESIS_TIME + number * BLOCK_TIME,
                    coinbase=b"\xc0" + b"\x00" * 18 + b"\x01", base_fee=workloads.GWEI,
                    parent_beacon_block_root=number.to_bytes(32, "big"))


def interrupted(console: Console, engine: Engine, first_head: int) -> None:
    """Ctrl-C: say what was committed (each block commit is one LMDB transaction, so the data
    directory holds whole blocks only) and exit 130 like any interrupted command."""
    head = engine.head.number
    committed = max(head, 0) - max(first_head, 0)
    where = f"head is block {head}" if head >= 0 else "no genesis yet"
    console.print(f"[yellow]interrupted: {committed} block{'s' if committed != 1 else ''} committed ({where}); "
                  "the data directory holds whole blocks only")
    sys.exit(130)


def start(console: Console, engine: Engine, data_dir: str, scheduler: str, show: bool) -> None:
    """Genesis on a fresh data directory, the workers, and what the chain runs on."""
    if engine.head.number < 0:
        started = time.perf_counter()
        with display.status(console, show, "writing the genesis (1,000 funded wallets, an ERC-20 token)"):
            engine.init_genesis(workloads.genesis_alloc(DEMO_ACCOUNTS), chain_config=ChainConfig.hyperion_default(),
                                timestamp=GENESIS_TIME)
        console.print(f"created {data_dir}: genesis with {DEMO_ACCOUNTS} funded wallets and an ERC-20 token "
                      f"({time.perf_counter() - started:.2f}s)")
    else:
        console.print(f"reusing {data_dir} at block {engine.head.number}")
    from hyperion.evm import accountdb  # noqa: F401  (loads the implementation native.describe() reports)
    if scheduler != "sequential":
        with display.status(console, show, f"starting the {scheduler} workers"):
            seconds = engine.warm_up()
        console.print(f"started {engine.scheduler.workers} {scheduler} workers in {seconds:.2f}s")
    console.print(f"{engine.chain_config.describe()}, scheduler {scheduler}, native: {native.describe()}")
    if engine.startup_seconds:
        console.print("precompile warm-up at engine start: "
                      + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in engine.startup_seconds.items()))


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
@quiet_option
def command(data_dir: str, blocks: int, txs_per_block: int, scheduler: str, workers, ai: bool, quiet: bool) -> None:
    """Create (or reuse) a chain and execute blocks of signed ETH and ERC-20 transfers
    (or, with --ai, of AI precompile calls).

    Shows a progress bar on a terminal; Ctrl-C stops after the block being committed and
    says how many were.
    """
    console = Console(soft_wrap=True)  # long lines stay whole in logs; tables fit the width
    show = display.show_progress(console, quiet)
    with display.status(console, show, "opening the data directory (the AI kernels load on a Hyperion chain)"):
        engine = open_engine(data_dir, scheduler=scheduler, workers=workers)
    with engine:
        first_head = engine.head.number
        try:
            start(console, engine, data_dir, scheduler, show)
            if ai:
                from hyperion.commands import ai_demo

                ai_demo.run(engine, console, blocks, txs_per_block, DEMO_ACCOUNTS, show=show)
            else:
                run(engine, console, blocks, txs_per_block, show)
        except KeyboardInterrupt:
            interrupted(console, engine, first_head)


def run(engine: Engine, console: Console, blocks: int, txs_per_block: int, show: bool) -> None:
    nonces = {w.index: engine.get_nonce(w.address) for w in workloads.wallets(DEMO_ACCOUNTS)}
    rows = []
    total_txs = 0
    total_time = 0.0
    try:
        with display.progress(console, show, "demo") as bar:
            task = bar.add_task("", total=blocks)
            for _ in range(blocks):
                number = engine.head.number + 1
                txs = demo_block(engine, number, txs_per_block, nonces)
                started = time.perf_counter()
                result = engine.execute(demo_env(number), txs)
                engine.commit(result)
                elapsed = time.perf_counter() - started
                invalid = sum(1 for r in result.tx_results if r.status is TxStatus.INVALID)
                total_txs += len(txs)
                total_time += elapsed
                rows.append((str(number), str(len(txs)), str(invalid), f"{result.gas_used:,}", f"{elapsed:.3f}",
                             f"{len(txs) / elapsed:,.0f}", "0x" + result.state_root.hex()))
                bar.update(task, advance=1, description=f"block {number}: {len(txs) / elapsed:,.0f} tx/s")
                if invalid:
                    first = next(r for r in result.tx_results if r.status is TxStatus.INVALID)
                    bar.console.print(f"[yellow]block {number}: {invalid} invalid, e.g. tx {first.index}: "
                                      f"{first.error}")
    finally:  # also on Ctrl-C: the blocks that were committed
        if rows:
            console.print(display.table(console, "hyperion demo", COLUMNS, rows, hash_columns=("state root",)))
    console.print(f"{total_txs} transactions in {total_time:.2f}s: {total_txs / total_time:,.0f} tx/s end to end "
                  f"(execute + state root + commit)")
