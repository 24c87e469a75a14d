"""``hyperion t8n``: the state-transition tool interface (geth ``evm t8n``, ``ethereum-spec-evm t8n``)."""
from __future__ import annotations

import json
import os
import sys

import click

from hyperion.commands.jsoninput import parse_json
from hyperion.commands.options import scheduler_option, workers_option
from hyperion.tools.conformance import WorkerStart, checking_scheduler
from hyperion.tools.conformance.t8n import ERROR_EVM, ERROR_IO, T8nError, run_t8n
from hyperion.errors import HyperionError
from hyperion.trace import StructLogger, TraceOptions, TraceSession, trace_file_name


def _parse_json(data: bytes, where: str):
    return parse_json(data, where, T8nError)


def _read_inputs(input_alloc: str, input_env: str, input_txs: str):
    stdin = None
    if "stdin" in (input_alloc, input_env, input_txs):
        stream = getattr(sys.stdin, "buffer", None)
        raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
        stdin = _parse_json(raw, "stdin")
        if not isinstance(stdin, dict):
            raise T8nError("stdin: expected an object with alloc, env and txs")

    def read(name: str, key: str):
        if name == "stdin":
            if key not in stdin:
                raise T8nError(f"stdin: no {key!r} object")
            return stdin[key]
        try:
            with open(name, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise T8nError(f"cannot read {key} from {name}: {exc.strerror or exc}", ERROR_IO) from None
        return _parse_json(data, f"{key} file {name}")  # txs.rlp files hold a JSON string of RLP hex

    return read(input_alloc, "alloc"), read(input_env, "env"), read(input_txs, "txs")


def _fail(message: str, code: int) -> None:
    """One line on stderr (a value can be megabytes of hex: it is cut), then geth's exit code."""
    line = " ".join(str(message).split())
    click.echo(f"error: {line if len(line) <= 400 else line[:400] + '...'}", err=True)
    sys.exit(code)


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
@click.option("--output.basedir", "basedir", default=".", show_default=True, type=click.Path(),
              help="Directory for the output files.")
@click.option("--output.result", "output_result", default="result.json", show_default=True,
              help="Result file name, or 'stdout'.")
@click.option("--output.alloc", "output_alloc", default="alloc.json", show_default=True,
              help="Post-state alloc file name, or 'stdout'.")
@click.option("--output.body", "output_body", default=None, help="Write the transactions' RLP here (or 'stdout').")
@click.option("--trace", "trace", is_flag=True,
              help="Write each transaction's EIP-3155 trace to trace-<index>-<txhash>.jsonl in --output.basedir.")
@click.option("--trace.memory", "trace_memory", is_flag=True, help="Traces carry the memory.")
@click.option("--trace.nostack", "trace_nostack", is_flag=True, help="Traces leave out the stack.")
@click.option("--trace.returndata", "trace_returndata", is_flag=True, help="Traces carry the return data.")
@scheduler_option
@workers_option
def command(input_alloc, input_env, input_txs, fork, chain_id, reward, state_test, basedir, output_result,
            output_alloc, output_body, trace, trace_memory, trace_nostack, trace_returndata, scheduler,
            workers) -> None:
    """Apply transactions to a pre-state in one block; write the result and the post-state.

    Output 'stdout' prints one JSON object with the keys result / alloc / body.  Exit codes
    as geth's t8n: 2 execution (or the scheduler) failed, 3 bad fork or configuration,
    10 input that is not JSON or has the wrong shape or range, 11 I/O, 12 bad RLP.

    A Prague block calls the EIP-7002 and EIP-7251 system contracts after its transactions;
    if the alloc lacks their code the result reports "blockException: system contract ...
    has no code".  Put the system contracts in the alloc (hyperion.genesis.system_contracts_alloc()
    gives all four), pass --state-test (no system calls), or pick an earlier --state.fork.

    --trace runs the transactions in this process on py-evm's interpreter loop, whatever
    --scheduler says; the results are the same (docs/tracing.md).
    """
    try:
        the_scheduler = checking_scheduler(scheduler, workers)
    except ValueError as exc:  # the scheduler cannot be built here
        _fail(str(exc), ERROR_EVM)
    try:  # before any work, as geth does: a bad --output.basedir costs nothing
        os.makedirs(basedir, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create --output.basedir {basedir}: {exc.strerror or exc}", ERROR_IO)
    session = None
    if trace:
        options = TraceOptions(memory=trace_memory, stack=not trace_nostack, return_data=trace_returndata)
        session = TraceSession(lambda tx: StructLogger(options))
    # parallel workers boot while the input is read and parsed (a traced run needs none)
    starting = WorkerStart(the_scheduler) if scheduler != "sequential" and not trace else scheduler
    try:
        alloc, env, txs = _read_inputs(input_alloc, input_env, input_txs)
        output = run_t8n(alloc, env, txs, fork, chain_id=chain_id, reward=reward, scheduler=starting,
                         workers=workers, state_test=state_test, trace=session)
    except T8nError as exc:
        _fail(str(exc), exc.exit_code)
    except HyperionError as exc:  # the block could not be executed
        _fail(str(exc), ERROR_EVM)
    finally:
        if isinstance(starting, WorkerStart):
            starting.close()

    for index, tx_trace in output.traces:
        path = os.path.join(basedir, trace_file_name(index, tx_trace.tx_hash))
        try:
            with open(path, "w") as handle:
                handle.write(tx_trace.tracer.jsonl())
        except OSError as exc:
            _fail(f"cannot write a trace to {path}: {exc.strerror or exc}", ERROR_IO)
    combined = {}
    body_hex = "0x" + output.body.hex()
    for name, key, value in ((output_result, "result", output.result), (output_alloc, "alloc", output.alloc),
                             (output_body, "body", body_hex)):
        if name is None:
            continue
        if name == "stdout":
            combined[key] = value
        else:
            path = os.path.join(basedir, name)
            try:
                with open(path, "wb") as handle:
                    handle.write(dump_json(value))
            except OSError as exc:
                _fail(f"cannot write {key} to {path}: {exc.strerror or exc}", ERROR_IO)
    if combined:
        click.echo(dump_json(combined).decode("ascii"))


def dump_json(value) -> bytes:
    """``json.dumps(value, indent=2)``, byte for byte, written by orjson (a 5,000-transaction
    result and alloc take the standard library about a second).  orjson refuses integers
    beyond 64 bits and writes non-ASCII text as UTF-8 where the standard library escapes it:
    the standard library writes those."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - a core dependency; the standard library still works
        orjson = None
    if orjson is not None:
        try:
            data = orjson.dumps(value, option=orjson.OPT_INDENT_2)
        except TypeError:
            data = None
        if data is not None and data.isascii():
            return data
    return json.dumps(value, indent=2).encode("ascii")
