"""``eth_call`` and gas estimation over an :class:`~hyperion.engine.Engine`.

The same functions serve embedders (``Engine.call`` / ``Engine.estimate_gas``) and the
gRPC ``Call`` / ``EstimateGas`` methods.  A call is a one-transaction block simulated on
the head (or on a pending block, ``at``) that keeps nothing.

Defaults, as eth_call has them:

- no ``env``: block ``parent + 1``, timestamp one past the parent's (or now), base fee 0,
  gas limit ``gas_cap``, the parent's coinbase; an ``env`` with number 0 gets ``parent + 1``;
- an :class:`~hyperion.types.UnsignedTx` with ``nonce=None`` uses the sender's nonce and
  with ``gas=0`` the block gas limit (at most ``gas_cap``); signed transactions run as they are;
- when the block number was not given and a commit moves the head meanwhile, the call
  runs on the new head rather than failing as a stale parent.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Optional, Union

from hyperion.deadline import Deadline
from hyperion.errors import DeadlineExceededError, StaleParentError
from hyperion.types import BlockEnv, BlockResult, TxResult, TxStatus, UnsignedTx

if TYPE_CHECKING:  # the engine imports this module
    from hyperion.engine import Engine

#: gas limit of a call's block (and transaction) when none is given
DEFAULT_GAS_CAP = 50_000_000
#: how often a call that follows the head re-targets after a commit moved it
FOLLOW_HEAD_ATTEMPTS = 5

TxInput = Union[bytes, UnsignedTx]
At = Union[None, int, BlockResult]


class EstimateTimeout(DeadlineExceededError):
    """:func:`estimate_gas` passed its deadline."""


@dataclass(frozen=True)
class GasEstimate:
    """The outcome of :func:`estimate_gas`.

    ``gas`` is the least gas limit with which the transaction succeeds (for a signed
    transaction, which cannot be re-run with other limits, the gas it used); when it does
    not succeed even with the cap, ``status`` says how it failed and ``gas`` is 0.
    """

    gas: int
    status: TxStatus
    return_data: bytes = b""
    error: Optional[str] = None

    @property
    def success(self) -> bool:
        return self.status is TxStatus.SUCCESS


def call_env(engine: "Engine", at: At = None, env: Optional[BlockEnv] = None, *,
             gas_cap: int = DEFAULT_GAS_CAP) -> BlockEnv:
    """The block a call at ``at`` runs in (see the module's defaults)."""
    if at is not None:
        parent = engine.pending_block(at)
        parent_env, parent_number = parent.env, parent.number
    else:
        parent_env, parent_number = engine.head_env, engine.head.number
    if env is not None:
        return replace(env, number=parent_number + 1) if env.number == 0 else env
    timestamp = parent_env.timestamp + 1 if parent_env is not None else int(time.time())
    return BlockEnv(number=parent_number + 1, timestamp=timestamp, base_fee=0, gas_limit=gas_cap,
                    coinbase=parent_env.coinbase if parent_env else b"\0" * 20)


def call_tx(engine: "Engine", tx: TxInput, at: At, gas: int) -> TxInput:
    """``tx`` with the defaults of an unsigned call filled in (nonce, ``gas``)."""
    if not isinstance(tx, UnsignedTx):
        return tx
    changes = {}
    if tx.nonce is None:
        changes["nonce"] = engine.get_nonce(tx.sender, at=at)
    if not tx.gas:
        changes["gas"] = gas
    return replace(tx, **changes) if changes else tx


def _run_one(engine: "Engine", env: BlockEnv, tx: TxInput, at: At, follow_head: bool,
             deadline: Optional[Deadline] = None) -> TxResult:
    """Simulate ``tx`` alone in ``env``; ``follow_head``: the block number was not given,
    so if a commit moves the head meanwhile, run on the new head instead of failing."""
    for attempt in range(FOLLOW_HEAD_ATTEMPTS):
        try:
            result = engine.simulate(env, [tx], parent=at, deadline=deadline)
        except StaleParentError:
            head = engine.head.number
            if not follow_head or attempt == FOLLOW_HEAD_ATTEMPTS - 1 or env.number == head + 1:
                raise
            env = replace(env, number=head + 1, parent_hash=None)
            continue
        return result.tx_results[0]
    raise AssertionError("unreachable")


def call(engine: "Engine", tx: TxInput, *, at: At = None, env: Optional[BlockEnv] = None,
         gas_cap: int = DEFAULT_GAS_CAP, deadline: Union[None, float, Deadline] = None,
         cancelled: Optional[Callable[[], bool]] = None) -> TxResult:
    """``eth_call``: run ``tx`` at ``at`` (None: the head) and return its result; nothing is kept.

    Invalid transactions come back as results with status INVALID; an unknown ``at`` or a
    stale ``env`` raise as in :meth:`~hyperion.engine.Engine.simulate`, and so does a
    ``deadline`` that passes or a ``cancelled()`` that turns true while the call runs.
    """
    follow_head = at is None and (env is None or env.number == 0)
    env = call_env(engine, at, env, gas_cap=gas_cap)
    tx = call_tx(engine, tx, at, min(env.gas_limit, gas_cap))
    return _run_one(engine, env, tx, at, follow_head, Deadline.of(deadline, cancelled, "the call"))


def estimate_gas(engine: "Engine", tx: TxInput, *, at: At = None, env: Optional[BlockEnv] = None,
                 gas_cap: int = DEFAULT_GAS_CAP, deadline: Optional[float] = None,
                 cancelled: Optional[Callable[[], bool]] = None) -> GasEstimate:
    """The least gas limit with which ``tx`` succeeds at ``at``: a binary search between the
    gas a run with the cap used and the cap (success is monotonic in the gas limit).

    ``deadline`` (a ``time.monotonic()`` value): raise :class:`EstimateTimeout` if the
    search is still running then (a run in progress stops); ``cancelled()`` true stops
    it with :class:`~hyperion.errors.ExecutionCancelled`.
    """
    stop = Deadline.of(deadline, cancelled, "EstimateGas")
    follow_head = at is None and (env is None or env.number == 0)
    env = call_env(engine, at, env, gas_cap=gas_cap)
    cap = min(env.gas_limit, gas_cap)
    tx = call_tx(engine, tx, at, cap)
    if isinstance(tx, UnsignedTx):
        cap = min(tx.gas, env.gas_limit)

    def run(gas: int) -> TxResult:
        if deadline is not None and time.monotonic() >= deadline:
            raise EstimateTimeout("EstimateGas: the deadline passed during the search")
        try:
            return _run_one(engine, env, replace(tx, gas=gas) if isinstance(tx, UnsignedTx) else tx, at, follow_head,
                            stop)
        except DeadlineExceededError as exc:  # in the middle of a run
            raise EstimateTimeout("EstimateGas: the deadline passed during the search") from exc

    first = run(cap)
    if first.status is not TxStatus.SUCCESS or not isinstance(tx, UnsignedTx):
        gas = first.gas_used if first.status is TxStatus.SUCCESS else 0
        return GasEstimate(gas=gas, status=first.status, return_data=first.return_data, error=first.error)
    lo, hi = max(first.gas_used - 1, 0), cap
    # most calls need little more than they used: try that first (63/64 of the gas passes
    # to a sub-call, EIP-150; 2300 is the stipend a value transfer needs on hand)
    optimistic = min(cap, (first.gas_used + 2300) * 64 // 63)
    if optimistic < hi:
        if run(optimistic).status is TxStatus.SUCCESS:
            hi = optimistic
        else:
            lo = optimistic
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if run(mid).status is TxStatus.SUCCESS:
            hi = mid
        else:
            lo = mid
    return GasEstimate(gas=hi, status=TxStatus.SUCCESS, return_data=first.return_data)
