"""The forks Hyperion runs: py-evm's VMs, Frontier to Prague, on Hyperion's state layer.

Each fork's state class is py-evm's with these changes: ``account_db_class`` is the flat,
trie-free :class:`~hyperion.evm.accountdb.FlatAccountDB`; the transaction executor records
the gas refund it granted so receipts report the gas the sender actually paid for (py-evm's
receipt misses the EIP-7623 floor in some cases; the execution specs are the authority,
docs/design.md §1); and the computation class carries the specs' fixes (MODEXP with an empty
base, the EIP-3860 init-code cost of a create run by a delegated EOA) and a faster EIP-4844
point evaluation.  Transaction validity is Hyperion's own (``hyperion.evm.validation``),
written after the execution specs' ``check_transaction``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from typing import Dict, Optional, Tuple

from eth.precompiles.modexp import _compute_modexp_gas_fee_eip_198, extract_lengths

from eth.vm.forks import (
    ArrowGlacierVM,
    BerlinVM,
    ByzantiumVM,
    CancunVM,
    ConstantinopleVM,
    FrontierVM,
    GrayGlacierVM,
    HomesteadVM,
    IstanbulVM,
    LondonVM,
    MuirGlacierVM,
    ParisVM,
    PetersburgVM,
    PragueVM,
    ShanghaiVM,
    SpuriousDragonVM,
    TangerineWhistleVM,
)

from eth_utils.logging import get_extended_debug_logger

from hyperion.evm.interpreter.dispatch import CompiledLoopComputation

from hyperion.evm.accountdb import FlatAccountDB
from hyperion.errors import ChainConfigError
from hyperion.evm.quiet import quiet_computation_overrides, quiet_overrides

#: (canonical name, py-evm VM class), in activation order
_FORK_TABLE = (
    ("frontier", FrontierVM),
    ("homestead", HomesteadVM),
    ("tangerine_whistle", TangerineWhistleVM),
    ("spurious_dragon", SpuriousDragonVM),
    ("byzantium", ByzantiumVM),
    ("constantinople", ConstantinopleVM),
    ("petersburg", PetersburgVM),
    ("istanbul", IstanbulVM),
    ("muir_glacier", MuirGlacierVM),
    ("berlin", BerlinVM),
    ("london", LondonVM),
    ("arrow_glacier", ArrowGlacierVM),
    ("gray_glacier", GrayGlacierVM),
    ("paris", ParisVM),
    ("shanghai", ShanghaiVM),
    ("cancun", CancunVM),
    ("prague", PragueVM),
)

#: names used by ethereum/tests, t8n tools and geth, mapped to Hyperion's
ALIASES: Dict[str, str] = {
    "frontier": "frontier",
    "homestead": "homestead",
    "eip150": "tangerine_whistle",
    "tangerinewhistle": "tangerine_whistle",
    "eip158": "spurious_dragon",
    "spuriousdragon": "spurious_dragon",
    "byzantium": "byzantium",
    "constantinople": "constantinople",
    "constantinoplefix": "petersburg",
    "petersburg": "petersburg",
    "istanbul": "istanbul",
    "muirglacier": "muir_glacier",
    "berlin": "berlin",
    "london": "london",
    "arrowglacier": "arrow_glacier",
    "grayglacier": "gray_glacier",
    "paris": "paris",
    "merge": "paris",
    "shanghai": "shanghai",
    "cancun": "cancun",
    "prague": "prague",
}

#: forks the execution specs know and py-evm 0.12.1b1 does not (docs/design.md §2)
UNSUPPORTED_REASON = "py-evm 0.12.1b1 implements forks up to Prague; {fork} is not available"
UNSUPPORTED = {"osaka", "bpo1", "bpo2", "bpo3", "bpo4", "bpo5", "amsterdam"}

DEFAULT_FORK = "prague"


class _RefundRecordingExecutor:
    """Executor mixin: validity is checked before py-evm runs, and the refund is kept.

    ``calculate_gas_refund`` is the single place py-evm decides the refund; keeping its
    answer lets the receipt use exactly the gas the fee was charged for.
    """

    def validate_transaction(self, transaction) -> None:
        # hyperion.evm.validation.check_transaction already applied every rule of the
        # execution specs (a superset of py-evm's checks) against the same state.
        return None

    @classmethod
    def calculate_gas_refund(cls, computation, gas_used: int) -> int:
        refund = super().calculate_gas_refund(computation, gas_used)
        computation.hyperion_refund = refund
        return refund


MODEXP_ADDRESS = (5).to_bytes(20, "big")


def _read_padded(data: bytes, start: int, size: int) -> bytes:
    return data[start:start + size].ljust(size, b"\x00")


def spec_modexp(computation, gas_calculator=_compute_modexp_gas_fee_eip_198):
    """EIP-198 MODEXP as the execution specs define it.

    py-evm 0.12.1b1 returns 0 whenever the base is empty (``base_length == 0``), but
    ``0 ** 0 % m`` is ``1 % m``: an empty base with an empty or zero exponent must return 1
    (for ``m > 1``).  Gas is py-evm's own calculator (EIP-198 or EIP-2565) for the fork.
    """
    data = computation.msg.data_as_bytes
    computation.consume_gas(gas_calculator(data), reason="MODEXP Precompile")
    base_length, exponent_length, modulus_length = extract_lengths(data)
    if base_length == 0 and modulus_length == 0:
        computation.output = b""
        return computation
    exponent_start = 96 + base_length
    base = int.from_bytes(_read_padded(data, 96, base_length), "big")
    exponent = int.from_bytes(_read_padded(data, exponent_start, exponent_length), "big")
    modulus = int.from_bytes(_read_padded(data, exponent_start + exponent_length, modulus_length), "big")
    if modulus == 0:
        computation.output = b"\x00" * modulus_length
    else:
        computation.output = pow(base, exponent, modulus).to_bytes(modulus_length, "big")
    return computation


POINT_EVALUATION_ADDRESS = (10).to_bytes(20, "big")
_TRUSTED_SETUP = None


def point_evaluation(computation):
    """EIP-4844 point evaluation, as py-evm's, with the KZG trusted setup loaded once.

    py-evm 0.12.1b1 re-reads and parses the trusted setup file on every call (about a
    second each); the verification itself (``ckzg.verify_kzg_proof``) is unchanged.
    """
    import ckzg
    from eth.precompiles import point_evaluation as stock
    from eth.exceptions import VMError

    global _TRUSTED_SETUP
    computation.consume_gas(stock.POINT_EVALUATION_PRECOMPILE_GAS, reason="Point Evaluation Precompile")
    data = computation.msg.data_as_bytes
    if len(data) != 192:
        raise VMError("Point evaluation invalid input length.")
    versioned_hash, z, y, commitment, proof = data[:32], data[32:64], data[64:96], data[96:144], data[144:192]
    if stock.kzg_to_versioned_hash(commitment) != versioned_hash:
        raise VMError("Point evaluation commitment does not match versioned hash.")
    if _TRUSTED_SETUP is None:
        _TRUSTED_SETUP = ckzg.load_trusted_setup(stock.TRUSTED_SETUP_PATH, 0)
    try:
        valid = ckzg.verify_kzg_proof(commitment, z, y, proof, _TRUSTED_SETUP)
    except RuntimeError:  # malformed inputs are rejected inside the C code
        valid = False
    if not valid:
        raise VMError("Point evaluation KZG proof verification failed.")
    computation.output = stock.FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + stock.BLS_MODULUS.to_bytes(32, "big")
    return computation


def _spec_precompiles(computation_class) -> dict:
    """The fork's precompiles with the execution-specs fixes applied."""
    precompiles = dict(computation_class._precompiles or {})
    if MODEXP_ADDRESS in precompiles:
        stock = precompiles[MODEXP_ADDRESS]
        calculator = getattr(stock, "keywords", {}).get("gas_calculator", _compute_modexp_gas_fee_eip_198)
        precompiles[MODEXP_ADDRESS] = partial(spec_modexp, gas_calculator=calculator)
    if POINT_EVALUATION_ADDRESS in precompiles:
        precompiles[POINT_EVALUATION_ADDRESS] = point_evaluation
    return precompiles


