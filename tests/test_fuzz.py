"""Fuzzing with hypothesis: hostile input anywhere a caller can hand Hyperion bytes or JSON.

Targets and the only failures each may show (anything else, or a hang, fails the test):

- transaction decoding (``decode_signed``): never raises, an undecodable input is a
  ``PreparedTx`` with ``error`` set; a batch of such inputs through ``Engine.simulate``:
  one result per input, nothing raised;
- block environment (``BlockEnv``): ``BlockEnvError``; an accepted one executes;
- alloc / genesis (``alloc_to_diff``, ``Engine.init_genesis``): ``GenesisError``;
- t8n (``run_t8n``; the command on raw stdin): ``T8nError``; exit codes 0, 3, 10, 11, 12;
- gRPC request messages (every unary method and the stream, through the service with
  ``hyperion.rpc.convert``): never INTERNAL; raw bytes: protobuf's ``DecodeError``;
- AI precompile inputs (``runtime.execute`` on junk and near-valid calls, over valid,
  broken and missing data contracts, under a gas cap): a ``VMError``.

CI runs a small derandomized sample (the "ci" profile, tests/conftest.py).  The long run
(``-m long_run``; ``python tests/run.py --long``) runs well over 100,000 inputs in all,
``HYPERION_FUZZ_SCALE`` times the counts below; with ``-s`` it prints the counts reached.
"""
from __future__ import annotations

import collections
import json
import os

import pytest
from click.testing import CliRunner
from eth.exceptions import OutOfGas, VMError
from google.protobuf import message_factory
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperion import BlockEnv, ChainConfig, Engine, GenesisError, InvalidBlockError, Ommer, UnsignedTx, Withdrawal
from hyperion.tools import workloads
from hyperion.blockenv_bounds import BlockEnvError
from hyperion.cli import main
from hyperion.evm.forks import get_fork
from hyperion.evm.transactions import PreparedTx, decode_signed
from hyperion.genesis import alloc_to_diff
from hyperion.rpc.service import ExecutionService
from hyperion.tools.conformance.t8n import T8nError, run_t8n
from hyperion.v1 import execution_pb2 as pb

from tests.fuzz_strategies import SIZED_BYTES, ints, json_values, messages, mutated, tx_bytes
from tests.hostile import deadline

SCALE = float(os.environ.get("HYPERION_FUZZ_SCALE", "1"))
COUNTS: collections.Counter = collections.Counter()
#: how far inputs got (accepted / refused, by status code), to show the fuzzing gets deep
OUTCOMES: collections.Counter = collections.Counter()
FORKS = ["frontier", "homestead", "byzantium", "berlin", "london", "shanghai", "cancun", "prague"]


def fuzz(ci: int, long: int, **strategies):
    """Two tests of one body: the CI sample and the long run."""
    def make(body):
        sample = settings(max_examples=ci)(given(**strategies)(body))
        long_run = settings(max_examples=max(1, int(long * SCALE)), derandomize=False, database=None, deadline=None,
                            suppress_health_check=list(HealthCheck))(given(**strategies)(body))
        return sample, pytest.mark.long_run(long_run)
    return make


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    if COUNTS:
        print(f"\nfuzz inputs: {dict(COUNTS)}; total {sum(COUNTS.values()):,}\noutcomes: {dict(OUTCOMES)}")


ENGINE = None


def engine() -> Engine:
    """One in-memory chain for the targets that execute (genesis: funded wallets, a token)."""
    global ENGINE
    if ENGINE is None:
        ENGINE = Engine.in_memory(chain_config=ChainConfig())
        ENGINE.init_genesis(workloads.genesis_alloc(10), timestamp=1_700_000_000)
    return ENGINE


def env1(**changes) -> BlockEnv:
    fields = dict(number=1, timestamp=1_700_000_012, base_fee=workloads.GWEI, parent_beacon_block_root=b"\x01" * 32)
    fields.update(changes)
    return BlockEnv(**fields)


