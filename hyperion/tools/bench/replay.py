"""A ``t8n`` input (alloc, env, txs files) as a workload of ``hyperion bench run``, so any
block in that format becomes a benchmark: ``--workload t8n:DIR`` reads ``DIR/alloc.json``,
``DIR/env.json`` and ``DIR/txs.json`` (or ``DIR/txs.rlp``), read as ``hyperion t8n`` reads
them (docs/conformance.md), under ``--state.fork`` given as ``DIR/fork.txt`` (default Prague).
"""
from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass
from typing import List

from hyperion.chain import ChainConfig
from hyperion.tools.conformance.fixture_json import genesis_alloc, normalize_alloc, to_int
from hyperion.tools.conformance.t8n import T8nError, build_env, parse_txs, resolve_fork
from hyperion.types import BlockEnv

PREFIX = "t8n:"
DEFAULT_FORK = "Prague"


@dataclass
class Replay:
    alloc: dict
    config: ChainConfig
    env: BlockEnv
    txs: List[object]
    #: what ``init_genesis`` needs to put the pre-state just below ``env``
    genesis_number: int
    genesis_timestamp: int


def _read_json(path: str):
    try:
        with open(path) as handle:
            return json.load(handle)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None


def load(directory: str, chain_id: int = 1) -> Replay:
    """The block in ``directory``; a ValueError names what is missing or malformed."""
    txs_path = next((os.path.join(directory, name) for name in ("txs.json", "txs.rlp")
                     if os.path.exists(os.path.join(directory, name))), None)
    if txs_path is None:
        raise ValueError(f"{directory}: no txs.json or txs.rlp")
    fork_path = os.path.join(directory, "fork.txt")
    fork_name = pathlib.Path(fork_path).read_text().strip() if os.path.exists(fork_path) else DEFAULT_FORK
    alloc, env, txs = (_read_json(os.path.join(directory, "alloc.json")),
                       _read_json(os.path.join(directory, "env.json")), _read_json(txs_path))
    try:
        fork = resolve_fork(fork_name, to_int(env.get("currentNumber", 0), "currentNumber"),
                            to_int(env.get("currentTimestamp", 0), "currentTimestamp"))
        block_env, _derived = build_env(fork, env)
        inputs, rejected = parse_txs(txs, fork, chain_id)
        pre = genesis_alloc(normalize_alloc(alloc))
    except (T8nError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{directory}: {exc}") from None
    if rejected:
        raise ValueError(f"{directory}: {next(iter(rejected.values()))}")
    return Replay(pre, ChainConfig.single_fork(fork.name, chain_id=chain_id), block_env,
                  [item for _, item in inputs], block_env.number - 1, max(block_env.timestamp - 1, 0))
