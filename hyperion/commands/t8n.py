"""``hyperion t8n``: the state-transition tool interface (geth ``evm t8n``, ``ethereum-spec-evm t8n``)."""
from __future__ import annotations

import json
import os
import sys

import click

from hyperion.commands.options import scheduler_option, workers_option
from hyperion.tools.conformance.t8n import T8nError, run_t8n
from hyperion.errors import HyperionError
from hyperion.scheduler import make_scheduler


def _read_inputs(input_alloc: str, input_env: str, input_txs: str):
    stdin = None
    if "stdin" in (input_alloc, input_env, input_txs):
        try:
            stdin = json.load(sys.stdin)
        except json.JSONDecodeError as exc:
            raise T8nError(f"stdin: not JSON: {exc}") from None

    def read(name: str, key: str):
        if name == "stdin":
            if key not in stdin:
                raise T8nError(f"stdin: no {key!r} object")
            return stdin[key]
        try:
            with open(name) as handle:
                return json.load(handle)  # txs.rlp files hold a JSON string of RLP hex
        except (OSError, json.JSONDecodeError) as exc:
            raise T8nError(f"cannot read {key} from {name}: {exc}") from None

    return read(input_alloc, "alloc"), read(input_env, "env"), read(input_txs, "txs")


@click.command("t8n")
@click.option("--input.alloc", "input_alloc", default="alloc.json", show_default=True,
              help="Pre-state alloc JSON file, or 'stdin'.")
@click.option("--input.env", "input_env", default="env.json", show_default=True, help="Block env JSON file, or 'stdin'.")
@click.option("--input.txs", "input_txs", default="txs.json", show_default=True,
              help="Transactions: a JSON list (signed, secretKey or sender) or an RLP hex string; or 'stdin'.")
@click.option("--state.fork", "fork", default="Prague", show_default=True,
              help="Fork name (Frontier..Prague, ethereum/tests spellings, or a transition like BerlinToLondonAt5).")
@click.option("--state.chainid", "chain_id", default=1, show_default=True, type=int, help="Chain id.")
@click.option("--state.reward", "reward", default=None, type=int,
              help="Block reward in wei before the merge; -1 for none (default: the fork's).")
@click.option("--state-test", "state_test", is_flag=True,
              help="Apply the transactions the way state tests do: no system calls, no rewards.")
@click.option("--output.basedir", "basedir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the output files.")
@click.option("--output.result", "output_result", default="result.json", show_default=True,
              help="Result file name, or 'stdout'.")
@click.option("--output.alloc", "output_alloc", default="alloc.json", show_default=True,
              help="Post-state alloc file name, or 'stdout'.")
@click.option("--output.body", "output_body", default=None, help="Write the transactions' RLP here (or 'stdout').")
@scheduler_option
@workers_option
def command(input_alloc, input_env, input_txs, fork, chain_id, reward, state_test, basedir, output_result,
            output_alloc, output_body, scheduler, workers) -> None:
    """Apply transactions to a pre-state in one block; write the result and the post-state.

    Output 'stdout' prints one JSON object with the keys result / alloc / body.  Exit codes
    as geth's t8n: 2 scheduler unavailable, 3 bad fork or configuration, 4 bad input.

    A Prague block calls the EIP-7002 and EIP-7251 system contracts after its transactions;
    if the alloc lacks their code the result reports "blockException: system contract ...
    has no code".  Put the system contracts in the alloc (hyperion.genesis.system_contracts_alloc()
    gives all four), pass --state-test (no system calls), or pick an earlier --state.fork.
    """
    try:
        make_scheduler(scheduler, workers).close()
    except ValueError as exc:  # the scheduler cannot be built here
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        alloc, env, txs = _read_inputs(input_alloc, input_env, input_txs)
        output = run_t8n(alloc, env, txs, fork, chain_id=chain_id, reward=reward, scheduler=scheduler,
                         workers=workers, state_test=state_test)
    except T8nError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except HyperionError as exc:  # e.g. an alloc the genesis cannot hold
        click.echo(f"error: {exc}", err=True)
        sys.exit(4)

    combined = {}
    os.makedirs(basedir, exist_ok=True)
    body_hex = "0x" + output.body.hex()
    for name, key, value in ((output_result, "result", output.result), (output_alloc, "alloc", output.alloc),
                             (output_body, "body", body_hex)):
        if name is None:
            continue
        if name == "stdout":
            combined[key] = value
        else:
            with open(os.path.join(basedir, name), "w") as handle:
                json.dump(value, handle, indent=2)
    if combined:
        click.echo(json.dumps(combined, indent=2))
