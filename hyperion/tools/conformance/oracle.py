"""The execution specs (PyPI ``ethereum-execution``) as an oracle: its t8n, in process.

Used by the cross-check tests and, when installed, by ``hyperion fixtures`` to name the
first differing account of a failed state test.  ``ethereum-execution`` is a test
dependency only; importing this module without it raises ``ImportError``.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import logging
import tempfile
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ethereum.trace import discard_evm_trace, set_evm_trace
from ethereum_spec_tools.evm_tools.t8n import T8N, ForkCache, t8n_arguments  # noqa: F401  (ImportError if absent)

from hyperion.tools.conformance.fixture_json import normalize_alloc, to_hash
from hyperion.evm.forks import Fork

#: Hyperion's canonical fork name -> the name the specs' t8n takes (``--state.fork``).
#: The specs call Petersburg "ConstantinopleFix" and do not implement the original
#: Constantinople (EIP-1283), which never activated on mainnet.
SPEC_FORK_NAMES = {
    "frontier": "Frontier", "homestead": "Homestead", "tangerine_whistle": "TangerineWhistle",
    "spurious_dragon": "SpuriousDragon", "byzantium": "Byzantium", "petersburg": "ConstantinopleFix",
    "istanbul": "Istanbul", "muir_glacier": "MuirGlacier", "berlin": "Berlin", "london": "London",
    "arrow_glacier": "ArrowGlacier", "gray_glacier": "GrayGlacier", "paris": "Paris", "shanghai": "Shanghai",
    "cancun": "Cancun", "prague": "Prague",
}


def spec_fork_name(fork: Fork) -> Optional[str]:
    return SPEC_FORK_NAMES.get(fork.name)


def _quiet() -> None:
    logging.getLogger("T8N").setLevel(logging.ERROR)


def spec_t8n(
    alloc: Mapping[str, Any],
    env: Mapping[str, Any],
    txs: Any,
    fork: str,
    chain_id: int = 1,
    reward: Optional[int] = None,
    state_test: bool = False,
    trace_dir: Optional[str] = None,
    trace_args: Sequence[str] = (),
) -> Dict[str, Any]:
    """Run ``ethereum-spec-evm t8n`` in this process; returns ``{"result": ..., "alloc": ...}``.

    ``trace_dir``: run with ``--trace`` (and ``trace_args``, e.g. ``--trace.memory``),
    writing the trace files there.
    """
    _quiet()
    parser = argparse.ArgumentParser()
    t8n_arguments(parser.add_subparsers(dest="evm_tool"))
    with tempfile.TemporaryDirectory(prefix="hyperion-spec-t8n-") as scratch:
        basedir = trace_dir or scratch
        args = ["t8n", "--input.alloc", "stdin", "--input.env", "stdin", "--input.txs", "stdin",
                "--state.fork", fork, "--state.chainid", str(chain_id), "--output.basedir", basedir,
                "--output.result", "stdout", "--output.alloc", "stdout"]
        if reward is not None:
            args += ["--state.reward", str(reward)]
        if state_test:
            args.append("--state-test")
        if trace_dir is not None:
            args += ["--trace", *trace_args]
        options = parser.parse_args(args)
        stdin = io.StringIO(json.dumps({"alloc": copy.deepcopy(dict(alloc)), "env": copy.deepcopy(dict(env)),
                                        "txs": copy.deepcopy(txs)}))
        out = io.StringIO()
        with ForkCache() as cache:
            tool = T8N(options, out, stdin, cache)
            try:
                code = tool.run()
            finally:  # the specs' tracer is process-wide: the next run must not inherit it
                set_evm_trace(discard_evm_trace)
        if code != 0:
            raise RuntimeError(f"the specs' t8n exited with {code}")
    return json.loads(out.getvalue())


def state_test_t8n_inputs(test: Mapping[str, Any], entry: Mapping[str, Any]
                          ) -> Tuple[Mapping[str, Any], Dict[str, Any], Dict[str, Any]]:
    """(alloc, env, transaction) that ``t8n --state-test`` runs for one state-test entry, the
    way the specs' ``statetest`` tool builds them."""
    env = dict(test["env"])
    env["blockHashes"] = {"0": env["previousHash"]} if "previousHash" in env else {}
    env["withdrawals"] = []
    indexes = entry["indexes"]
    d, g, v = indexes["data"], indexes["gas"], indexes["value"]
    tx: Dict[str, Any] = {}
    for key, value in test["transaction"].items():
        if key == "data":
            tx["input"] = value[d]
        elif key == "gasLimit":
            tx["gas"] = value[g]
        elif key == "value":
            tx["value"] = value[v]
        elif key == "accessLists":
            if value[d] is not None:
                tx["accessList"] = value[d]
        else:
            tx[key] = value
    return test["pre"], env, tx


def spec_state_test_post(fork: Fork, test: Mapping[str, Any], entry: Mapping[str, Any]
                         ) -> Optional[Tuple[bytes, Dict[bytes, Dict[str, Any]]]]:
    """(state root, normalized post alloc) the specs compute for one state-test entry, the
    way their ``statetest`` tool runs it; None for a fork the specs do not implement."""
    name = spec_fork_name(fork)
    if name is None:
        return None
    alloc, env, tx = state_test_t8n_inputs(test, entry)
    output = spec_t8n(alloc, env, [tx], name, chain_id=1, state_test=True)
    return to_hash(output["result"]["stateRoot"]), normalize_alloc(output["alloc"])
