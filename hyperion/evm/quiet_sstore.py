"""py-evm 0.12.1b1's SSTORE without formatting its gas reason on every call.

Every SSTORE passes ``consume_gas`` a reason built by an f-string -- the storage address in
hex and the slot, the new, current and original values as decimal integers (256-bit slots
take the longest) -- about 1.75 us per SSTORE, read only if the charge runs out of gas (the
``OutOfGas`` message) or py-evm's DEBUG2 log is on.  The functions here are line-for-line
copies of py-evm's SSTORE logic (``eth.vm.logic.storage.sstore`` and ``net_sstore``, Istanbul's
``sstore_eip2200_generic``, Berlin's ``sstore_eip2929_generic``) that pass a
:class:`SstoreReason` instead: it holds the values and gives exactly py-evm's text whenever
it is formatted or turned into a string, so messages and logs are unchanged, and gas and
state are py-evm's.  The Implicit-SLOAD reason (Berlin on) is a constant, formatted once.

:func:`sstore_opcodes` swaps the SSTORE entry of a fork's opcode table only where that entry
is exactly one of py-evm's (each fork's gas schedule and the STATICCALL guard kept), and
only on the py-evm version these were copied from.  SSTORE is never one of the opcodes the
compiled interpreter runs itself (hyperion.evm.interpreter.dispatch), so both loops call it.
"""
from __future__ import annotations

from functools import partial
from typing import Dict

from eth import __version__ as PYEVM_VERSION
from eth import constants
from eth.exceptions import OutOfGas
from eth.vm import mnemonics
from eth.vm.forks.berlin.logic import GAS_SCHEDULE_EIP2929, _mark_storage_warm
from eth.vm.forks.berlin.logic import sstore_eip2929 as PYEVM_SSTORE_EIP2929
from eth.vm.forks.berlin import constants as berlin_constants
from eth.vm.forks.byzantium.opcodes import ensure_no_static
from eth.vm.forks.constantinople.storage import GAS_SCHEDULE_EIP1283
from eth.vm.forks.constantinople.storage import sstore_eip1283 as PYEVM_SSTORE_EIP1283
from eth.vm.forks.istanbul.storage import GAS_SCHEDULE_EIP2200
from eth.vm.forks.istanbul.storage import sstore_eip2200 as PYEVM_SSTORE_EIP2200
from eth.vm.forks.london.storage import GAS_SCHEDULE_EIP3529
from eth.vm.forks.london.storage import sstore_eip3529 as PYEVM_SSTORE_EIP3529
from eth.vm.logic import storage
from eth.vm.opcode import as_opcode
from eth_utils import encode_hex

COPIED_FROM = "0.12.1b1"
SSTORE = 0x55


class SstoreReason:
    """SSTORE's gas reason, formatted when read: py-evm's text, byte for byte."""

    __slots__ = ("address", "slot", "value", "current", "original")

    def __init__(self, address: bytes, slot: int, value: int, current: int, original=None) -> None:
        self.address = address
        self.slot = slot
        self.value = value
        self.current = current
        self.original = original  # None: Frontier's reason, which has no original value

    def __str__(self) -> str:
        if self.original is None:
            return f"SSTORE: {encode_hex(self.address)}[{self.slot}] -> {self.value} ({self.current})"
        return (f"SSTORE: {encode_hex(self.address)}[{self.slot}] -> {self.value} (current: {self.current} / "
                f"original: {self.original})")

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    __repr__ = __str__


def sstore(computation) -> None:
    slot, value = computation.stack_pop_ints(2)
    current_value = computation.state.get_storage(address=computation.msg.storage_address, slot=slot)
    is_currently_empty = not bool(current_value)
    is_going_to_be_empty = not bool(value)
    if is_currently_empty:
        gas_refund = 0
    elif is_going_to_be_empty:
        gas_refund = constants.REFUND_SCLEAR
    else:
        gas_refund = 0
    if is_currently_empty and is_going_to_be_empty:
        gas_cost = constants.GAS_SRESET
    elif is_currently_empty:
        gas_cost = constants.GAS_SSET
    elif is_going_to_be_empty:
        gas_cost = constants.GAS_SRESET
    else:
        gas_cost = constants.GAS_SRESET
    computation.consume_gas(gas_cost, reason=SstoreReason(computation.msg.storage_address, slot, value, current_value))
    if gas_refund:
        computation.refund_gas(gas_refund)
    computation.state.set_storage(address=computation.msg.storage_address, slot=slot, value=value)


