"""py-evm 0.12.1b1's per-transaction executor methods without their eager debug formatting.

py-evm logs every transaction at its DEBUG2 level through f-strings that are built whether or
not the level is enabled: ``repr(transaction)``, ``encode_hex`` of the sender, the target, the
coinbase and the *whole code* of the called contract, and a keccak of the calldata.  For a plain
transfer on Hyperion's flat state that formatting is about a third of the transaction's cost
(for a contract call it grows with the code size).  ``BaseState.logger`` is also a property that
looks the logger up by name on every use.

These functions are line-for-line copies of py-evm's ``build_evm_message`` (Frontier, London,
Cancun), ``finalize_computation`` (Frontier, Spurious Dragon) and the computation's
``apply_message`` (Frontier, which every later fork inherits) minus the debug lines.
:func:`quiet_overrides` offers one only when the executor would otherwise run *exactly* the
py-evm function it copies, and only on the py-evm version they were copied from, so a newer
py-evm silently gets its own methods back.  The differential tests (tests/test_differential.py)
compare every fork family against stock py-evm.
"""
from __future__ import annotations

from typing import Dict

from eth import __version__ as PYEVM_VERSION
from eth._utils.address import generate_contract_address
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.constants import STACK_DEPTH_LIMIT
from eth.exceptions import InsufficientFunds, StackDepthLimit
from eth.vm.forks.cancun.state import BLOB_TX_TYPE, CancunTransactionExecutor
from eth.vm.forks.frontier.computation import FrontierComputation
from eth.vm.forks.frontier.state import FrontierTransactionExecutor
from eth.vm.forks.london.state import LondonTransactionExecutor
from eth.vm.forks.spurious_dragon._utils import collect_touched_accounts
from eth.vm.forks.spurious_dragon.state import SpuriousDragonTransactionExecutor
from eth.vm.message import Message

from hyperion.evm.quiet_sstore import sstore_opcodes

COPIED_FROM = "0.12.1b1"


def frontier_build_evm_message(self, transaction):
    gas_fee = transaction.gas * self.vm_state.get_gas_price(transaction)
    self.vm_state.delta_balance(transaction.sender, -1 * gas_fee)
    self.vm_state.increment_nonce(transaction.sender)
    message_gas = transaction.gas - transaction.intrinsic_gas
    if transaction.to == CREATE_CONTRACT_ADDRESS:
        contract_address = generate_contract_address(
            transaction.sender, self.vm_state.get_nonce(transaction.sender) - 1
        )
        data = b""
        code = transaction.data
    else:
        contract_address = None
        data = transaction.data
        code = self.vm_state.get_code(transaction.to)
    return Message(
        gas=message_gas, to=transaction.to, sender=transaction.sender, value=transaction.value, data=data,
        code=code, create_address=contract_address,
    )


# London's differs from Frontier's only in its debug line
london_build_evm_message = frontier_build_evm_message


def cancun_build_evm_message(self, transaction):
    london_gas_fee = transaction.gas * self.vm_state.get_gas_price(transaction)
    blob_data_fee = self.calc_data_fee(transaction) if transaction.type_id == BLOB_TX_TYPE else 0
    self.vm_state.delta_balance(transaction.sender, -1 * (london_gas_fee + blob_data_fee))
    self.vm_state.increment_nonce(transaction.sender)
    msg_refund = self.calc_message_refund(transaction)
    message_gas = transaction.gas - transaction.intrinsic_gas
    if transaction.to == CREATE_CONTRACT_ADDRESS:
        contract_address = generate_contract_address(
            transaction.sender, self.vm_state.get_nonce(transaction.sender) - 1
        )
        data = b""
        code = transaction.data
        is_delegation = False
    else:
        contract_address = None
        data = transaction.data
        code, delegation_address = self.get_code_at_address(transaction.to)
        is_delegation = delegation_address is not None
    return Message(
        gas=message_gas, to=transaction.to, sender=transaction.sender, value=transaction.value, data=data,
        code=code, create_address=contract_address, refund=msg_refund, is_delegation=is_delegation,
    )