class _SpecComputation:
    """Computation mixin: the execution-specs fixes that live in the message machinery."""

    @property
    def is_origin_computation(self) -> bool:
        """The transaction's own top-level message (depth 0).

        py-evm 0.12.1b1 tests ``msg.sender == origin``, which is also true for a CREATE or
        CREATE2 run by an EIP-7702-delegated EOA in its own context (the sender of that
        create message is the origin).  py-evm then charges the EIP-3860 init-code cost of
        that create twice (once in the opcode, once as if it were a create transaction):
        2 gas per init-code word too much.  The specs charge it once, in the opcode.
        """
        return self.msg.depth == 0


def _hyperion_state_class(vm_class):
    base_state = vm_class._state_class
    base_executor = base_state.transaction_executor_class
    executor = type(
        f"Hyperion{base_executor.__name__}", (_RefundRecordingExecutor, base_executor),
        # py-evm's methods without their eager debug formatting (see hyperion.evm.quiet)
        quiet_overrides(base_executor),
    )
    name = f"Hyperion{base_state.__name__}"
    base_computation = base_state.computation_class
    computation = type(
        f"Hyperion{base_computation.__name__}",
        # CompiledLoopComputation: the frame's bytecode through the compiled interpreter
        (_SpecComputation, CompiledLoopComputation, base_computation),
        {"_precompiles": _spec_precompiles(base_computation), **quiet_computation_overrides(base_computation)},
    )
    return type(
        name,
        (base_state,),
        {
            "account_db_class": FlatAccountDB,
            "transaction_executor_class": executor,
            "computation_class": computation,
            # System contracts come from genesis / the block's system calls, not from
            # py-evm's (buggy, see docs/design.md §3) constructor hook.
            "set_system_contracts": lambda self: None,
            # through the account DB, so Block-STM can keep coinbase credits as deltas
            "delta_balance": lambda self, address, delta: self._account_db.delta_balance(address, delta),
            # py-evm's BaseState.logger is a property that looks the logger up on every use
            "logger": get_extended_debug_logger(f"eth.vm.state.{name}"),
            **_bounded_blob_base_fee(vm_class),
        },
    )


