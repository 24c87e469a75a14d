"""What a block's header commits to besides the state: receipts, bloom and body roots.

:class:`ReceiptBuilder` gives each included transaction its receipt position, cumulative
gas and log index (invalid transactions take none, docs/design.md §7) and encodes the
receipts, one transaction at a time; :func:`assemble_results` completes it; the other helpers compute the header's transactions / receipts / withdrawals
roots, logs bloom and EIP-7685 requests hash.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import rlp
from eth_bloom import BloomFilter
from eth_hash.auto import keccak

from hyperion.state.trie import mpt
from hyperion.types import Log, TxResult, TxStatus

if TYPE_CHECKING:  # annotations only: keeps this module light to import
    from hyperion.evm.forks import Fork
    from hyperion.evm.processor import TxOutcome
    from hyperion.evm.transactions import PreparedTx


def ordered_trie_root(values: Sequence[bytes]) -> bytes:
    """Root of the trie mapping ``rlp(i) -> values[i]`` (transactions, receipts, withdrawals)."""
    return mpt.ordered_trie_root(values)


def bloom_bits(logs: Sequence[Log]) -> int:
    """The 2048-bit logs bloom as an int (three 11-bit indexes from keccak of each address/topic)."""
    bits = 0
    for entry in logs:
        for item in (entry.address, *entry.topics):
            h = keccak(item)
            bits |= (1 << (((h[0] << 8) | h[1]) & 2047)) | (1 << (((h[2] << 8) | h[3]) & 2047)) \
                | (1 << (((h[4] << 8) | h[5]) & 2047))
    return bits


def logs_bloom(logs: Sequence[Log]) -> BloomFilter:
    return BloomFilter(bloom_bits(logs))


def _rlp_prefix(length: int, base: int) -> bytes:
    if length < 56:
        return bytes((base + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((base + 55 + len(size),)) + size


def _rlp_bytes(data: bytes) -> bytes:
    if len(data) == 1 and data[0] < 0x80:
        return data
    return _rlp_prefix(len(data), 0x80) + data


def _rlp_list(encoded_items) -> bytes:
    payload = b"".join(encoded_items)
    return _rlp_prefix(len(payload), 0xC0) + payload


def encode_receipt(tx_type: int, status_or_root: bytes, cumulative_gas: int, logs: Sequence[Log],
                   bloom: Optional[int] = None) -> bytes:
    """The receipt as the receipts trie holds it; ``bloom`` is :func:`bloom_bits` of ``logs`` if known.

    RLP written out directly: pyrlp's generic encoder infers a sedes for every item and
    costs ~40 us per receipt, which a 2,000-transaction block pays in its serial part.
    """
    if bloom is None:
        bloom = bloom_bits(logs)
    encoded_logs = _rlp_list(
        _rlp_list((_rlp_bytes(e.address), _rlp_list(_rlp_bytes(t) for t in e.topics), _rlp_bytes(e.data)))
        for e in logs
    )
    body = _rlp_list((
        _rlp_bytes(status_or_root),
        _rlp_bytes(cumulative_gas.to_bytes((cumulative_gas.bit_length() + 7) // 8, "big")),
        _rlp_bytes(bloom.to_bytes(256, "big")),
        encoded_logs,
    ))
    return body if tx_type == 0 else bytes([tx_type]) + body


def requests_hash(requests: Sequence[bytes]) -> bytes:
    """EIP-7685: sha256 over the sha256 of each non-empty request."""
    outer = hashlib.sha256()
    for request in requests:
        outer.update(hashlib.sha256(request).digest())
    return outer.digest()


def withdrawals_root(withdrawals) -> bytes:
    return ordered_trie_root([rlp.encode([w.index, w.validator_index, w.address, w.amount]) for w in withdrawals])


class ReceiptBuilder:
    """Receipts, results, bloom and gas of a block, built one transaction at a time, in order.

    Each included transaction gets its receipt position, cumulative gas and first log index;
    an invalid one gets none (docs/design.md §7).  A scheduler may feed it as transactions
    become final (Block-STM does, while its workers still run); :func:`assemble_results`
    feeds it whatever is left.
    """

    __slots__ = ("fork", "results", "encoded_txs", "receipts", "cumulative", "blob_gas", "log_index", "bloom")

    def __init__(self, fork: Fork) -> None:
        self.fork = fork
        self.results: List[TxResult] = []
        self.encoded_txs: List[bytes] = []
        self.receipts: List[bytes] = []
        self.cumulative = 0
        self.blob_gas = 0
        self.log_index = 0
        self.bloom = 0

    def __len__(self) -> int:
        """Transactions added so far (included or not)."""
        return len(self.results)

    def add(self, p: PreparedTx, outcome: TxOutcome, post_state: Optional[bytes] = None) -> None:
        """Add the next transaction; ``post_state`` is its intermediate state root (pre-Byzantium)."""
        if outcome.status is TxStatus.INVALID:
            self.results.append(
                TxResult(index=p.index, status=outcome.status, tx_hash=p.hash, sender=outcome.sender or p.sender,
                         error=outcome.error, tx_type=p.type)
            )
            return
        position = len(self.receipts)
        self.cumulative = cumulative = self.cumulative + outcome.gas_used
        self.blob_gas += outcome.blob_gas_used
        if self.fork.has_status_receipts:
            status_field = b"\x01" if outcome.status is TxStatus.SUCCESS else b""
        else:
            status_field = post_state
        logs = outcome.logs
        tx_bloom = bloom_bits(logs) if logs else 0
        self.receipts.append(encode_receipt(p.type, status_field, cumulative, logs, tx_bloom))
        self.encoded_txs.append(p.encoded)
        self.bloom |= tx_bloom
        self.results.append(
            TxResult(
                index=p.index, status=outcome.status, tx_hash=p.hash, sender=outcome.sender or p.sender,
                receipt_index=position,
                gas_used=outcome.gas_used, cumulative_gas_used=cumulative, blob_gas_used=outcome.blob_gas_used,
                logs=logs, first_log_index=self.log_index, return_data=outcome.return_data,
                contract_address=outcome.contract_address, error=outcome.error, tx_type=p.type,
                post_state=None if self.fork.has_status_receipts else status_field,
            )
        )
        self.log_index += len(logs)


def assemble_results(
    prepared: Sequence[PreparedTx],
    outcomes: Sequence[TxOutcome],
    fork: Fork,
    intermediate_roots: Optional[Sequence[bytes]] = None,
    builder: Optional[ReceiptBuilder] = None,
) -> Tuple[List[TxResult], List[bytes], List[bytes], int, int, BloomFilter]:
    """Give each included transaction its receipt position, cumulative gas and log index.

    ``builder`` may already hold the first ``len(builder)`` transactions (added as they
    became final); the rest are added here.  ``intermediate_roots`` holds one root per
    included transaction (pre-Byzantium receipts).
    Returns (tx results, encoded txs, encoded receipts, gas used, blob gas used, bloom).
    """
    if builder is None:
        builder = ReceiptBuilder(fork)
    for index in range(len(builder), len(outcomes)):
        outcome = outcomes[index]
        post_state = None
        if not fork.has_status_receipts and outcome.status is not TxStatus.INVALID:
            post_state = intermediate_roots[len(builder.receipts)]
        builder.add(prepared[index], outcome, post_state)
    b = builder
    return b.results, b.encoded_txs, b.receipts, b.cumulative, b.blob_gas, BloomFilter(b.bloom)
