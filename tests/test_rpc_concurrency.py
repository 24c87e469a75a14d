"""Readers run during writes and never see part of a block."""
from __future__ import annotations

import threading
import time

from hyperion import TxStatus
from hyperion.tools import workloads
from hyperion.rpc import Client

from tests.rpc_support import SUM_CONTRACT, env, running_server

ALICE, BOB = workloads.wallet(0), workloads.wallet(1)
PER_BLOCK = 5


def block_txs(number: int):
    """``PER_BLOCK`` fee-free transfers of 1 wei from Alice to Bob (base fee 0, gas price
    0), so Alice's nonce and Bob's balance move by exactly PER_BLOCK per block and the sum
    of both balances never changes."""
    start = (number - 1) * PER_BLOCK
    return [workloads.sign_tx(ALICE, start + i, BOB.address, value=1, tx_type=0, max_fee=0)
            for i in range(PER_BLOCK)]


def test_concurrent_readers_never_see_a_partial_block(tmp_path):
    blocks = 6
    with running_server(str(tmp_path / "data"), threads=16) as (server, client):
        target = f"127.0.0.1:{server.port}"
        bob_start = client.get_balance(BOB.address)
        total = client.get_balance(ALICE.address) + bob_start
        stop = threading.Event()
        writing = threading.Event()
        problems, reads, reads_while_writing = [], [0], [0]

        def reader() -> None:
            try:
                read_loop()
            except Exception as exc:  # a dead reader must fail the test, not vanish
                problems.append(f"reader failed: {exc!r}")

        def read_loop() -> None:
            with Client(target, timeout=30) as own:
                sum_call = Client.call_message(SUM_CONTRACT)
                while not stop.is_set():
                    during = writing.is_set()
                    nonce = own.get_nonce(ALICE.address)
                    if nonce % PER_BLOCK:
                        problems.append(f"Alice's nonce {nonce} is inside a block")
                    received = own.get_balance(BOB.address) - bob_start
                    if received % PER_BLOCK:
                        problems.append(f"Bob received {received} wei, inside a block")
                    call = own.call(sum_call)
                    if call.status is not TxStatus.SUCCESS or int.from_bytes(call.return_data, "big") != total:
                        problems.append(f"balance sum {int.from_bytes(call.return_data, 'big')} != {total}")
                    head = own.get_head().head
                    if head.number < 0:
                        problems.append("no head")
                    reads[0] += 1
                    if during and writing.is_set():
                        reads_while_writing[0] += 1

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for thread in threads:
            thread.start()
        number = 0
        try:
            # at least `blocks` blocks, and on until the readers have overlapped with writes
            while number < blocks or (reads_while_writing[0] < 3 and number < 40):
                number += 1
                writing.set()
                held = client.execute(env(number, base_fee=0), block_txs(number))
                assert [r.status for r in held.tx_results] == [TxStatus.SUCCESS] * PER_BLOCK
                client.commit(held)
                writing.clear()
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        assert not problems, problems[:5]
        assert client.get_nonce(ALICE.address) == number * PER_BLOCK
        assert client.get_balance(BOB.address) - bob_start == number * PER_BLOCK
        assert reads_while_writing[0] >= 3, "readers were blocked for the whole time blocks were being written"