# -- transaction decoding -------------------------------------------------------------------------
def _decode(raw, fork):
    COUNTS["tx decoding"] += 1
    prepared = decode_signed(get_fork(fork), raw, 31337)
    assert isinstance(prepared, PreparedTx)
    assert prepared.error is None or isinstance(prepared.error, str)
    if prepared.error is None:
        assert prepared.tx is not None and len(prepared.sender) == 20
    OUTCOMES["tx decoded" if prepared.error is None else "tx refused"] += 1


test_tx_decoding, test_tx_decoding_long = fuzz(60, 40_000, raw=tx_bytes(), fork=st.sampled_from(FORKS))(_decode)


def _unsigned():
    return st.builds(
        UnsignedTx, sender=st.sampled_from([w.address for w in workloads.wallets(3)]) | st.binary(min_size=20,
                                                                                                    max_size=20),
        nonce=st.integers(0, 2**64 - 1), gas=st.integers(1, 2**64 - 1), to=st.none() | st.binary(min_size=20,
                                                                                                  max_size=20),
        value=st.integers(0, 2**256 - 1), data=st.binary(max_size=64), type=st.sampled_from([0, 1, 2, 4]),
        gas_price=st.none() | st.integers(0, 2**256 - 1), max_fee_per_gas=st.none() | st.integers(0, 2**256 - 1),
        max_priority_fee_per_gas=st.none() | st.integers(0, 2**256 - 1), chain_id=st.none() | st.integers(0, 2**64 - 1))


def _batch(inputs):
    COUNTS["engine batches"] += 1
    with deadline(60, "a fuzzed batch"):
        result = engine().simulate(env1(), inputs)
    assert len(result.tx_results) == len(inputs)


test_engine_batch, test_engine_batch_long = fuzz(
    25, 3_000, inputs=st.lists(tx_bytes() | _unsigned(), max_size=6))(_batch)


# -- block environment ----------------------------------------------------------------------------
def _env_fields():
    hashes = st.one_of(SIZED_BYTES, st.none())
    return st.fixed_dictionaries({"number": st.just(1) | ints(), "timestamp": st.just(1_700_000_012) | ints()}, optional={
        "coinbase": SIZED_BYTES, "gas_limit": ints(), "base_fee": ints(),
        "prev_randao": SIZED_BYTES, "difficulty": ints(), "parent_hash": hashes, "excess_blob_gas": ints(),
        "parent_beacon_block_root": hashes, "extra_data": st.binary(max_size=40), "block_reward": ints(),
        "max_blob_gas_per_block": ints(), "block_hashes": st.dictionaries(ints(), SIZED_BYTES, max_size=3),
        "withdrawals": st.lists(st.builds(Withdrawal, ints(), ints(), SIZED_BYTES, ints()), max_size=3),
        "ommers": st.lists(st.builds(Ommer, ints(), SIZED_BYTES), max_size=2),
    })


def _env(fields):
    COUNTS["block env"] += 1
    try:
        env = BlockEnv(**fields)
    except BlockEnvError as exc:
        assert exc.field and exc.reason
        OUTCOMES["env refused"] += 1
        return
    OUTCOMES["env accepted"] += 1
    if env.number == 1 and env.base_fee is not None:
        with deadline(60, "a block in a fuzzed environment"):
            try:
                engine().simulate(env, [])
            except InvalidBlockError:
                pass


test_block_env, test_block_env_long = fuzz(80, 20_000, fields=_env_fields())(_env)


# -- alloc and genesis ------------------------------------------------------------------------------
def _allocs():
    words = st.integers(0, 2**256 - 1).map(hex)
    plausible = st.fixed_dictionaries({}, optional={
        "balance": words, "nonce": st.integers(0, 2**64 - 1).map(hex), "code": st.binary(max_size=40).map(
            lambda b: "0x" + b.hex()), "storage": st.dictionaries(words, words, max_size=3)})
    account = plausible | st.fixed_dictionaries({}, optional={
        "balance": ints() | json_values(), "nonce": ints() | json_values(), "code": SIZED_BYTES.map(
            lambda b: "0x" + b.hex()) | json_values(),
        "storage": st.dictionaries(ints().map(hex) | st.text(max_size=4), ints().map(hex) | json_values(), max_size=3),
    }) | json_values()
    address = SIZED_BYTES.map(lambda b: "0x" + b.hex()) | st.text(max_size=6)
    address20 = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    return (st.dictionaries(address20, plausible, max_size=3) | st.dictionaries(address, account, max_size=3)
            | json_values())