def net_sstore(gas_schedule, computation) -> int:
    slot, value = computation.stack_pop_ints(2)
    current_value = computation.state.get_storage(address=computation.msg.storage_address, slot=slot)
    original_value = computation.state.get_storage(address=computation.msg.storage_address, slot=slot,
                                                   from_journal=False)
    gas_refund = 0
    if current_value == value:
        gas_cost = gas_schedule.sload_gas
    else:
        if original_value == current_value:
            if original_value == 0:
                gas_cost = gas_schedule.sstore_set_gas
            else:
                gas_cost = gas_schedule.sstore_reset_gas
                if value == 0:
                    gas_refund += gas_schedule.sstore_clears_schedule
        else:
            gas_cost = gas_schedule.sload_gas
            if original_value != 0:
                if current_value == 0:
                    gas_refund -= gas_schedule.sstore_clears_schedule
                if value == 0:
                    gas_refund += gas_schedule.sstore_clears_schedule
            if original_value == value:
                if original_value == 0:
                    gas_refund += gas_schedule.sstore_set_gas - gas_schedule.sload_gas
                else:
                    gas_refund += gas_schedule.sstore_reset_gas - gas_schedule.sload_gas
    computation.consume_gas(
        gas_cost, reason=SstoreReason(computation.msg.storage_address, slot, value, current_value, original_value))
    if gas_refund:
        computation.refund_gas(gas_refund)
    computation.state.set_storage(address=computation.msg.storage_address, slot=slot, value=value)
    return slot


def sstore_eip2200_generic(gas_schedule, computation) -> int:
    gas_remaining = computation.get_gas_remaining()
    if gas_remaining <= 2300:
        raise OutOfGas("Net-metered SSTORE always fails below 2300 gas, per EIP-2200", gas_remaining)
    else:
        return net_sstore(gas_schedule, computation)


_IMPLICIT_SLOAD = f"Implicit SLOAD during {mnemonics.SSTORE}"


def sstore_eip2929_generic(gas_schedule, computation) -> int:
    slot = sstore_eip2200_generic(gas_schedule, computation)
    if _mark_storage_warm(computation, slot):
        gas_cost = berlin_constants.COLD_SLOAD_COST
        computation.consume_gas(gas_cost, reason=_IMPLICIT_SLOAD)
    return slot


#: py-evm's SSTORE logic function -> its copy here, with the same gas schedule bound
_COPIES = {
    storage.sstore: sstore,
    PYEVM_SSTORE_EIP1283: partial(net_sstore, GAS_SCHEDULE_EIP1283),
    PYEVM_SSTORE_EIP2200: partial(sstore_eip2200_generic, GAS_SCHEDULE_EIP2200),
    PYEVM_SSTORE_EIP2929: partial(sstore_eip2929_generic, GAS_SCHEDULE_EIP2929),
    PYEVM_SSTORE_EIP3529: partial(sstore_eip2929_generic, GAS_SCHEDULE_EIP3529),
}


def sstore_opcodes(computation_class: type) -> Dict[str, object]:
    """``{"opcodes": table}``: the class's opcode table with SSTORE's copy in, or ``{}``
    where its SSTORE is not exactly one of py-evm's (see the module docstring)."""
    if PYEVM_VERSION != COPIED_FROM:
        return {}
    opcode = computation_class.opcodes.get(SSTORE)
    logic = getattr(opcode, "logic_fn", None)
    if _COPIES.get(logic) is not None:  # before Byzantium: no STATICCALL, no guard
        copy = _COPIES[logic]
    elif _COPIES.get(getattr(logic, "__wrapped__", None)) is not None:  # py-evm's ensure_no_static guard
        copy = ensure_no_static(_COPIES[logic.__wrapped__])
    else:
        return {}
    return {"opcodes": {**computation_class.opcodes,
                        SSTORE: as_opcode(logic_fn=copy, mnemonic=opcode.mnemonic, gas_cost=opcode.gas_cost)}}
