"""The forks Hyperion runs: py-evm's VMs, Frontier to Prague, on Hyperion's state layer.

Each fork's state class is py-evm's with two changes: ``account_db_class`` is the flat,
trie-free :class:`~hyperion._core.flatdb.FlatAccountDB`, and the transaction executor
records the gas refund it granted so receipts report the gas the sender actually paid
for (py-evm's receipt misses the EIP-7623 floor in some cases; the execution specs are
the authority, DECISIONS 1).  Transaction validity is Hyperion's own
(``hyperion.evm.validation``), written after the execution specs' ``check_transaction``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Dict, Optional, Tuple, Type

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

from hyperion._core.flatdb import FlatAccountDB
from hyperion.errors import ChainConfigError
from hyperion.evm.quiet import quiet_overrides

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

#: forks the execution specs know and py-evm 0.12.1b1 does not (DECISIONS 2)
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


def _hyperion_state_class(vm_class):
    base_state = vm_class._state_class
    base_executor = base_state.transaction_executor_class
    executor = type(
        f"Hyperion{base_executor.__name__}", (_RefundRecordingExecutor, base_executor),
        # py-evm's methods without their eager debug formatting (see hyperion.evm.quiet)
        quiet_overrides(base_executor),
    )
    name = f"Hyperion{base_state.__name__}"
    return type(
        name,
        (base_state,),
        {
            "account_db_class": FlatAccountDB,
            "transaction_executor_class": executor,
            # System contracts come from genesis / the block's system calls, not from
            # py-evm's (buggy, see ENGINEERING_NOTES §1) constructor hook.
            "set_system_contracts": lambda self: None,
            # through the account DB, so Block-STM can keep coinbase credits as deltas
            "delta_balance": lambda self, address, delta: self._account_db.delta_balance(address, delta),
            # py-evm's BaseState.logger is a property that looks the logger up on every use
            "logger": get_extended_debug_logger(f"eth.vm.state.{name}"),
        },
    )


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
        return self.vm_class._state_class.computation_class

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