def _alloc(alloc):
    COUNTS["alloc"] += 1
    try:
        alloc_to_diff(alloc)
    except GenesisError:
        OUTCOMES["alloc refused"] += 1
        return
    OUTCOMES["alloc accepted"] += 1
    fresh = Engine.in_memory(chain_config=ChainConfig.single_fork("cancun"))
    try:
        fresh.init_genesis(alloc)
    except GenesisError:
        pass
    finally:
        fresh.close()


test_alloc, test_alloc_long = fuzz(60, 15_000, alloc=_allocs())(_alloc)


# -- t8n ------------------------------------------------------------------------------------------
T8N_ENV = {
    "currentCoinbase": "0x" + "2a" * 20, "currentGasLimit": "0x1c9c380", "currentNumber": "0x20",
    "currentTimestamp": "0x1000", "currentRandom": "0x" + "07" * 32, "currentBaseFee": "0x7",
    "withdrawals": [], "parentBeaconBlockRoot": "0x" + "09" * 32, "currentExcessBlobGas": "0x0",
    "currentDifficulty": "0x20000",
}
T8N_TX = {"type": "0x2", "nonce": "0x0", "gas": "0x186a0", "maxFeePerGas": "0x20", "maxPriorityFeePerGas": "0x2",
          "to": "0x" + "11" * 20, "value": "0x5", "input": "0x", "chainId": "0x1",
          "secretKey": "0x" + "45" * 32}


def _t8n_inputs():
    scalar = st.one_of(ints().map(hex), SIZED_BYTES.map(lambda b: "0x" + b.hex()), json_values())
    env = st.builds(lambda changes, drop: {k: v for k, v in {**T8N_ENV, **changes}.items() if k not in drop},
                    st.dictionaries(st.sampled_from(sorted(T8N_ENV) + ["parentGasLimit", "parentBaseFee",
                                                                       "parentGasUsed", "parentTimestamp",
                                                                       "parentDifficulty", "blockHashes", "ommers",
                                                                       "parentExcessBlobGas"]), scalar, max_size=3),
                    st.sets(st.sampled_from(sorted(T8N_ENV)), max_size=2)) | json_values()
    tx = st.builds(lambda changes: {**T8N_TX, **changes}, st.dictionaries(st.sampled_from(sorted(T8N_TX)), scalar,
                                                                          max_size=2)) | json_values()
    txs = st.lists(tx, max_size=3) | st.binary(max_size=40).map(lambda b: "0x" + b.hex()) | json_values()
    alloc = st.just({"0x" + workloads.wallet(0).address.hex(): {"balance": "0xffffffffffff"}}) | _allocs()
    forks = st.sampled_from(["Prague", "Cancun", "London", "Berlin", "Byzantium", "Frontier", "Osaka", "Nope",
                             "BerlinToLondonAt5"])
    return {"alloc": alloc, "env": env, "txs": txs, "fork": forks}


def _t8n(alloc, env, txs, fork):
    COUNTS["t8n"] += 1
    with deadline(60, "a fuzzed t8n run"):
        try:
            run_t8n(alloc, env, txs, fork)
            OUTCOMES["t8n ran"] += 1
        except T8nError as exc:
            assert exc.exit_code in (3, 10, 12) and str(exc)
            OUTCOMES[f"t8n exit {exc.exit_code}"] += 1


test_t8n, test_t8n_long = fuzz(40, 10_000, **_t8n_inputs())(_t8n)