def _bounded_blob_base_fee(vm_class) -> dict:
    """py-evm's ``blob_base_fee`` (the BLOBBASEFEE opcode, blob fees) through Hyperion's
    bounded sum: py-evm's own has no bound, and under a huge excess blob gas the opcode
    would never return (see ``hyperion.evm.processor.fake_exponential``)."""
    from hyperion.evm.processor import BLOB_BASE_FEE_FRACTION, MIN_BLOB_BASE_FEE, fake_exponential

    fraction = BLOB_BASE_FEE_FRACTION.get(vm_class.fork)
    if fraction is None:  # no blobs before Cancun
        return {}
    return {"blob_base_fee": property(
        lambda state: fake_exponential(MIN_BLOB_BASE_FEE, state.execution_context.excess_blob_gas, fraction))}


@dataclass(frozen=True)
class Fork:
    name: str
    order: int
    vm_class: type

    def __repr__(self) -> str:
        return f"Fork({self.name})"

    @cached_property
    def state_class(self) -> type:
        return _hyperion_state_class(self.vm_class)

    @property
    def computation_class(self) -> type:
        return self.state_class.computation_class

    def at_least(self, name: str) -> bool:
        return self.order >= FORKS[name].order

    # feature flags, named after what they change
    @property
    def has_eip161(self) -> bool:
        return self.at_least("spurious_dragon")

    @property
    def has_status_receipts(self) -> bool:
        return self.at_least("byzantium")

    @property
    def has_typed_transactions(self) -> bool:
        return self.at_least("berlin")

    @property
    def has_base_fee(self) -> bool:
        return self.at_least("london")

    @property
    def is_post_merge(self) -> bool:
        return self.at_least("paris")

    @property
    def has_withdrawals(self) -> bool:
        return self.at_least("shanghai")

    @property
    def has_blobs(self) -> bool:
        return self.at_least("cancun")

    @property
    def has_beacon_root_call(self) -> bool:
        return self.at_least("cancun")

    @property
    def has_history_call(self) -> bool:
        return self.at_least("prague")

    @property
    def has_requests(self) -> bool:
        return self.at_least("prague")

    @property
    def has_init_code_limit(self) -> bool:
        return self.at_least("shanghai")

    @property
    def has_calldata_floor(self) -> bool:
        return self.at_least("prague")

    @property
    def allowed_tx_types(self) -> Tuple[int, ...]:
        types = [0]
        if self.at_least("berlin"):
            types.append(1)
        if self.at_least("london"):
            types.append(2)
        if self.at_least("cancun"):
            types.append(3)
        if self.at_least("prague"):
            types.append(4)
        return tuple(types)

    def block_reward(self) -> int:
        return self.vm_class.get_block_reward()


FORKS: Dict[str, Fork] = {name: Fork(name, i, vm) for i, (name, vm) in enumerate(_FORK_TABLE)}


def canonical_fork_name(name: str) -> str:
    """Map any common spelling ("Cancun", "ConstantinopleFix", "EIP158", ...) to Hyperion's."""
    key = name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    if key in ALIASES:
        return ALIASES[key]
    if key in UNSUPPORTED or key.startswith("bpo"):
        raise ChainConfigError(UNSUPPORTED_REASON.format(fork=name))
    known = ", ".join(FORKS)
    raise ChainConfigError(f"unknown fork {name!r}; Hyperion supports {known}")


def get_fork(name: str) -> Fork:
    return FORKS[canonical_fork_name(name)]


def is_supported(name: str) -> Optional[str]:
    """None if Hyperion runs ``name``; otherwise the reason it does not."""
    try:
        canonical_fork_name(name)
    except ChainConfigError as exc:
        return str(exc)
    return None
