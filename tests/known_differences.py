"""Known differences between STOCK py-evm 0.12.1b1 and the execution specs: the one list.

docs/design.md §1: every test that compares Hyperion with stock py-evm goes through this list;
nothing else may differ.  Hyperion follows the specs in each case (the ``fixed_in`` column
says where).  A difference found but not yet explained must be added here with
``fixed_in=None``; tests comparing with the specs then mark it ``xfail`` by its name
(:func:`xfail_unexplained`), so it stays visible.

Each entry has a *trigger*: a cheap, static test on a t8n batch (fork, alloc, txs) that
says whether the batch can exhibit the difference.  :func:`explain` returns the names of
the entries a batch triggers; a comparison with stock py-evm may only differ when that is
non-empty, and the batch must then still agree with the specs (tests/test_known_differences.py
pins each entry with a scenario of its own).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import pytest
from eth_hash.auto import keccak

from hyperion.tools.conformance.fixture_json import normalize_alloc, to_bytes, to_int

DELEGATION_PREFIX = b"\xef\x01\x00"
COMPARISON_CHAIN_ID = 1


@dataclass(frozen=True)
class KnownDifference:
    name: str
    description: str
    #: where Hyperion follows the specs instead (None: cause not found -> xfail)
    fixed_in: Optional[str]
    trigger: Callable[[str, Mapping[str, Any], Sequence[Mapping[str, Any]]], bool]


def _txs_of_type(txs, types) -> List[Mapping[str, Any]]:
    return [tx for tx in txs if to_int(tx.get("type", 0)) in types]


def _tip_above_max(fork, alloc, txs) -> bool:
    return any(to_int(tx["maxPriorityFeePerGas"]) > to_int(tx["maxFeePerGas"]) for tx in _txs_of_type(txs, (2, 3, 4)))


def _senders(txs) -> List[bytes]:
    from hyperion.tools.conformance.fixture_json import tx_from_json
    import coincurve

    out = []
    for tx in txs:
        parsed = tx_from_json(dict(tx))
        if parsed.secret_key is not None:
            public = coincurve.PrivateKey(parsed.secret_key).public_key.format(compressed=False)
            out.append(keccak(public[1:])[12:])
        elif parsed.sender is not None:
            out.append(parsed.sender)
    return out


def _sender_with_code(fork, alloc, txs) -> bool:
    state = normalize_alloc(alloc)
    for sender in _senders(txs):
        code = state.get(sender, {}).get("code", b"")
        if code and not (len(code) == 23 and code.startswith(DELEGATION_PREFIX)):
            return True
    return False


def _calldata_floor(fork, alloc, txs) -> bool:
    """EIP-7623 (Prague): a transaction with calldata may be charged the floor."""
    if fork.lower() not in ("prague",):
        return False
    return any(len(to_bytes(tx.get("input", tx.get("data", "0x")) or "0x")) > 0 for tx in txs)


def _modexp_empty_base(fork, alloc, txs) -> bool:
    """MODEXP reached with an empty base: a call to 0x05, or any contract code (it may call it)."""
    state = normalize_alloc(alloc)
    modexp = (5).to_bytes(20, "big")
    for tx in txs:
        to = tx.get("to")
        if to and to_bytes(to) == modexp:
            data = to_bytes(tx.get("input", tx.get("data", "0x")) or "0x").ljust(96, b"\x00")
            if int.from_bytes(data[:32], "big") == 0:
                return True
        elif to and state.get(to_bytes(to), {}).get("code"):
            code = state[to_bytes(to)]["code"]
            if b"\x60\x05" in code or b"\x73" + modexp in code:
                return True
    return False


def _storage_collision(fork, alloc, txs) -> bool:
    """EIP-7610: an account with storage but no code and nonce 0 sits where a contract may be created."""
    return any(acc["storage"] and not acc["code"] and acc["nonce"] == 0 for acc in normalize_alloc(alloc).values())


def _wrong_chain_id(fork, alloc, txs) -> bool:
    """A transaction signed for a chain other than the comparisons' (chain id 1, as
    tests/crosscheck.py runs them)."""
    return any("chainId" in tx and to_int(tx["chainId"]) != COMPARISON_CHAIN_ID for tx in txs)


def _delegated_create(fork, alloc, txs) -> bool:
    """EIP-7702 (Prague): a delegated EOA (in the alloc, or made by a set-code transaction)
    may run CREATE/CREATE2 in its own context."""
    if fork.lower() != "prague":
        return False
    if any(to_int(tx.get("type", 0)) == 4 for tx in txs):
        return True
    return any(acc["code"].startswith(DELEGATION_PREFIX) for acc in normalize_alloc(alloc).values())


KNOWN_DIFFERENCES: Dict[str, KnownDifference] = {
    d.name: d
    for d in (
        KnownDifference(
            "priority-fee-above-max-fee",
            "stock py-evm accepts a type-2/3/4 transaction whose max priority fee exceeds its max fee "
            "(specs: invalid transaction)",
            "hyperion/evm/validation.py check_transaction",
            _tip_above_max,
        ),
        KnownDifference(
            "eip3607-sender-with-code",
            "stock py-evm accepts a transaction whose sender has code other than an EIP-7702 delegation "
            "(EIP-3607: invalid transaction)",
            "hyperion/evm/validation.py check_transaction",
            _sender_with_code,
        ),
        KnownDifference(
            "eip7623-receipt-floor",
            "stock py-evm's receipt gas is below the EIP-7623 calldata floor when the refund cap applies to the "
            "floor-raised gas (the fee charged is right; receipts and cumulative gas are not)",
            "hyperion/evm/forks.py _RefundRecordingExecutor + processor.execute_transaction",
            _calldata_floor,
        ),
        KnownDifference(
            "modexp-empty-base",
            "stock py-evm's MODEXP returns 0 for an empty base; the specs compute pow(0, exp, m), i.e. 1 % m "
            "for a zero exponent",
            "hyperion/evm/forks.py spec_modexp",
            _modexp_empty_base,
        ),
        KnownDifference(
            "delegated-eoa-create-initcode-charged-twice",
            "stock py-evm treats a CREATE/CREATE2 run by an EIP-7702-delegated EOA in its own context as the "
            "transaction's top-level create (is_origin_computation is msg.sender == origin) and charges its "
            "EIP-3860 init-code cost a second time: 2 gas per init-code word (the '1-12 gas' CREATE class)",
            "hyperion/evm/forks.py _SpecComputation.is_origin_computation",
            _delegated_create,
        ),
        KnownDifference(
            "wrong-chain-id",
            "stock py-evm's VM never checks a transaction's chain id (only its Chain class validates blocks "
            "against one): a transaction signed for another chain is executed (specs: invalid transaction)",
            "hyperion/evm/validation.py check_transaction",
            _wrong_chain_id,
        ),
        KnownDifference(
            "eip7610-storage-collision",
            "stock py-evm creates a contract at an address that has storage but no code or nonce "
            "(EIP-7610: a collision, the creation fails)",
            "hyperion/evm/accountdb account_has_code_or_nonce",
            _storage_collision,
        ),
    )
}


def explain(fork: str, alloc: Mapping[str, Any], txs: Sequence[Mapping[str, Any]]) -> List[str]:
    """Names of the known differences a batch can exhibit."""
    return [d.name for d in KNOWN_DIFFERENCES.values() if d.trigger(fork, alloc, txs)]


def unexplained() -> List[KnownDifference]:
    return [d for d in KNOWN_DIFFERENCES.values() if d.fixed_in is None]


def xfail_unexplained(fork: str, alloc, txs, problems: Sequence[str]) -> None:
    """In a comparison with the specs: a mismatch on a batch that triggers a difference
    whose cause is not found is an xfail naming it; anything else is a failure."""
    names = [d.name for d in unexplained() if d.trigger(fork, alloc, txs)]
    if problems and names:
        pytest.xfail(f"known, unexplained py-evm difference(s): {', '.join(names)}")
