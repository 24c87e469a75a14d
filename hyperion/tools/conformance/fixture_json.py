"""The JSON shapes of ethereum/tests fixtures and t8n tools, to and from Hyperion's types.

Numbers are hex strings (``"0x0a"``), decimal strings or ints; byte strings are hex.
Transactions come as JSON objects (t8n: ``gas``/``input``; fixtures: ``gasLimit``/``data``),
either signed (``v``/``r``/``s``) or with a ``secretKey`` to sign them with, or — Hyperion's
extension — with no signature and a ``sender`` (run as :class:`~hyperion.types.UnsignedTx`).
Signed transactions are encoded to their EIP-2718 bytes here, so the engine decodes and
recovers them exactly as it does any other input.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import rlp
from eth_hash.auto import keccak

from hyperion.evm import txdecode
from hyperion.evm.forks import Fork
from hyperion.types import (
    AccessListEntry,
    Authorization,
    EMPTY_CODE_HASH,
    Log,
    StateDiff,
    UnsignedTx,
    Withdrawal,
)


class FixtureFormatError(ValueError):
    """A fixture or t8n input does not have the expected shape."""


# -- scalars ---------------------------------------------------------------------------
def to_int(value: Any, what: str = "number") -> int:
    """``"0x1f"``, ``"31"``, ``31`` -> 31; ``"0x"`` and ``""`` -> 0."""
    if isinstance(value, bool):
        raise FixtureFormatError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if text[:2].lower() == "0x":
                return int(text[2:] or "0", 16)
            return int(text or "0", 10)
        except ValueError:
            raise FixtureFormatError(f"{what}: {value!r} is not a number") from None
    raise FixtureFormatError(f"{what}: expected a number, got {type(value).__name__}")


def to_bytes(value: Any, what: str = "bytes") -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise FixtureFormatError(f"{what}: expected a hex string, got {type(value).__name__}")
    text = value[2:] if value[:2].lower() == "0x" else value
    if len(text) % 2:
        text = "0" + text
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise FixtureFormatError(f"{what}: {value!r} is not hex") from None


def to_hash(value: Any, what: str = "hash") -> bytes:
    """A 32-byte value; shorter hex is left-padded (t8n tools accept ``"0x20000"``)."""
    raw = to_bytes(value, what)
    if len(raw) > 32:
        raise FixtureFormatError(f"{what}: more than 32 bytes")
    return raw.rjust(32, b"\x00")


def to_address(value: Any, what: str = "address") -> bytes:
    raw = to_bytes(value, what)
    if len(raw) != 20:
        raise FixtureFormatError(f"{what}: expected 20 bytes, got {len(raw)}")
    return raw


def to_optional_address(value: Any, what: str = "to") -> Optional[bytes]:
    """``None``, ``""`` or ``"0x"`` mean contract creation."""
    if value is None or value == "" or value == "0x":
        return None
    return to_address(value, what)


def hex_int(value: int) -> str:
    return hex(value)


def hex_bytes(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def hex_slot(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


# -- state -------------------------------------------------------------------------------
def normalize_alloc(alloc: Mapping[str, Mapping[str, Any]]) -> Dict[bytes, Dict[str, Any]]:
    """An alloc in any of the usual spellings, as ``{address: {balance, nonce, code, storage}}``
    with ints and bytes (the shape ``Engine.init_genesis`` and :func:`alloc_to_json` use)."""
    if not isinstance(alloc, Mapping):
        raise FixtureFormatError("an alloc must be an object of address -> account")
    out: Dict[bytes, Dict[str, Any]] = {}
    for raw_address, account in alloc.items():
        address = to_address(raw_address, "alloc address")
        if not isinstance(account, Mapping):
            raise FixtureFormatError(f"alloc {raw_address}: expected an object")
        storage = {}
        for key, value in (account.get("storage") or {}).items():
            slot = to_int(key, f"alloc {raw_address} storage key")
            val = to_int(value, f"alloc {raw_address} storage value")
            if val:
                storage[slot] = val
        out[address] = {
            "balance": to_int(account.get("balance", 0), f"alloc {raw_address} balance"),
            "nonce": to_int(account.get("nonce", 0), f"alloc {raw_address} nonce"),
            "code": to_bytes(account.get("code", "0x") or "0x", f"alloc {raw_address} code"),
            "storage": storage,
        }
    return out


def genesis_alloc(alloc: Mapping[bytes, Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """A normalized alloc in the JSON shape ``Engine.init_genesis`` takes."""
    return {
        hex_bytes(address): {
            "balance": account["balance"],
            "nonce": account["nonce"],
            "code": hex_bytes(account["code"]),
            "storage": {hex_int(k): hex_int(v) for k, v in account["storage"].items()},
        }
        for address, account in alloc.items()
    }


def apply_diff(alloc: Mapping[bytes, Mapping[str, Any]], diff: StateDiff) -> Dict[bytes, Dict[str, Any]]:
    """The post-state: a normalized pre-state alloc with a block's :class:`StateDiff` applied."""
    post = {address: dict(account, storage=dict(account["storage"])) for address, account in alloc.items()}
    for address in diff.wiped:
        if address in post:
            post[address]["storage"] = {}
    for address, account in diff.accounts.items():
        if account is None:
            post.pop(address, None)
            continue
        entry = post.setdefault(address, {"balance": 0, "nonce": 0, "code": b"", "storage": {}})
        entry["balance"] = account.balance
        entry["nonce"] = account.nonce
        if account.code_hash == EMPTY_CODE_HASH:
            entry["code"] = b""
        elif account.code_hash in diff.codes:
            entry["code"] = diff.codes[account.code_hash]
        elif keccak(entry["code"]) != account.code_hash:
            raise FixtureFormatError(f"code {account.code_hash.hex()} of {address.hex()} is not in the diff")
    for address, slots in diff.storage.items():
        entry = post.get(address)
        if entry is None:
            continue
        for slot, value in slots.items():
            if value:
                entry["storage"][slot] = value
            else:
                entry["storage"].pop(slot, None)
    return post


