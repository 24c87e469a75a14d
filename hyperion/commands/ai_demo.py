"""``hyperion demo --ai``: the AI precompiles end to end on a data directory.

Deploys the example contracts with signed transactions (a 64-32-10 MLP model and a
256-vector set as data contracts, ``Classifier.vy`` with the model registered,
``Retrieval.vy``), then executes blocks where half the transactions classify noisy
samples through the ``mlp`` precompile and half answer nearest-neighbour queries through
``topk``.  For each block it prints the gas, time, how many answers were right and the
inference records, and checks the records with ``hyperion.precompiles.verify``.
"""
from __future__ import annotations

import time

from rich.console import Console

from hyperion.commands import display
from hyperion.engine import Engine
from hyperion.errors import ChainConfigError
from hyperion.precompiles import verify
from hyperion.precompiles.ai import examples as ex
from hyperion.tools import workloads
from hyperion.types import BlockEnv, TxStatus

BLOCK_TIME = 12
GENESIS_TIME = 1_700_000_000


def ai_block(engine: Engine, deployment: ex.Deployment, number: int, count: int, accounts: int, nonces: dict):
    """``count`` signed txs: classify (even positions) and retrieve (odd); with the expected answers."""
    chain_id = engine.chain_config.chain_id
    txs, expected = [], []
    for i in range(count):
        sender = workloads.wallet((number * count + i) % accounts)
        nonce = nonces.setdefault(sender.index, engine.get_nonce(sender.address))
        nonces[sender.index] = nonce + 1
        salt = number * 100_000 + i
        if i % 2 == 0:
            label = salt % ex.N_CLASSES
            data = ex.classify_data(deployment.model_id, ex.sample_input(label, salt))
            txs.append(workloads.sign_tx(sender, nonce, deployment.classifier, data=data, gas=200_000,
                                         chain_id=chain_id))
            expected.append(label)
        else:
            target = (salt * 7919) % ex.VECTOR_COUNT
            data = ex.answer_data(ex.near_query(target, salt), 3)
            txs.append(workloads.sign_tx(sender, nonce, deployment.retrieval, data=data, gas=300_000,
                                         chain_id=chain_id))
            expected.append(target)
    return txs, expected


COLUMNS = ("block", "txs", "gas used", "time (s)", "classified ok", "retrieved ok", "records", "verify")


def run(engine: Engine, console: Console, blocks: int, txs_per_block: int, accounts: int, show: bool = False) -> None:
    if not any(name.split("@")[0] == "ai" for name in engine.chain_config.extra_precompiles):
        raise ChainConfigError(
            f"{engine.store.path} holds {engine.chain_config.describe()} without the AI precompiles; "
            "use a fresh --data-dir for `hyperion demo --ai`"
        )
    from hyperion.precompiles.ai import backend

    with display.status(console, show, "loading the AI kernels"):
        startup = backend.warm_up()
    console.print(f"AI kernels: {startup['backend']}, ready at engine start in "
                  f"{engine.startup_seconds.get('ai', startup['seconds']):.2f}s "
                  f"(numba cache hits {startup.get('cache_hits', 0)}, misses {startup.get('cache_misses', 0)})")
    addresses = ex.addresses_of(engine)
    console.print("precompiles: " + ", ".join(f"{name} 0x{a[-2:].hex()}" for name, a in addresses.items()))
    started = time.perf_counter()
    with display.status(console, show, "deploying the example model, vector set and contracts"):
        deployment = ex.deploy_examples(engine, workloads.wallet(0), timestamp=GENESIS_TIME, block_time=BLOCK_TIME)
    console.print(f"deployed in {time.perf_counter() - started:.2f}s: model 0x{deployment.model.hex()} "
                  f"(id {deployment.model_id}), vector set 0x{deployment.vectors.hex()}, "
                  f"Classifier 0x{deployment.classifier.hex()}, Retrieval 0x{deployment.retrieval.hex()}")

    rows = []
    nonces: dict = {}
    all_ok = True
    last = None
    try:
        with display.progress(console, show, "demo --ai") as bar:
            task = bar.add_task("", total=blocks)
            for _ in range(blocks):
                number = engine.head.number + 1
                txs, expected = ai_block(engine, deployment, number, txs_per_block, accounts, nonces)
                env = BlockEnv(number=number, timestamp=GENESIS_TIME + number * BLOCK_TIME, base_fee=workloads.GWEI,
                               parent_beacon_block_root=number.to_bytes(32, "big"))
                started = time.perf_counter()
                result = engine.execute(env, txs)
                engine.commit(result)
                elapsed = time.perf_counter() - started
                labels = [ex.decode_uint(r.return_data) if r.status is TxStatus.SUCCESS else None
                          for r in result.tx_results]
                classified = sum(1 for i, got in enumerate(labels) if i % 2 == 0 and got == expected[i])
                retrieved = sum(1 for i, got in enumerate(labels) if i % 2 == 1 and got == expected[i])
                report = verify(result.inference_records, engine)
                all_ok = all_ok and report.ok
                rows.append((str(number), str(len(txs)), f"{result.gas_used:,}", f"{elapsed:.3f}",
                             f"{classified}/{(len(txs) + 1) // 2}", f"{retrieved}/{len(txs) // 2}",
                             str(len(result.inference_records)),
                             "ok" if report.ok else f"{len(report.mismatches)} bad"))
                bar.update(task, advance=1, description=f"block {number}")
                last = result
    finally:  # also on Ctrl-C: the blocks that were committed
        if rows:
            console.print(display.table(console, "hyperion demo --ai", COLUMNS, rows))
    if last is not None and last.inference_records:
        record = last.inference_records[0]
        console.print(f"a record: tx {record.tx_index}, {record.precompile} @0x{record.address[-2:].hex()}, "
                      f"model code 0x{record.model_code_hash.hex()[:16]}.., input {len(record.input)} bytes, "
                      f"output hash 0x{record.output_hash.hex()[:16]}.., gas {record.gas}")
    console.print("all inference records verified" if all_ok else "[red]some inference records did not verify")
