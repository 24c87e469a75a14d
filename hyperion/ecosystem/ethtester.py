"""Hyperion as an eth-tester backend, so web3.py's ``EthereumTesterProvider`` runs on it.

    from eth_tester import EthereumTester
    from web3 import EthereumTesterProvider, Web3
    from hyperion.ecosystem import HyperionBackend

    w3 = Web3(EthereumTesterProvider(EthereumTester(backend=HyperionBackend())))

It implements eth-tester's ``BaseChainBackend`` the way eth-tester's own py-evm backend
does (same accounts, same dict shapes, same errors), with Hyperion executing: accounts with
keys, raw / signed / unsigned transactions, automatic or manual mining, blocks, receipts
and logs by number and hash, ``eth_call`` and gas estimation at a block, balance, nonce,
code and storage at a block, snapshots, time travel and reset (docs/web3.md).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

from eth_keys import KeyAPI
from eth_tester.backends.base import BaseChainBackend
from eth_tester.exceptions import BlockNotFound, TransactionFailed, TransactionNotFound, ValidationError

from hyperion import calls
from hyperion.chain import ChainConfig
from hyperion.ecosystem import serialize
from hyperion.ecosystem.chain import Chain, MinedBlock, encode, randao
from hyperion.engine import Engine
from hyperion.evm.forks import get_fork
from hyperion.genesis import system_contracts_alloc
from hyperion.tools.conformance.rules import base_fee_from_parent
from hyperion.trace.calltracer import revert_reason
from hyperion.types import BlockEnv, BlockResult, TxStatus, UnsignedTx, ZERO_ADDRESS

#: eth-tester's py-evm backend's chain id and genesis gas limit
CHAIN_ID = 131277322940537
GENESIS_GAS_LIMIT = 30_029_122
GENESIS_BASE_FEE = 10**9
DEFAULT_BALANCE = 1_000_000 * 10**18
DEFAULT_ACCOUNTS = 10
#: engine blocks kept uncommitted (their states can be called at and reverted to cheaply)
KEEP_BLOCKS = 128
#: eth-tester's py-evm backend: no fee fields given -> 1 gwei max fee and tip
DEFAULT_FEE = 10**9


def default_keys(count: int = DEFAULT_ACCOUNTS):
    """eth-tester's default accounts: private keys 1, 2, ... ``count``."""
    return tuple(KeyAPI.PrivateKey(i.to_bytes(32, "big")) for i in range(1, count + 1))


