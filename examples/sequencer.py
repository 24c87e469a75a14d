"""Example sequencer: drives ``hyperion serve`` over gRPC.

    hyperion serve --data-dir ./hyperion-data &            # fresh directory: demo genesis
    python examples/sequencer.py --target 127.0.0.1:50051 --blocks 20 --txs-per-block 500

It uses the demo genesis wallets (1,000 funded accounts and the ERC-20 token at
``workloads.TOKEN_ADDRESS``).  On a chain without them, ``--funder-key HEX`` names a funded
account: it deploys the token and funds the wallets first, in two blocks.

Blocks of signed ETH transfers and ERC-20 ``transfer`` calls are streamed on one
ExecuteStream, pipelined: block N+1 is executed on held block N (``parent_is_previous``)
while the sequencer looks at N's result and commits it.  Prints one line per block and
the overall rate.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Dict, List, Optional

from hyperion import BlockEnv, TxStatus
from hyperion.rpc import Client, RpcError
from hyperion.tools import workloads

GENESIS_TIME = 1_700_000_000
COINBASE = b"\xc0" + b"\x00" * 18 + b"\x01"


class StreamStopped(Exception):
    """The stream ended before every block was committed (the server drained or went away)."""


def block_env(number: int, gas_limit: int = 30_000_000) -> BlockEnv:
    return BlockEnv(number=number, timestamp=GENESIS_TIME + 12 * number, coinbase=COINBASE, base_fee=workloads.GWEI,
                    gas_limit=gas_limit, parent_beacon_block_root=number.to_bytes(32, "big"))


def block_txs(number: int, count: int, accounts: int, nonces: Dict[int, int], chain_id: int,
              token: bytes) -> List[bytes]:
    """Half ETH transfers, half ERC-20 transfers, from rotating wallets: the same blocks
    as ``hyperion demo`` (so on a fresh data directory the state roots match the demo's)."""
    half = count // 2
    offset = (number * count) % accounts
    txs = workloads.transfer_batch(half, accounts, nonces, chain_id=chain_id, offset=offset)
    if token == workloads.TOKEN_ADDRESS:
        return txs + workloads.erc20_batch(count - half, accounts, nonces, chain_id=chain_id, offset=offset + half)
    for i in range(count - half):  # the same, to a token deployed by --funder-key
        sender = workloads.wallet((offset + half + i) % accounts)
        nonce = nonces.get(sender.index, 0)
        nonces[sender.index] = nonce + 1
        receiver = (0xBEEF000000 + offset + half + i).to_bytes(20, "big")
        txs.append(workloads.sign_tx(sender, nonce, token, data=workloads.erc20_transfer_data(receiver, 1 + i),
                                     gas=80_000, chain_id=chain_id))
    return txs


def fund(client: Client, funder_key: str, accounts: int, chain_id: int) -> bytes:
    """Deploy the demo token from the funder and give every wallet ETH and tokens."""
    from eth_keys import keys

    funder = workloads.Wallet(-1, keys.PrivateKey(bytes.fromhex(funder_key.removeprefix("0x"))))
    nonce = client.get_nonce(funder.address)
    wallets = workloads.wallets(accounts)
    number = client.head.number + 1
    deploy = workloads.sign_tx(funder, nonce, None, data=workloads.token_init_code(), gas=3_000_000,
                               chain_id=chain_id)
    gifts = [workloads.sign_tx(funder, nonce + 1 + i, w.address, value=10 * workloads.ETHER, chain_id=chain_id)
             for i, w in enumerate(wallets)]
    first = client.execute(block_env(number, 21_000 * accounts + 3_000_000), [deploy] + gifts, mode="commit")
    invalid = [r for r in first.tx_results if r.status is not TxStatus.SUCCESS]
    if invalid:
        sys.exit(f"funding failed: transaction {invalid[0].index}: {invalid[0].status.value} {invalid[0].error}")
    token = first.tx_results[0].contract_address
    nonce += 1 + accounts
    tokens = [workloads.sign_tx(funder, nonce + i, token, data=workloads.erc20_transfer_data(w.address, 10**22),
                                gas=80_000, chain_id=chain_id) for i, w in enumerate(wallets)]
    second = client.execute(block_env(number + 1, 80_000 * accounts), tokens, mode="commit")
    if any(r.status is not TxStatus.SUCCESS for r in second.tx_results):
        sys.exit("funding failed: token transfers did not all succeed")
    print(f"funded {accounts} wallets from 0x{funder.address.hex()}; token at 0x{token.hex()}")
    return token


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051", help="HOST:PORT of hyperion serve")
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--txs-per-block", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=1000, help="demo wallets to send from (at most 1000)")
    parser.add_argument("--depth", type=int, default=2, help="blocks in flight on the stream (pipelining)")
    parser.add_argument("--token-file", help="bearer token file (else $HYPERION_RPC_TOKEN)")
    parser.add_argument("--tls-ca", help="CA certificate (PEM) to reach a TLS server")
    parser.add_argument("--funder-key", help="hex private key of a funded account, for chains without the demo "
                                             "genesis")
    args = parser.parse_args(argv)
    if not 1 <= args.accounts <= 1000:
        parser.error("--accounts must be 1..1000")

    token_value = os.environ.get("HYPERION_RPC_TOKEN")
    try:
        if args.token_file:
            with open(args.token_file) as handle:
                token_value = handle.read().strip()
        root = None
        if args.tls_ca:
            with open(args.tls_ca, "rb") as handle:
                root = handle.read()
    except OSError as exc:
        parser.error(f"{exc.filename}: {exc.strerror}")
    client = Client(args.target, token=token_value, root_certificates=root, timeout=600)
    try:
        client.wait_ready(timeout=30)
        return sequence(client, args)
    except RpcError as exc:  # the server stopped, refused a call or went away: say so, no traceback
        sys.exit(f"error: {args.target}: {exc.details()}")
    finally:
        client.close()


def sequence(client: Client, args: argparse.Namespace) -> int:
    """Stream ``args.blocks`` blocks, pipelined; 0 when all were committed."""
    info = client.get_head()
    chain_id = info.chain_id
    print(f"connected to {args.target}: chain id {chain_id}, head {info.head.number}, "
          f"root 0x{info.head.state_root.hex()[:16]}…")
    token = workloads.TOKEN_ADDRESS
    demo_ready = (client.get_balance(workloads.wallet(0).address) > 0
                  and client.get_code(workloads.TOKEN_ADDRESS) == workloads.token_runtime())
    if not demo_ready:
        if not args.funder_key:
            sys.exit("the demo wallets are not funded on this chain (not a default genesis): pass --funder-key")
        token = fund(client, args.funder_key, args.accounts, chain_id)

    started = time.perf_counter()
    nonces = {w.index: client.get_nonce(w.address) for w in workloads.wallets(args.accounts)}
    print(f"read {args.accounts} nonces in {time.perf_counter() - started:.2f}s")

    first_number = client.head.number + 1
    last_number = first_number + args.blocks - 1
    next_number = first_number
    in_flight = 0
    committed_txs = 0
    committed_gas = 0
    server_seconds = 0.0
    sent_at: Dict[int, float] = {}
    pending: Dict[int, object] = {}  # execution id -> held result
    print(f"{'block':>7} {'txs':>6} {'invalid':>7} {'gas used':>12} {'exec ms':>8} {'latency ms':>10}  state root")
    started = time.perf_counter()
    done = 0
    try:
        with client.stream() as stream:
            def send_next() -> None:
                nonlocal next_number, in_flight
                txs = block_txs(next_number, args.txs_per_block, args.accounts, nonces, chain_id, token)
                stream.execute(block_env(next_number), txs, parent_is_previous=next_number > first_number)
                sent_at[next_number] = time.perf_counter()
                next_number += 1
                in_flight += 1

            while next_number <= last_number and in_flight < args.depth:
                send_next()
            while done < args.blocks:
                try:
                    reply = stream.next()
                except (RpcError, StopIteration) as exc:
                    # e.g. the server drains (SIGTERM) mid-stream; raised through the ``with`` so the
                    # stream is cancelled rather than drained
                    raise StreamStopped(exc.details() if isinstance(exc, RpcError) else "the server ended the stream")
                if reply.kind == "error":
                    stream.cancel()
                    sys.exit(f"block failed: {reply.error}")
                if reply.kind == "executed":
                    result = reply.result
                    invalid = result.invalid
                    if invalid:
                        print(f"  block {result.number}: {len(invalid)} invalid, e.g. tx {invalid[0].index}: "
                              f"{invalid[0].error}")
                    pending[result.number] = result
                    stream.commit(result)  # the next block is already executing on top of it
                    in_flight -= 1
                    if next_number <= last_number:
                        send_next()
                elif reply.kind == "committed":
                    number = reply.head.number
                    result = pending.pop(number)
                    latency = (time.perf_counter() - sent_at.pop(number)) * 1000
                    included = len(result.receipts)
                    committed_txs += included
                    committed_gas += result.gas_used
                    server_seconds += result.stats.total_seconds
                    print(f"{number:>7} {included:>6} {len(result.invalid):>7} {result.gas_used:>12,} "
                          f"{result.stats.total_seconds * 1000:>8.0f} {latency:>10.0f}  "
                          f"0x{reply.head.state_root.hex()[:16]}…")
                    done += 1
    except StreamStopped as stop:  # what was committed stays committed
        print(f"stopped after {done} of {args.blocks} blocks ({committed_txs} transactions committed): {stop}",
              file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"{args.blocks} blocks, {committed_txs} transactions, {committed_gas:,} gas in {elapsed:.2f}s: "
          f"{committed_txs / elapsed:,.0f} tx/s end to end over gRPC "
          f"(server execution {server_seconds:.2f}s, {committed_txs / max(server_seconds, 1e-9):,.0f} tx/s)")
    head = client.head
    print(f"head {head.number}, state root 0x{head.state_root.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
