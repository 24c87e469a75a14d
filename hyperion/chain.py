"""Chain configuration: chain id, fork schedule, system contracts, extra precompiles.

Written to the data directory by ``Engine.init_genesis`` and checked on every open
(docs/design.md §4), so a data directory can never be executed under rules it was not made for.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Optional, Tuple

from hyperion.errors import ChainConfigError
from hyperion.evm.forks import DEFAULT_FORK, FORKS, Fork, canonical_fork_name

HYPERION_DEVNET_CHAIN_ID = 31337


@dataclass(frozen=True)
class ForkActivation:
    """``fork`` applies from ``block`` (pre-merge style) or ``timestamp`` (Shanghai on)."""

    fork: str
    block: Optional[int] = None
    timestamp: Optional[int] = None

    def active(self, number: int, timestamp: int) -> bool:
        if self.block is not None and number < self.block:
            return False
        if self.timestamp is not None and timestamp < self.timestamp:
            return False
        return True


@dataclass(frozen=True)
class ChainConfig:
    chain_id: int = HYPERION_DEVNET_CHAIN_ID
    schedule: Tuple[ForkActivation, ...] = (ForkActivation(DEFAULT_FORK, block=0),)
    #: deploy the EIP-4788 / 2935 / 7002 / 7251 contracts in the default genesis
    system_contracts: bool = True
    #: names of extra precompile sets enabled on this chain (e.g. "ai")
    extra_precompiles: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.schedule:
            raise ChainConfigError("the fork schedule is empty")
        if self.chain_id <= 0:
            raise ChainConfigError(f"chain id must be positive, got {self.chain_id}")
        order = [FORKS[canonical_fork_name(a.fork)].order for a in self.schedule]
        if order != sorted(order):
            raise ChainConfigError("the fork schedule must list forks in activation order")

    @classmethod
    def single_fork(cls, fork: str, chain_id: int = 1, extra_precompiles: Tuple[str, ...] = ()) -> "ChainConfig":
        """A chain that runs one fork from genesis (fixtures, t8n)."""
        return cls(
            chain_id=chain_id,
            schedule=(ForkActivation(canonical_fork_name(fork), block=0),),
            system_contracts=False,
            extra_precompiles=tuple(extra_precompiles),
        )

    @classmethod
    def hyperion_default(cls) -> "ChainConfig":
        """A new Hyperion chain: Prague with the system contracts and the AI precompiles
        (docs/design.md §4; ``hyperion.precompiles.ai``, default addresses 0x0a01-0x0a0a)."""
        return cls(extra_precompiles=("ai",))

    def fork_at(self, number: int, timestamp: int) -> Fork:
        chosen = None
        for activation in self.schedule:
            if activation.active(number, timestamp):
                chosen = activation.fork
        if chosen is None:
            raise ChainConfigError(f"no fork is active at block {number} (timestamp {timestamp})")
        return FORKS[canonical_fork_name(chosen)]

    def to_json(self) -> str:
        return json.dumps(
            {
                "chain_id": self.chain_id,
                "schedule": [
                    {k: v for k, v in (("fork", a.fork), ("block", a.block), ("timestamp", a.timestamp)) if v is not None}
                    for a in self.schedule
                ],
                "system_contracts": self.system_contracts,
                "extra_precompiles": list(self.extra_precompiles),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> "ChainConfig":
        try:
            data = json.loads(text)
            return cls(
                chain_id=int(data["chain_id"]),
                schedule=tuple(
                    ForkActivation(canonical_fork_name(a["fork"]), a.get("block"), a.get("timestamp"))
                    for a in data["schedule"]
                ),
                system_contracts=bool(data.get("system_contracts", False)),
                extra_precompiles=tuple(data.get("extra_precompiles", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ChainConfigError(f"malformed chain configuration: {exc}") from exc

    def describe(self) -> str:
        forks = ", ".join(
            a.fork + (f"@{a.block}" if a.block else "") + (f"@t{a.timestamp}" if a.timestamp else "") for a in self.schedule
        )
        extra = f", precompiles: {', '.join(self.extra_precompiles)}" if self.extra_precompiles else ""
        return f"chain {self.chain_id} ({forks}{extra})"


def schedule_from_names(pairs: List[Tuple[str, int]]) -> Tuple[ForkActivation, ...]:
    return tuple(ForkActivation(canonical_fork_name(name), block=block) for name, block in pairs)