def _t8n_stdin(raw):
    COUNTS["t8n stdin"] += 1
    with deadline(60, "the t8n command on fuzzed stdin"):
        result = CliRunner().invoke(main, ["t8n", "--input.alloc", "stdin", "--input.env", "stdin", "--input.txs",
                                           "stdin", "--output.result", "stdout", "--output.alloc", "stdout"],
                                    input=raw)
    assert result.exit_code in (0, 3, 10, 11, 12), (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def _stdin():
    inputs = _t8n_inputs()
    valid = json.dumps({"alloc": {}, "env": T8N_ENV, "txs": [T8N_TX]}).encode()
    structured = st.builds(lambda a, e, t: json.dumps({"alloc": a, "env": e, "txs": t}).encode(), inputs["alloc"],
                           inputs["env"], inputs["txs"])
    return st.one_of(st.binary(max_size=60), mutated(st.just(valid)), structured)


test_t8n_stdin, test_t8n_stdin_long = fuzz(30, 5_000, raw=_stdin())(_t8n_stdin)


# -- gRPC -----------------------------------------------------------------------------------------
class _Aborted(Exception):
    def __init__(self, code, message) -> None:
        super().__init__(message)
        self.code = code


class _Context:
    def time_remaining(self):
        return None

    def is_active(self) -> bool:
        return True

    def abort(self, code, message):
        raise _Aborted(code, message)


UNARY = ["ExecuteBatch", "Commit", "Discard", "RevertTo", "Call", "EstimateGas", "GetAccount", "GetStorage", "GetCode",
         "GetProof", "GetHead"]
_METHODS = pb.DESCRIPTOR.services_by_name["Execution"].methods_by_name


def _valid_batches():
    """ExecuteBatch requests that get past the env: the next block, fuzzed transactions."""
    from hyperion.rpc import convert
    from hyperion.v1 import types_pb2 as tpb

    transaction = st.one_of(tx_bytes().map(lambda raw: tpb.Transaction(signed=raw)),
                            messages(tpb.UnsignedTransaction.DESCRIPTOR).map(lambda u: tpb.Transaction(unsigned=u)))
    return st.builds(lambda txs, mode, strict: pb.ExecuteBatchRequest(env=convert.env_to_pb(env1()), transactions=txs,
                                                                      mode=mode, strict=strict),
                     st.lists(transaction, max_size=4), st.integers(0, 2), st.booleans())


def _requests():
    unary = [st.tuples(st.just(name), messages(_METHODS[name].input_type)) for name in UNARY]
    unary.append(st.tuples(st.just("ExecuteBatch"), _valid_batches()))
    stream = st.tuples(st.just("ExecuteStream"), st.lists(messages(_METHODS["ExecuteStream"].input_type), max_size=3))
    return st.one_of(*unary, stream)


def _grpc(request):
    import grpc

    COUNTS["gRPC requests"] += 1
    name, message = request
    chain = engine()
    service = ExecutionService(chain)
    with deadline(60, f"a fuzzed {name}"):
        try:
            if name == "ExecuteStream":
                for reply in service.ExecuteStream(iter(message), _Context()):
                    if reply.HasField("error"):
                        assert reply.error.code != grpc.StatusCode.INTERNAL.value[0], reply.error.message
            else:
                getattr(service, name)(message, _Context())
            OUTCOMES[f"{name} ok"] += 1
        except _Aborted as exc:
            assert exc.code is not grpc.StatusCode.INTERNAL, f"{name}: {exc}"
            OUTCOMES[f"{name} {exc.code.name}"] += 1
        finally:  # every example starts from the genesis, with nothing held
            for pending in chain.pending_blocks():
                try:
                    chain.discard(pending)
                except Exception:  # a descendant of one already discarded
                    pass
            if chain.head.number > 0:
                chain.revert_to(0)


test_grpc, test_grpc_long = fuzz(80, 10_000, request=_requests())(_grpc)


def _grpc_bytes(name, raw):
    COUNTS["gRPC bytes"] += 1
    try:
        message_factory.GetMessageClass(_METHODS[name].input_type).FromString(raw)
    except DecodeError:
        pass


_SERIALIZED = messages(_METHODS["ExecuteBatch"].input_type).map(lambda m: m.SerializeToString())
test_grpc_bytes, test_grpc_bytes_long = fuzz(60, 15_000, name=st.sampled_from(UNARY + ["ExecuteStream"]),
                                             raw=st.binary(max_size=80) | mutated(_SERIALIZED))(_grpc_bytes)


# -- AI precompiles -------------------------------------------------------------------------------
MODEL, VECTORS, BROKEN, NO_CODE = (bytes.fromhex("00" * 18 + "e7" + f"{i:02x}") for i in range(1, 5))
GAS_CAP = 30_000_000


class _Source:
    """Data contracts for the precompiles: a valid model and vector set, broken copies, none."""

    def __init__(self) -> None:
        from hyperion.precompiles.ai import examples as ex

        self.codes = {}
        for address, codes in ((MODEL, ex.model_codes(ex.demo_mlp_layers())),
                               (VECTORS, ex.vector_codes(ex.demo_vectors()))):
            self.codes[address] = codes[0]
            if len(codes) > 1:  # parts named in the root's header would need their own addresses
                self.codes.update((bytes.fromhex("00" * 19 + f"{0x40 + i:02x}"), c) for i, c in enumerate(codes[1:]))
        self.codes[BROKEN] = self.codes[MODEL][:40] + b"\xff" * 7 + self.codes[MODEL][47:]

    def code_hash(self, address: bytes) -> bytes:
        from eth_hash.auto import keccak

        return keccak(self.codes.get(address, b""))

    def code(self, address: bytes) -> bytes:
        return self.codes.get(address, b"")


SOURCE = None


def _ai_calls():
    from hyperion.precompiles.ai import abi

    small = st.integers(0, 6)
    matvec = st.builds(lambda m, n, shift, flags, tail: m.to_bytes(2, "big") + n.to_bytes(2, "big")
                       + bytes([shift, flags]) + tail, small, small, st.integers(0, 40), st.integers(0, 4),
                       st.binary(max_size=80))
    matmul = st.builds(lambda dims, shift, flags, tail: b"".join(d.to_bytes(2, "big") for d in dims)
                       + bytes([shift, flags]) + tail, st.lists(small, min_size=3, max_size=3), st.integers(0, 40),
                       st.integers(0, 4), st.binary(max_size=120))
    addressed = st.builds(lambda address, tail: address + tail, st.sampled_from([MODEL, VECTORS, BROKEN, NO_CODE])
                          | st.binary(min_size=20, max_size=20), st.binary(max_size=80))
    from hyperion.precompiles.ai.examples import N_IN, VECTOR_DIM

    mlp = st.builds(lambda x: MODEL + x, st.binary(min_size=N_IN, max_size=N_IN))
    topk = st.builds(lambda metric, k, query: VECTORS + bytes([metric, k]) + query, st.integers(0, 2),
                     st.integers(0, 70), st.binary(min_size=VECTOR_DIM, max_size=VECTOR_DIM))
    pair = st.integers(0, 40).flatmap(lambda n: st.binary(min_size=2 * n, max_size=2 * n).map(
        lambda body: n.to_bytes(2, "big") + body))
    activation = st.builds(lambda frac, values: bytes([frac]) + values, st.integers(0, 40),
                           st.lists(st.binary(min_size=4, max_size=4), max_size=20).map(b"".join))
    data = st.one_of(st.binary(max_size=100), matvec, matmul, addressed, mlp, topk, pair, activation)
    return st.tuples(st.sampled_from(abi.NAMES), st.one_of(data, mutated(data)))


def _ai(call):
    from hyperion.precompiles.ai import runtime

    global SOURCE
    COUNTS["AI precompile inputs"] += 1
    SOURCE = SOURCE or _Source()
    name, data = call
    used = [0]

    def charge(gas: int) -> None:  # the EVM's gas meter: work is paid for before it is done
        used[0] += gas
        if used[0] > GAS_CAP:
            raise OutOfGas(f"{used[0]} > {GAS_CAP}")

    with deadline(60, f"AI precompile {name}"):
        try:
            output, gas, _ = runtime.execute(name, data, SOURCE, charge)
        except VMError as exc:
            OUTCOMES[f"AI {type(exc).__name__}"] += 1
            return
    OUTCOMES["AI ran"] += 1
    assert isinstance(output, bytes) and gas <= GAS_CAP


test_ai_precompiles, test_ai_precompiles_long = fuzz(60, 15_000, call=_ai_calls())(_ai)
