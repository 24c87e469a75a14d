"""Everything the fixture runner skips, and why: the one list (issue 3).

Each rule has a name and a reason; the runner asks :func:`skip_reason` before it runs a
case and the report counts skips by reason.  Nothing else in the runner may skip a case,
and no rule names a particular fixture: a rule is about a fork or a fixture format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from hyperion.evm.forks import UNSUPPORTED, UNSUPPORTED_REASON


@dataclass(frozen=True)
class SkipRule:
    name: str
    reason: str


UNSUPPORTED_FORK = SkipRule(
    "unsupported-fork",
    UNSUPPORTED_REASON.format(fork="Osaka and later forks (Osaka, BPO1-5, Amsterdam)"),
)
DAO_FORK = SkipRule(
    "dao-fork",
    "the DAO fork's irregular state change (block 1,920,000) is not part of Hyperion's fork rules",
)
ENGINE_FORMAT = SkipRule(
    "engine-api-format",
    "Engine API payload fixtures (engineNewPayloads): the same blocks are run from the BlockchainTests format",
)

#: the complete list, for documentation and the report
RULES: Tuple[SkipRule, ...] = (UNSUPPORTED_FORK, DAO_FORK, ENGINE_FORMAT)

_TRANSITION = re.compile(r"^(?P<first>[A-Za-z0-9]+?)To(?P<second>[A-Za-z0-9]+?)At(?P<time>Time)?(?P<at>\d+)(?P<k>k?)$")


def fork_skip(label: str) -> Optional[SkipRule]:
    """Why a fork (or a transition network ``XToYAtN``) cannot run, or None."""
    match = _TRANSITION.match(label)
    names = (match.group("first"), match.group("second")) if match else (label,)
    for name in names:
        key = name.lower().replace("_", "").replace("-", "")
        if key == "dao":
            return DAO_FORK
        if key in UNSUPPORTED or key.startswith("bpo"):
            return UNSUPPORTED_FORK
    return None


def parse_transition(label: str) -> Optional[Tuple[str, str, str, int]]:
    """``"ShanghaiToCancunAtTime15k"`` -> ("Shanghai", "Cancun", "timestamp", 15000);
    ``"BerlinToLondonAt5"`` -> ("Berlin", "London", "block", 5); None for a plain fork."""
    match = _TRANSITION.match(label)
    if not match:
        return None
    at = int(match.group("at")) * (1000 if match.group("k") else 1)
    return match.group("first"), match.group("second"), "timestamp" if match.group("time") else "block", at


def format_skip(test: Mapping) -> Optional[SkipRule]:
    """Why a fixture format cannot run, or None."""
    if "engineNewPayloads" in test:
        return ENGINE_FORMAT
    return None