def frontier_finalize_computation(self, transaction, computation):
    transaction_context = self.vm_state.get_transaction_context(transaction)
    gas_remaining = computation.get_gas_remaining()
    gas_used = transaction.gas - gas_remaining
    gas_refund = self.calculate_gas_refund(computation, gas_used)
    computation.data_floor_gas = self.calc_data_floor_gas(transaction, gas_used, gas_refund)
    gas_refund_amount = (gas_refund + gas_remaining - computation.data_floor_gas) * transaction_context.gas_price
    if gas_refund_amount:
        self.vm_state.delta_balance(computation.msg.sender, gas_refund_amount)
    gas_used = transaction.gas - gas_remaining - gas_refund + computation.data_floor_gas
    transaction_fee = gas_used * self.vm_state.get_tip(transaction)
    self.vm_state.delta_balance(self.vm_state.coinbase, transaction_fee)
    for account in computation.get_accounts_for_deletion():
        self.vm_state.delete_account(account)
    return computation


def spurious_dragon_finalize_computation(self, transaction, computation):
    computation = frontier_finalize_computation(self, transaction, computation)
    for account in collect_touched_accounts(computation):
        if self.vm_state.account_exists(account) and self.vm_state.account_is_empty(account):
            self.vm_state.delete_account(account)
    return computation


def frontier_apply_message(cls, state, message, transaction_context, parent_computation=None):
    snapshot = state.snapshot()
    if message.depth > STACK_DEPTH_LIMIT:
        raise StackDepthLimit("Stack depth limit reached")
    if message.should_transfer_value and message.value:
        sender_balance = state.get_balance(message.sender)
        if sender_balance < message.value:
            raise InsufficientFunds(f"Insufficient funds: {sender_balance} < {message.value}")
        state.delta_balance(message.sender, -1 * message.value)
        state.delta_balance(message.storage_address, message.value)
    state.touch_account(message.storage_address)
    computation = cls.apply_computation(state, message, transaction_context, parent_computation=parent_computation)
    if computation.is_error:
        state.revert(snapshot)
    else:
        state.commit(snapshot)
    return computation


_REPLACEMENTS = {
    "build_evm_message": {
        FrontierTransactionExecutor.build_evm_message: frontier_build_evm_message,
        LondonTransactionExecutor.build_evm_message: london_build_evm_message,
        CancunTransactionExecutor.build_evm_message: cancun_build_evm_message,
    },
    "finalize_computation": {
        FrontierTransactionExecutor.finalize_computation: frontier_finalize_computation,
        SpuriousDragonTransactionExecutor.finalize_computation: spurious_dragon_finalize_computation,
    },
}


#: class methods of the computation (compared by their underlying function)
_COMPUTATION_REPLACEMENTS = {
    "apply_message": {FrontierComputation.apply_message.__func__: frontier_apply_message},
}


def quiet_overrides(executor_class: type) -> Dict[str, object]:
    """Class attributes that replace ``executor_class``'s py-evm methods with the quiet copies."""
    if PYEVM_VERSION != COPIED_FROM:
        return {}
    overrides = {}
    for name, table in _REPLACEMENTS.items():
        replacement = table.get(getattr(executor_class, name))
        if replacement is not None:
            overrides[name] = replacement
    return overrides


def quiet_computation_overrides(computation_class: type) -> Dict[str, object]:
    """The same for a computation class: ``apply_message`` formats a debug line (two
    ``encode_hex``) for every value transfer, executed or not; SSTORE formats its gas
    reason on every call (:mod:`hyperion.evm.quiet_sstore`)."""
    if PYEVM_VERSION != COPIED_FROM:
        return {}
    overrides = sstore_opcodes(computation_class)
    for name, table in _COMPUTATION_REPLACEMENTS.items():
        replacement = table.get(getattr(computation_class, name).__func__)
        if replacement is not None:
            overrides[name] = classmethod(replacement)
    return overrides