def alloc_to_json(alloc: Mapping[bytes, Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """A normalized alloc as t8n tools write it (zero balance/nonce and empty parts omitted
    the way geth does: balance always, nonce/code/storage only when set)."""
    out: Dict[str, Dict[str, Any]] = {}
    for address in sorted(alloc):
        account = alloc[address]
        entry: Dict[str, Any] = {"balance": hex_int(account["balance"])}
        if account["nonce"]:
            entry["nonce"] = hex_int(account["nonce"])
        if account["code"]:
            entry["code"] = hex_bytes(account["code"])
        if account["storage"]:
            entry["storage"] = {hex_slot(k): hex_slot(v) for k, v in sorted(account["storage"].items())}
        out[hex_bytes(address)] = entry
    return out


# -- logs --------------------------------------------------------------------------------
def logs_rlp(logs: Iterable[Log]) -> bytes:
    return rlp.encode([[entry.address, list(entry.topics), entry.data] for entry in logs])


def logs_hash(logs: Iterable[Log]) -> bytes:
    """keccak(rlp(logs)): the ``logs`` field of state tests and t8n's ``logsHash``."""
    return keccak(logs_rlp(logs))


# -- transactions ------------------------------------------------------------------------
@dataclass
class JsonTx:
    """One transaction as JSON describes it, before it is signed or encoded."""

    type: int
    nonce: int
    gas: int
    to: Optional[bytes]
    value: int
    data: bytes
    chain_id: Optional[int] = None
    gas_price: Optional[int] = None
    max_fee_per_gas: Optional[int] = None
    max_priority_fee_per_gas: Optional[int] = None
    access_list: List[Tuple[bytes, List[int]]] = field(default_factory=list)
    max_fee_per_blob_gas: Optional[int] = None
    blob_versioned_hashes: List[bytes] = field(default_factory=list)
    authorization_list: List[Tuple[int, bytes, int, int, int, int]] = field(default_factory=list)
    v: int = 0
    r: int = 0
    s: int = 0
    secret_key: Optional[bytes] = None
    sender: Optional[bytes] = None
    protected: bool = True

    @property
    def is_signed(self) -> bool:
        return bool(self.v or self.r or self.s)


def _access_list(value: Any) -> List[Tuple[bytes, List[int]]]:
    out = []
    for entry in value or ():
        out.append(
            (to_address(entry["address"], "access list address"),
             [to_int(key, "access list key") for key in entry.get("storageKeys", ())])
        )
    return out


def _authorizations(value: Any) -> List[Tuple[int, bytes, int, int, int, int]]:
    out = []
    for entry in value or ():
        parity = entry.get("yParity", entry.get("v", "0x0"))
        out.append(
            (to_int(entry["chainId"], "authorization chainId"), to_address(entry["address"], "authorization address"),
             to_int(entry["nonce"], "authorization nonce"), to_int(parity, "authorization yParity"),
             to_int(entry["r"], "authorization r"), to_int(entry["s"], "authorization s"))
        )
    return out


def _tx_type(obj: Mapping[str, Any]) -> int:
    if obj.get("type") is not None:
        return to_int(obj["type"], "type")
    if "authorizationList" in obj:
        return 4
    if "maxFeePerBlobGas" in obj or "blobVersionedHashes" in obj:
        return 3
    if "maxFeePerGas" in obj:
        return 2
    if obj.get("accessList") is not None:
        return 1
    return 0


def tx_from_json(obj: Mapping[str, Any]) -> JsonTx:
    """Parse one JSON transaction (t8n or fixture spelling)."""
    try:
        tx_type = _tx_type(obj)
        gas = obj.get("gas", obj.get("gasLimit"))
        data = obj.get("input", obj.get("data", "0x"))
        parity = obj.get("yParity", obj.get("y_parity", obj.get("v")))
        secret = obj.get("secretKey")
        return JsonTx(
            type=tx_type,
            nonce=to_int(obj.get("nonce", 0), "nonce"),
            gas=to_int(gas, "gas"),
            to=to_optional_address(obj.get("to")),
            value=to_int(obj.get("value", 0), "value"),
            data=to_bytes(data or "0x", "input"),
            chain_id=to_int(obj["chainId"], "chainId") if obj.get("chainId") is not None else None,
            gas_price=to_int(obj["gasPrice"], "gasPrice") if obj.get("gasPrice") is not None else None,
            max_fee_per_gas=to_int(obj["maxFeePerGas"], "maxFeePerGas") if obj.get("maxFeePerGas") is not None else None,
            max_priority_fee_per_gas=(to_int(obj["maxPriorityFeePerGas"], "maxPriorityFeePerGas")
                                      if obj.get("maxPriorityFeePerGas") is not None else None),
            access_list=_access_list(obj.get("accessList")),
            max_fee_per_blob_gas=(to_int(obj["maxFeePerBlobGas"], "maxFeePerBlobGas")
                                  if obj.get("maxFeePerBlobGas") is not None else None),
            blob_versioned_hashes=[to_hash(h, "blobVersionedHashes") for h in obj.get("blobVersionedHashes") or ()],
            authorization_list=_authorizations(obj.get("authorizationList")),
            v=to_int(parity, "v") if parity is not None else 0,
            r=to_int(obj.get("r", 0), "r"),
            s=to_int(obj.get("s", 0), "s"),
            secret_key=to_hash(secret, "secretKey") if secret else None,
            sender=to_address(obj["sender"], "sender") if obj.get("sender") else None,
            protected=bool(obj.get("protected", True)),
        )
    except (KeyError, TypeError) as exc:
        raise FixtureFormatError(f"malformed transaction: {exc!r}") from None


def state_test_tx(transaction: Mapping[str, Any], indexes: Mapping[str, Any]) -> JsonTx:
    """The transaction of a ``GeneralStateTests`` post entry (``data``/``gas``/``value`` picked
    by ``indexes``).  Legacy ones are signed without EIP-155, as the fixtures' ``txbytes`` are."""
    d, g, v = (to_int(indexes[k], f"indexes.{k}") for k in ("data", "gas", "value"))
    obj = {k: val for k, val in transaction.items() if k not in ("data", "gasLimit", "value", "accessLists")}
    obj["data"] = transaction["data"][d]
    obj["gasLimit"] = transaction["gasLimit"][g]
    obj["value"] = transaction["value"][v]
    access_lists = transaction.get("accessLists")
    if access_lists is not None and d < len(access_lists) and access_lists[d] is not None:
        obj["accessList"] = access_lists[d]
    tx = tx_from_json(obj)
    tx.protected = False
    return tx


def _rlp_to(to: Optional[bytes]) -> bytes:
    return b"" if to is None else to


def _access_list_rlp(tx: JsonTx) -> list:
    return [[address, [key.to_bytes(32, "big") for key in keys]] for address, keys in tx.access_list]


def _unsigned_fields(tx: JsonTx, chain_id: int) -> list:
    cid = tx.chain_id if tx.chain_id is not None else chain_id
    to = _rlp_to(tx.to)
    if tx.type == 0:
        return [tx.nonce, tx.gas_price or 0, tx.gas, to, tx.value, tx.data]
    if tx.type == 1:
        return [cid, tx.nonce, tx.gas_price or 0, tx.gas, to, tx.value, tx.data, _access_list_rlp(tx)]
    if tx.type not in (2, 3, 4):
        raise FixtureFormatError(f"unknown transaction type {tx.type}")
    max_fee = tx.max_fee_per_gas if tx.max_fee_per_gas is not None else (tx.gas_price or 0)
    tip = tx.max_priority_fee_per_gas if tx.max_priority_fee_per_gas is not None else max_fee
    fields = [cid, tx.nonce, tip, max_fee, tx.gas, to, tx.value, tx.data, _access_list_rlp(tx)]
    if tx.type == 3:
        fields += [tx.max_fee_per_blob_gas or 0, list(tx.blob_versioned_hashes)]
    elif tx.type == 4:
        fields.append([list(a) for a in tx.authorization_list])
    return fields


def sign(tx: JsonTx, chain_id: int, fork: Optional[Fork] = None) -> JsonTx:
    """Sign with ``tx.secret_key``: EIP-155 for protected legacy transactions from Spurious
    Dragon on (or when no fork is given), typed transactions over their EIP-2718 payload."""
    if tx.secret_key is None:
        raise FixtureFormatError("no secretKey to sign with")
    import coincurve  # here: only inputs with a secretKey need it (docs/design.md §19, start-up)

    key = coincurve.PrivateKey(tx.secret_key)
    cid = tx.chain_id if tx.chain_id is not None else chain_id
    fields = _unsigned_fields(tx, chain_id)
    if tx.type == 0:
        eip155 = tx.protected and (fork is None or fork.has_eip161)
        payload = rlp.encode(fields + [cid, 0, 0]) if eip155 else rlp.encode(fields)
        signature = key.sign_recoverable(keccak(payload), hasher=None)
        v = signature[64] + (35 + 2 * cid if eip155 else 27)
    else:
        signature = key.sign_recoverable(keccak(bytes([tx.type]) + rlp.encode(fields)), hasher=None)
        v = signature[64]
    return replace(tx, v=v, r=int.from_bytes(signature[:32], "big"), s=int.from_bytes(signature[32:64], "big"),
                   chain_id=cid if tx.type else tx.chain_id)


def encode_signed(tx: JsonTx, chain_id: int) -> bytes:
    """EIP-2718 bytes of a signed transaction."""
    body = txdecode.encode(_unsigned_fields(tx, chain_id) + [tx.v, tx.r, tx.s])
    return body if tx.type == 0 else bytes([tx.type]) + body


def to_unsigned(tx: JsonTx, chain_id: int) -> UnsignedTx:
    """Hyperion's explicit-sender transaction for an unsigned JSON transaction with ``sender``."""
    if tx.sender is None:
        raise FixtureFormatError("an unsigned transaction needs a sender")
    return UnsignedTx(
        sender=tx.sender, nonce=tx.nonce, gas=tx.gas, to=tx.to, value=tx.value, data=tx.data, type=tx.type,
        gas_price=tx.gas_price, max_fee_per_gas=tx.max_fee_per_gas,
        max_priority_fee_per_gas=tx.max_priority_fee_per_gas,
        access_list=tuple(AccessListEntry(a, tuple(keys)) for a, keys in tx.access_list),
        authorization_list=tuple(Authorization(*a) for a in tx.authorization_list),
        chain_id=tx.chain_id if tx.chain_id is not None else chain_id,
    )


def tx_input(tx: JsonTx, chain_id: int, fork: Optional[Fork] = None) -> Union[bytes, UnsignedTx]:
    """What the engine runs for a JSON transaction: signed bytes (signing it first when it
    carries a ``secretKey`` and no signature), or an :class:`UnsignedTx` for ``sender``."""
    if not tx.is_signed:
        if tx.secret_key is not None:
            return encode_signed(sign(tx, chain_id, fork), chain_id)
        if tx.sender is not None:
            return to_unsigned(tx, chain_id)
    return encode_signed(tx, chain_id)


def txs_from_rlp(data: bytes) -> List[bytes]:
    """A transaction list in RLP (``txs.rlp``, a block body): each as EIP-2718 bytes."""
    items = rlp.decode(data)
    if not isinstance(items, list):
        raise FixtureFormatError("the transaction RLP is not a list")
    return [item if isinstance(item, bytes) else rlp.encode(item) for item in items]


# -- withdrawals -------------------------------------------------------------------------
def withdrawal_from_json(obj: Mapping[str, Any]) -> Withdrawal:
    return Withdrawal(
        index=to_int(obj["index"], "withdrawal index"),
        validator_index=to_int(obj["validatorIndex"], "withdrawal validatorIndex"),
        address=to_address(obj["address"], "withdrawal address"),
        amount=to_int(obj["amount"], "withdrawal amount"),
    )


# -- headers -----------------------------------------------------------------------------
HEADER_FIELDS = (
    "parentHash", "uncleHash", "coinbase", "stateRoot", "transactionsTrie", "receiptTrie", "bloom",
    "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
    "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot",
    "requestsHash",
)
_INT_FIELDS = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed",
               "excessBlobGas"}


@dataclass
class Header:
    """A block header, field by field (``fields`` keeps the names of the ones present)."""

    values: Dict[str, Any]
    hash: bytes
    rlp_fields: list

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


def _big_endian(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


_FIXED_SIZES = {"parentHash": 32, "uncleHash": 32, "coinbase": 20, "stateRoot": 32, "transactionsTrie": 32,
                "receiptTrie": 32, "bloom": 256, "mixHash": 32, "nonce": 8, "withdrawalsRoot": 32,
                "parentBeaconBlockRoot": 32, "requestsHash": 32}
_UINT64_FIELDS = {"number", "gasLimit", "gasUsed", "timestamp", "blobGasUsed", "excessBlobGas"}


def canonical_int(raw: bytes, what: str, bits: int = 256) -> int:
    """An RLP integer: no leading zero bytes, at most ``bits`` wide."""
    if raw[:1] == b"\x00":
        raise FixtureFormatError(f"{what}: integer with leading zero bytes")
    if len(raw) * 8 > bits:
        raise FixtureFormatError(f"{what}: integer wider than {bits} bits")
    return _big_endian(raw)


def header_from_rlp_fields(fields: Sequence[Any]) -> Header:
    if not isinstance(fields, list) or not 15 <= len(fields) <= len(HEADER_FIELDS):
        raise FixtureFormatError("a block header is a list of 15 to 21 fields")
    values: Dict[str, Any] = {}
    for name, raw in zip(HEADER_FIELDS, fields):
        if not isinstance(raw, bytes):
            raise FixtureFormatError(f"header field {name} is not a byte string")
        if name in _INT_FIELDS:
            values[name] = canonical_int(raw, f"header field {name}", 64 if name in _UINT64_FIELDS else 256)
        else:
            size = _FIXED_SIZES.get(name)
            if size is not None and len(raw) != size:
                raise FixtureFormatError(f"header field {name} has {len(raw)} bytes, not {size}")
            values[name] = raw
    return Header(values=values, hash=keccak(rlp.encode(fields)), rlp_fields=list(fields))


def header_from_json(obj: Mapping[str, Any]) -> Header:
    """A fixture ``blockHeader`` / ``genesisBlockHeader`` object."""
    aliases = {"uncleHash": ("uncleHash", "sha3Uncles", "ommersHash"), "transactionsTrie": ("transactionsTrie", "transactionsRoot"),
               "receiptTrie": ("receiptTrie", "receiptsRoot"), "bloom": ("bloom", "logsBloom"),
               "coinbase": ("coinbase", "miner", "feeRecipient")}
    values: Dict[str, Any] = {}
    fields = []
    for name in HEADER_FIELDS:
        keys = aliases.get(name, (name,))
        raw = next((obj[k] for k in keys if k in obj), None)
        if raw is None:
            if name in ("parentHash", "uncleHash", "coinbase", "stateRoot", "transactionsTrie", "receiptTrie",
                        "bloom", "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData",
                        "mixHash", "nonce"):
                raise FixtureFormatError(f"block header without {name}")
            break
        if name in _INT_FIELDS:
            values[name] = to_int(raw, name)
            fields.append(values[name])
        else:
            values[name] = to_bytes(raw, name)
            fields.append(values[name])
    encoded = rlp.encode(fields)
    header = Header(values=values, hash=keccak(encoded), rlp_fields=rlp.decode(encoded))
    return header


@dataclass
class Block:
    header: Header
    transactions: List[bytes]
    uncles: List[Header]
    withdrawals: Optional[List[Withdrawal]]


def block_from_rlp(data: bytes) -> Block:
    """Decode a block (header, transactions, uncles[, withdrawals]) from its RLP."""
    try:
        items = rlp.decode(data)
    except Exception as exc:
        raise FixtureFormatError(f"block RLP does not decode: {exc}") from None
    if not isinstance(items, list) or len(items) not in (3, 4) or not all(isinstance(i, list) for i in items):
        raise FixtureFormatError("a block is a list [header, transactions, uncles(, withdrawals)]")
    header = header_from_rlp_fields(items[0])
    txs = [item if isinstance(item, bytes) else rlp.encode(item) for item in items[1]]
    uncles = [header_from_rlp_fields(u) for u in items[2]]
    withdrawals = None
    if len(items) == 4:
        withdrawals = []
        for entry in items[3]:
            if not isinstance(entry, list) or len(entry) != 4 or not all(isinstance(x, bytes) for x in entry):
                raise FixtureFormatError("a withdrawal is a list of four byte strings")
            if len(entry[2]) != 20:
                raise FixtureFormatError("a withdrawal address has 20 bytes")
            withdrawals.append(Withdrawal(canonical_int(entry[0], "withdrawal index", 64),
                                          canonical_int(entry[1], "withdrawal validator index", 64), entry[2],
                                          canonical_int(entry[3], "withdrawal amount", 64)))
    return Block(header=header, transactions=txs, uncles=uncles, withdrawals=withdrawals)
