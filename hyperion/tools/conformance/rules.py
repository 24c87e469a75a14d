"""Header rules a block environment is derived from (t8n) or checked against (fixtures).

Written after the execution specs (``ethereum.forks.<fork>.fork`` / ``vm.gas``):
``calculate_base_fee_per_gas``, ``calculate_excess_blob_gas``, ``check_gas_limit`` and
``validate_header``.  Hyperion executes blocks; a fixture's block is only valid if its
header also obeys these, so the fixture runner checks them before executing.
"""
from __future__ import annotations

from typing import List, Optional

from hyperion.evm.forks import Fork
from hyperion.evm.header import EMPTY_OMMERS_HASH

ELASTICITY_MULTIPLIER = 2
BASE_FEE_MAX_CHANGE_DENOMINATOR = 8
INITIAL_BASE_FEE = 1_000_000_000
GAS_LIMIT_ADJUSTMENT_FACTOR = 1024
GAS_LIMIT_MINIMUM = 5000
TARGET_BLOB_GAS_PER_BLOCK = {"cancun": 393_216, "prague": 786_432}


def target_blob_gas(fork: Fork) -> int:
    return TARGET_BLOB_GAS_PER_BLOCK.get(fork.name, TARGET_BLOB_GAS_PER_BLOCK["prague"])


def check_gas_limit(gas_limit: int, parent_gas_limit: int) -> bool:
    delta = parent_gas_limit // GAS_LIMIT_ADJUSTMENT_FACTOR
    return parent_gas_limit - delta < gas_limit < parent_gas_limit + delta and gas_limit >= GAS_LIMIT_MINIMUM


def base_fee_from_parent(gas_limit: int, parent_gas_limit: int, parent_gas_used: int, parent_base_fee: int) -> int:
    """EIP-1559 (execution specs ``calculate_base_fee_per_gas``, without the gas limit check)."""
    parent_gas_target = parent_gas_limit // ELASTICITY_MULTIPLIER
    if parent_gas_used == parent_gas_target:
        return parent_base_fee
    if parent_gas_used > parent_gas_target:
        delta = parent_base_fee * (parent_gas_used - parent_gas_target) // parent_gas_target
        return parent_base_fee + max(delta // BASE_FEE_MAX_CHANGE_DENOMINATOR, 1)
    delta = parent_base_fee * (parent_gas_target - parent_gas_used) // parent_gas_target
    return parent_base_fee - delta // BASE_FEE_MAX_CHANGE_DENOMINATOR


def excess_blob_gas_from_parent(fork: Fork, parent_excess_blob_gas: int, parent_blob_gas_used: int) -> int:
    """EIP-4844 ``calculate_excess_blob_gas`` (Cancun target; EIP-7691's from Prague)."""
    total = parent_excess_blob_gas + parent_blob_gas_used
    target = target_blob_gas(fork)
    return 0 if total < target else total - target


def header_problems(fork: Fork, header, parent, parent_fork: Optional[Fork] = None) -> List[str]:
    """Rules of ``validate_header`` a header breaks, given its parent (both
    :class:`~hyperion.tools.conformance.fixture_json.Header`).  Proof-of-work seals and
    difficulty are not checked (Hyperion is not a consensus client)."""
    problems: List[str] = []
    parent_fork = parent_fork or fork
    if header["number"] != parent["number"] + 1:
        problems.append(f"number {header['number']} does not follow the parent's {parent['number']}")
    if header["timestamp"] <= parent["timestamp"]:
        problems.append(f"timestamp {header['timestamp']} not after the parent's {parent['timestamp']}")
    if header["gasUsed"] > header["gasLimit"]:
        problems.append(f"gas used {header['gasUsed']} above the gas limit {header['gasLimit']}")
    if len(header["extraData"]) > 32:
        problems.append(f"extra data of {len(header['extraData'])} bytes (at most 32)")
    if header["parentHash"] != parent.hash:
        problems.append("parent hash is not the parent's hash")
    parent_gas_limit = parent["gasLimit"]
    if fork.has_base_fee and not parent_fork.has_base_fee:
        parent_gas_limit *= ELASTICITY_MULTIPLIER  # the London transition block
    if not check_gas_limit(header["gasLimit"], parent_gas_limit):
        problems.append(f"gas limit {header['gasLimit']} out of bounds for the parent's {parent_gas_limit}")
    if fork.has_base_fee:
        if header.get("baseFeePerGas") is None:
            problems.append("no base fee")
        else:
            if parent_fork.has_base_fee:
                expected = base_fee_from_parent(header["gasLimit"], parent["gasLimit"], parent["gasUsed"],
                                                parent["baseFeePerGas"])
            else:
                expected = INITIAL_BASE_FEE
            if header["baseFeePerGas"] != expected:
                problems.append(f"base fee {header['baseFeePerGas']}, expected {expected} from the parent")
    if fork.has_blobs:
        if header.get("excessBlobGas") is None or header.get("blobGasUsed") is None:
            problems.append("no blob gas fields")
        else:
            if parent_fork.has_blobs:
                expected = excess_blob_gas_from_parent(fork, parent["excessBlobGas"], parent["blobGasUsed"])
            else:
                expected = 0
            if header["excessBlobGas"] != expected:
                problems.append(f"excess blob gas {header['excessBlobGas']}, expected {expected} from the parent")
    if fork.is_post_merge:
        if header["difficulty"] != 0:
            problems.append(f"difficulty {header['difficulty']} after the merge")
        if header["nonce"] != b"\x00" * 8:
            problems.append("non-zero nonce after the merge")
        if header["uncleHash"] != EMPTY_OMMERS_HASH:
            problems.append("ommers after the merge")
    for name, present in (("baseFeePerGas", fork.has_base_fee), ("withdrawalsRoot", fork.has_withdrawals),
                          ("blobGasUsed", fork.has_blobs), ("parentBeaconBlockRoot", fork.has_blobs),
                          ("requestsHash", fork.has_requests)):
        if (header.get(name) is not None) != present:
            problems.append(f"header field {name} {'missing' if present else 'not allowed'} in {fork.name}")
    return problems
