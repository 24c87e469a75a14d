"""Small hand-assembled contracts for tests (runtime bytecode, with the assembly beside it).

Each exercises one way transactions can depend on each other through state.
"""
from __future__ import annotations

#: SSTORE(calldata[0:32], calldata[32:64])  -- contention set by the keys callers choose
KEYED_STORE = bytes.fromhex(
    "602035"  # PUSH1 0x20 CALLDATALOAD      value
    "600035"  # PUSH1 0x00 CALLDATALOAD      key
    "55"  # SSTORE
    "00"  # STOP
)

#: slot0 += 1; LOG0(new value)  -- one hot slot
COUNTER = bytes.fromhex(
    "600054"  # PUSH1 0 SLOAD
    "600101"  # PUSH1 1 ADD
    "80"  # DUP1
    "600055"  # PUSH1 0 SSTORE
    "600052"  # PUSH1 0 MSTORE
    "60206000a0"  # PUSH1 32 PUSH1 0 LOG0
    "00"  # STOP
)

#: slot1 = BALANCE(COINBASE)  -- reads the coinbase every transaction credits
COINBASE_READER = bytes.fromhex(
    "4131"  # COINBASE BALANCE
    "600155"  # PUSH1 1 SSTORE
    "00"
)

#: slot2 = 1, then REVERT if any calldata was sent
REVERTER = bytes.fromhex(
    "6001600255"  # PUSH1 1 PUSH1 2 SSTORE
    "36600a57"  # CALLDATASIZE PUSH1 0x0a JUMPI
    "00"  # STOP
    "5b60006000fd"  # JUMPDEST PUSH1 0 PUSH1 0 REVERT
)

#: init code of the child CREATE deploys: slot0 = 42, empty runtime
_CHILD_INIT = bytes.fromhex("602a6000556000 6000f3".replace(" ", ""))
#: CREATE(0, child init code); slot0 = created address  -- bumps its own nonce every call
CREATOR = (
    bytes.fromhex("69") + _CHILD_INIT  # PUSH10 init code
    + bytes.fromhex(
        "600052"  # PUSH1 0 MSTORE   (init code at memory 22..32)
        "600a60166000f0"  # PUSH1 10 PUSH1 22 PUSH1 0 CREATE
        "600055"  # PUSH1 0 SSTORE
        "00"
    )
)

#: SELFDESTRUCT(CALLER)  -- sends its balance to the caller
SELF_DESTRUCTOR = bytes.fromhex("33ff")

#: CALL(gas, calldata[12:32] as address, value=CALLVALUE)  -- forwards ETH (a value hop)
FORWARDER = bytes.fromhex(
    "6000600060006000"  # retSize retOffset argsSize argsOffset = 0
    "34"  # CALLVALUE
    "600035"  # PUSH1 0 CALLDATALOAD  (address, left-padded)
    "5a"  # GAS
    "f1"  # CALL
    "00"
)

#: init code that deploys KEYED_STORE (for contract-creation transactions)
def deploy_code(runtime: bytes) -> bytes:
    """Init code returning ``runtime`` (at most 255 bytes)."""
    size = len(runtime)
    assert size < 256
    # PUSH1 size DUP1 PUSH1 offset PUSH1 0 CODECOPY PUSH1 0 RETURN ; then runtime
    prefix = bytes([0x60, size, 0x80, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3, 0x00])
    return prefix + runtime