class HyperionBackend(BaseChainBackend):
    """eth-tester's backend interface on a Hyperion :class:`~hyperion.engine.Engine`.

    ``engine``: an engine without genesis (in memory or on a data directory) to run on;
    by default an in-memory one.  ``genesis_state``: ``{address: {"balance", "nonce",
    "code", "storage"}}`` in place of the default accounts' balances.  ``fork``: any fork
    name Hyperion runs (Prague by default; the four system contracts are in the genesis).
    ``clock``: where block timestamps come from (wall-clock seconds, as eth-tester's).
    """

    def __init__(self, genesis_state: Optional[Dict[bytes, Dict[str, Any]]] = None, *, num_accounts: int = 0,
                 engine: Optional[Engine] = None, fork: str = "prague", chain_id: int = CHAIN_ID,
                 keys=None, clock: Callable[[], float] = time.time, keep_blocks: int = KEEP_BLOCKS) -> None:
        self.fork = get_fork(fork)
        self.chain_id = chain_id
        self.clock = clock
        self.keep_blocks = keep_blocks
        self.account_keys = tuple(keys) if keys is not None else default_keys(num_accounts or DEFAULT_ACCOUNTS)
        self._genesis_state = genesis_state
        self._own_engine = engine is None
        self._engine = engine
        self.chain: Optional[Chain] = None
        self.reset_to_genesis()

    # -- genesis and lifetime ----------------------------------------------------------
    def _genesis_alloc(self) -> Dict[str, Dict[str, Any]]:
        alloc = system_contracts_alloc() if self.fork.has_beacon_root_call else {}
        if self._genesis_state is None:
            for key in self.account_keys:
                alloc["0x" + key.public_key.to_canonical_address().hex()] = {"balance": hex(DEFAULT_BALANCE)}
            return alloc
        for address, account in self._genesis_state.items():
            entry = {"balance": hex(account.get("balance", 0)), "nonce": hex(account.get("nonce", 0)),
                     "code": "0x" + bytes(account.get("code", b"")).hex()}
            if account.get("storage"):
                entry["storage"] = {hex(k): hex(v) for k, v in account["storage"].items()}
            alloc["0x" + bytes(address).hex()] = entry
        return alloc

    def reset_to_genesis(self) -> None:
        timestamp = int(self.clock())
        if self._own_engine:
            if self._engine is not None:
                self._engine.close()
            config = ChainConfig.single_fork(self.fork.name, chain_id=self.chain_id)
            self._engine = Engine.in_memory(chain_config=config, revert_depth=1 << 30)
        engine = self._engine
        if engine.head.number < 0:
            config = ChainConfig.single_fork(self.fork.name, chain_id=self.chain_id)
            engine.init_genesis(self._genesis_alloc(), chain_config=config, timestamp=timestamp,
                                gas_limit=GENESIS_GAS_LIMIT, base_fee=GENESIS_BASE_FEE)
        else:  # a caller's engine: back to its genesis
            engine.revert_to(0)
        self.chain = Chain(engine, self.fork, timestamp, GENESIS_GAS_LIMIT, GENESIS_BASE_FEE, self.keep_blocks)
        self._next_timestamp: Optional[int] = None
        self._clear_pending()

    def _clear_pending(self) -> None:
        """An empty pending block (its environment is fixed when it is first needed)."""
        self._pending: List[bytes] = []
        self._pending_env: Optional[BlockEnv] = None
        #: the engine's held execution of the pending block (mining keeps it)
        self._pending_result: Optional[BlockResult] = None
        self._pending_block: Optional[MinedBlock] = None

    def _drop_pending(self) -> None:
        if self._pending_result is not None:
            self.engine.discard(self._pending_result)
        self._clear_pending()

    def _env(self, coinbase: bytes = ZERO_ADDRESS) -> BlockEnv:
        if self._pending_env is None or self._pending_env.coinbase != coinbase:
            self._pending_env = self.chain.next_env(self._timestamp(), coinbase)
        return self._pending_env

    def close(self) -> None:
        if self._own_engine and self._engine is not None:
            self._engine.close()
            self._engine = None

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- snapshots, time ---------------------------------------------------------------
    def take_snapshot(self):
        return self.chain.latest.hash

    def revert_to_snapshot(self, snapshot) -> None:
        number = self.chain.by_hash.get(bytes(snapshot))
        if number is None:
            raise ValidationError(f"no block {bytes(snapshot).hex()} to revert to")
        self._drop_pending()
        self.chain.revert_to(number)

    def time_travel(self, to_timestamp: int) -> int:
        """Mine a block one second before ``to_timestamp``: the pending block is then at
        ``to_timestamp`` (as eth-tester's py-evm backend travels)."""
        self._next_timestamp = to_timestamp - 1
        if self._pending_env is not None and self._pending_env.timestamp != self._next_timestamp:
            self._pending_env = None  # the pending block moves in time (its transactions run again)
        self.mine_blocks()
        return to_timestamp

    def _timestamp(self) -> int:
        if self._next_timestamp is not None:
            return self._next_timestamp
        return max(int(self.clock()), self.chain.latest.timestamp + 1)

    # -- mining ------------------------------------------------------------------------
    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = ZERO_ADDRESS):
        hashes = []
        for _ in range(num_blocks):
            env = self._env(bytes(coinbase))
            held = self._pending_result if self._pending_result is not None and \
                self._pending_result.env == env else None
            if held is None and self._pending_result is not None:
                self.engine.discard(self._pending_result)
            block = self.chain.mine(env, self._pending, self._decode, held)
            self._clear_pending()
            self._next_timestamp = None
            hashes.append(block.hash)
        return tuple(hashes)

    # -- accounts ----------------------------------------------------------------------
    def get_accounts(self):
        return tuple(key.public_key.to_canonical_address() for key in self.account_keys)

    def add_account(self, private_key: bytes) -> None:
        self.account_keys = self.account_keys + (KeyAPI.PrivateKey(private_key),)

    def _key(self, address: bytes):
        for key in self.account_keys:
            if key.public_key.to_canonical_address() == address:
                return key
        raise ValidationError('No valid "from" key was provided in the transaction which is required for '
                              'transaction signing.')

    # -- blocks ------------------------------------------------------------------------
    def _resolve(self, block_number) -> MinedBlock:
        chain = self.chain
        if block_number in ("latest", "safe", "finalized"):
            return chain.latest
        if block_number == "earliest":
            return chain.blocks[0]
        if block_number == "pending":
            return self._pending_view()
        if isinstance(block_number, int) and not isinstance(block_number, bool):
            block = chain.block(block_number)
            if block is not None:
                return block
        raise BlockNotFound(f"No block found for block number: {block_number}")

    def _pending_view(self) -> MinedBlock:
        """The pending block as eth-tester shows it (executed, not kept)."""
        if self._pending_block is None:
            env = self._env()
            result = self._pending_result or self.chain.simulate(env, self._pending)
            parent = self.chain.latest
            self._pending_block = MinedBlock(
                number=env.number, hash=result.block_hash, parent_hash=parent.hash, timestamp=env.timestamp,
                coinbase=env.coinbase, gas_limit=env.gas_limit, base_fee=env.base_fee, prev_randao=env.prev_randao,
                state_root=result.state_root, transactions_root=result.transactions_root,
                receipts_root=result.receipts_root, logs_bloom=result.logs_bloom, gas_used=result.gas_used,
                transactions=[self._decode(r) for r in self._pending], raw=list(self._pending),
                results=list(result.tx_results))
        return self._pending_block

    def get_block_by_number(self, block_number, full_transaction: bool = True):
        block = self._resolve(block_number)
        return serialize.block(block, full_transaction, block is self._pending_block)

    def get_block_by_hash(self, block_hash, full_transaction: bool = True):
        number = self.chain.by_hash.get(bytes(block_hash))
        if number is None:
            raise BlockNotFound(f"No block found for block hash: {bytes(block_hash).hex()}")
        return serialize.block(self.chain.block(number), full_transaction, False)

    def _find(self, transaction_hash):
        where = self.chain.tx_index.get(bytes(transaction_hash))
        if where is not None:
            number, position = where
            return self.chain.block(number), position, False
        pending = self._pending_view()
        for position, tx in enumerate(pending.transactions):
            if tx.hash == bytes(transaction_hash):
                return pending, position, True
        raise TransactionNotFound(f"No transaction found for transaction hash: 0x{bytes(transaction_hash).hex()}")

    def get_transaction_by_hash(self, transaction_hash):
        block, position, pending = self._find(transaction_hash)
        return serialize.transaction(block, block.transactions[position], position, pending)

    def get_transaction_receipt(self, transaction_hash):
        block, position, pending = self._find(transaction_hash)
        return serialize.receipt(block, block.transactions[position], position, pending)

    def get_fee_history(self, block_count: int = 1, newest_block="latest", reward_percentiles=()):
        if not 1 <= block_count <= 1024:
            raise ValidationError("block_count must be between 1 and 1024")
        """``eth_feeHistory``: the ``block_count`` blocks up to ``newest_block``, oldest
        first, and the base fee of the block after them; no rewards."""
        newest = self._resolve("latest" if newest_block == "pending" else newest_block)
        blocks = [b for b in self.chain.blocks if b.number <= newest.number][-block_count:]
        after = base_fee_from_parent(newest.gas_limit, newest.gas_limit, newest.gas_used, newest.base_fee)
        return {"oldest_block": blocks[0].number, "base_fee_per_gas": [b.base_fee for b in blocks] + [after],
                "gas_used_ratio": [b.gas_used / b.gas_limit for b in blocks], "reward": []}

    # -- state -------------------------------------------------------------------------
    def _state(self, block_number):
        """The engine reference for reads and calls at ``block_number``."""
        if block_number == "pending":
            if self._pending_result is not None:  # the pending block's held execution
                return self._pending_result
            block_number = "latest"
        block = self._resolve(block_number)
        try:
            return self.chain.state_ref(block.number)
        except LookupError as exc:
            raise ValidationError(str(exc)) from None

    def get_nonce(self, account, block_number="latest") -> int:
        return self.engine.get_nonce(bytes(account), self._state(block_number))

    def get_balance(self, account, block_number="latest") -> int:
        return self.engine.get_balance(bytes(account), self._state(block_number))

    def get_code(self, account, block_number="latest") -> bytes:
        return self.engine.get_code(bytes(account), self._state(block_number))

    def get_storage(self, account, slot: int, block_number="latest") -> bytes:
        return self.engine.get_storage(bytes(account), int(slot), self._state(block_number)).to_bytes(32, "big")

    def get_base_fee(self, block_number="latest") -> int:
        return self._resolve(block_number).base_fee

    # -- transactions ------------------------------------------------------------------
    def _decode(self, raw: bytes):
        return self.fork.vm_class.get_transaction_builder().decode(raw)

    def _pending_nonce(self, sender: bytes) -> int:
        nonce = self.engine.get_nonce(sender, self.chain.state_ref(self.chain.latest.number))
        return nonce + sum(1 for raw in self._pending if self._decode(raw).sender == sender)

    def _fields(self, transaction: Dict[str, Any]) -> Dict[str, Any]:
        """eth-tester's defaults for a transaction dict (its py-evm backend's rules)."""
        fields = {k: v for k, v in transaction.items() if k not in ("from", "type")}
        dynamic = any(k in transaction for k in ("max_fee_per_gas", "max_priority_fee_per_gas")) \
            or "gas_price" not in transaction
        fields.setdefault("nonce", self._pending_nonce(bytes(transaction["from"])))
        fields.setdefault("data", b"")
        fields.setdefault("value", 0)
        fields.setdefault("to", b"")
        if dynamic:
            if "max_fee_per_gas" not in fields and "max_priority_fee_per_gas" not in fields:
                fields["max_fee_per_gas"] = fields["max_priority_fee_per_gas"] = DEFAULT_FEE
            elif "max_fee_per_gas" not in fields:
                fields["max_fee_per_gas"] = fields["max_priority_fee_per_gas"] + 2 * self.chain.latest.base_fee
            fields.setdefault("access_list", ())
            fields.setdefault("chain_id", self.chain_id)
        elif "access_list" in fields:
            fields.setdefault("chain_id", self.chain_id)
        if "v" in fields and (dynamic or "access_list" in fields):
            fields["y_parity"] = fields.pop("v")
        return fields

    def _unsigned(self, fields: Dict[str, Any]):
        builder = self.fork.vm_class.get_transaction_builder()
        unsigned = {k: v for k, v in fields.items() if k not in ("v", "r", "s", "y_parity")}
        if "max_fee_per_gas" in unsigned:
            if "authorization_list" in unsigned:
                return builder.new_unsigned_set_code_transaction(**unsigned)
            return builder.new_unsigned_dynamic_fee_transaction(**unsigned)
        if "access_list" in unsigned:
            return builder.new_unsigned_access_list_transaction(**unsigned)
        return builder.create_unsigned_transaction(**unsigned)

    def _signed(self, fields: Dict[str, Any]):
        builder = self.fork.vm_class.get_transaction_builder()
        if "max_fee_per_gas" in fields:
            if "authorization_list" in fields:
                return builder.new_set_code_transaction(**fields)
            return builder.new_dynamic_fee_transaction(**fields)
        if "access_list" in fields:
            return builder.new_access_list_transaction(**fields)
        return builder.new_transaction(**fields)

    def _send(self, raw: bytes) -> bytes:
        """Add ``raw`` to the pending block; refuse it (``ValidationError``) if invalid."""
        txs = self._pending + [raw]
        # held, not simulated: with automine the block is mined next, from this execution
        result = self.chain.hold(self._env(), txs)
        outcome = result.tx_results[-1]
        if not outcome.included:
            self.engine.discard(result)
            raise ValidationError(f"invalid transaction: {outcome.error}")
        if self._pending_result is not None:
            self.engine.discard(self._pending_result)
        self._pending, self._pending_result, self._pending_block = txs, result, None
        return outcome.tx_hash

    def send_raw_transaction(self, raw_transaction: bytes) -> bytes:
        raw = bytes(raw_transaction)
        self._decode(raw)  # undecodable input raises py-evm's (rlp's) error, as eth-tester's backend
        return self._send(raw)

    def send_signed_transaction(self, signed_transaction) -> bytes:
        return self._send(encode(self._signed(self._fields(signed_transaction))))

    def send_transaction(self, transaction) -> bytes:
        key = self._key(bytes(transaction["from"]))
        # a legacy transaction is signed without EIP-155, as eth-tester's backend signs it
        return self._send(encode(self._unsigned(self._fields(transaction)).as_signed_transaction(key)))

    # -- calls -------------------------------------------------------------------------
    def _call_env(self, block_number, gas_limit: int) -> BlockEnv:
        """The block a call runs in: after ``block_number``, no base fee and, as a node's
        ``eth_call``, without the block's system calls (a call is one transaction)."""
        if block_number == "pending" and self._pending_result is not None:
            parent = self._pending_view()
        else:
            parent = self._resolve("latest" if block_number == "pending" else block_number)
        return BlockEnv(number=parent.number + 1, timestamp=parent.timestamp + 1, coinbase=parent.coinbase,
                        gas_limit=gas_limit, base_fee=0, prev_randao=randao(parent.number + 1),
                        parent_hash=parent.hash, system_calls=False)

    def _call_input(self, transaction, at, gas: int) -> UnsignedTx:
        sender = bytes(transaction["from"])
        # a call checks no nonce (eth-tester's backend runs it unvalidated): the state's is used
        fields = self._fields({**transaction, "nonce": self.engine.get_nonce(sender, at), "gas": gas})
        to = fields.get("to") or None
        dynamic = "max_fee_per_gas" in fields
        return UnsignedTx(
            sender=bytes(transaction["from"]), nonce=fields["nonce"], gas=gas, to=to, value=fields["value"],
            data=bytes(fields["data"]), type=2 if dynamic else 0,
            gas_price=None if dynamic else fields.get("gas_price"), max_fee_per_gas=fields.get("max_fee_per_gas"),
            max_priority_fee_per_gas=fields.get("max_priority_fee_per_gas"), chain_id=self.chain_id)

    def call(self, transaction, block_number="latest") -> bytes:
        at = self._state(block_number)
        gas = transaction.get("gas") or self.chain.latest.gas_limit
        tx = self._call_input(dict(transaction, max_fee_per_gas=0, max_priority_fee_per_gas=0)
                              if "gas_price" not in transaction else transaction, at, gas)
        cap = max(gas, calls.DEFAULT_GAS_CAP)
        result = self.engine.call(tx, at=at, env=self._call_env(block_number, cap), gas_cap=cap)
        if result.status is not TxStatus.SUCCESS:
            raise TransactionFailed(_failure_message(result))
        return result.return_data

    def estimate_gas(self, transaction, block_number="latest") -> int:
        at = self._state(block_number)
        cap = self.chain.latest.gas_limit
        tx = self._call_input(dict(transaction, max_fee_per_gas=0, max_priority_fee_per_gas=0)
                              if "gas_price" not in transaction else transaction, at, cap)
        estimate = self.engine.estimate_gas(tx, at=at, env=self._call_env(block_number, cap), gas_cap=cap)
        if not estimate.success:
            raise TransactionFailed(_failure_message(estimate))
        return estimate.gas


def _failure_message(result) -> str:
    """eth-tester's message for a failed call: the revert reason when there is one."""
    if result.status is TxStatus.REVERTED:
        reason = revert_reason(result.return_data)
        return reason if reason is not None else "execution reverted"
    return result.error or "execution failed"
