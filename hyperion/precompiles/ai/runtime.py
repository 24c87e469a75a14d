"""The AI precompiles as py-evm callables, and their re-execution for ``verify``.

Each precompile is ``run(data, source, charge) -> (output, data_info)``:

- ``data`` is the call data; ``charge(gas)`` consumes gas (py-evm's meter in a call, a
  counter in ``verify``) and is always called *before* the work it pays for;
- ``source`` reads data contracts: in a call it goes through ``computation.state``
  (``get_code_hash`` / ``get_code``), so every model or vector-set read is an ordinary
  state read -- the parallel scheduler sees it as a dependency of the transaction;
- parsed models / vector sets are cached per process, keyed by the code hashes of the
  root and of every part, so a model is parsed once per code hash.

Failures are :class:`~hyperion.precompiles.ai.abi.AIPrecompileError` (a ``VMError``):
py-evm turns them into a failed frame that consumed its gas.  Any other exception from
parsing or from a kernel is converted into one (:class:`KernelFailure`), so nothing
escapes into the engine.  State reads are deliberately *not* wrapped: whatever the state
layer raises (a scheduler's abort signal, a store error) propagates exactly as it would
from an opcode.
"""
from __future__ import annotations

import threading
from typing import Callable, Dict, Optional, Tuple

from eth.exceptions import VMError
from eth_hash.auto import keccak

from hyperion.precompiles.ai import abi
from hyperion.precompiles.ai.abi import (
    G_BASE,
    G_DATA_CONTRACT,
    G_ELEMENT,
    G_VECTOR,
    G_WORD,
    KernelFailure,
    MalformedInput,
    UnknownModel,
    mac_gas,
    words,
)
from hyperion.precompiles.ai.backend import kernels
from hyperion.precompiles.records import RECORD_ATTRIBUTE, InferenceRecord

EMPTY_CODE_HASH = keccak(b"")
Charge = Callable[[int], None]
#: (model address, root code hash, part code hashes) for precompiles that read data contracts
DataInfo = Optional[Tuple[bytes, bytes, Tuple[bytes, ...]]]


def _guard(fn, *args):
    try:
        return fn(*args)
    except VMError:
        raise
    except Exception as exc:  # noqa: BLE001 - turned into a clean EVM failure
        raise KernelFailure(f"{type(exc).__name__}: {exc}") from exc


# -- data contract cache --------------------------------------------------------------------
class _Cache:
    """Parsed data contracts by code hash, bounded by entry count and by body bytes.

    Hits are a plain dict lookup (the hot path); eviction is oldest-inserted first.
    Content-addressed, so an entry is valid forever and in every worker.
    """

    def __init__(self, entries: int, budget: int) -> None:
        self.entries, self.budget = entries, budget
        self.data: Dict[tuple, tuple] = {}
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key):
        value = self.data.get(key)
        return None if value is None else value[0]

    def put(self, key, value, size: int) -> None:
        with self.lock:
            if key in self.data:
                return
            self.data[key] = (value, size)
            self.size += size
            while len(self.data) > self.entries or (self.size > self.budget and len(self.data) > 1):
                oldest = next(iter(self.data))
                self.size -= self.data.pop(oldest)[1]

    def clear(self) -> None:
        with self.lock:
            self.data.clear()
            self.size = 0


HEADERS = _Cache(4096, 64 << 20)
MODELS = _Cache(256, 256 << 20)


class StateSource:
    """Data contracts read through the executing state (tracked like any other read)."""

    __slots__ = ("state",)

    def __init__(self, state) -> None:
        self.state = state

    def code_hash(self, address: bytes) -> bytes:
        return self.state.get_code_hash(address)

    def code(self, address: bytes) -> bytes:
        return self.state.get_code(address)


def load_data(kind: int, address: bytes, source, charge: Charge, pending: int = 0):
    """``(spec, loaded, (address, root hash, part hashes))`` of a model / vector set.

    ``pending`` is gas still to be charged together with the root contract's access.
    """
    root_hash = source.code_hash(address)
    charge(pending + G_DATA_CONTRACT)
    if root_hash == EMPTY_CODE_HASH:
        raise UnknownModel(f"no {abi.KIND_NAMES[kind]} at {address.hex()}: the address has no code")
    header = HEADERS.get(root_hash)
    if header is None:
        header = _guard(abi.parse_header, source.code(address), kind)
        HEADERS.put(root_hash, header, 64 + 20 * len(header.parts))
    elif header.kind != kind:
        _guard(abi.parse_header, source.code(address), kind)  # raises the precise UnknownModel
    part_hashes = []
    for part in header.parts:
        charge(G_DATA_CONTRACT)
        part_hash = source.code_hash(part)
        if part_hash == EMPTY_CODE_HASH:
            raise UnknownModel(f"data part {part.hex()} of {address.hex()} has no code")
        part_hashes.append(part_hash)
    module = kernels()
    key = (module.NAME, kind, root_hash, tuple(part_hashes))
    entry = MODELS.get(key)
    if entry is None:
        root = source.code(address)
        parts = [source.code(part) for part in header.parts]
        entry = _guard(_parse_body, module, kind, root, header, parts)
        MODELS.put(key, entry, len(root) + sum(len(p) for p in parts))
    return entry[0], entry[1], (address, root_hash, tuple(part_hashes))


def _parse_body(module, kind, root, header, parts):
    body = abi.join_body(root, header, parts)
    if kind == abi.KIND_MLP:
        spec = abi.parse_mlp_body(body)
        return spec, module.load_mlp(body, spec)
    spec = abi.parse_vector_body(body)
    return spec, module.load_vectors(body, spec.offset, spec.dim, spec.count)


# -- the precompiles ------------------------------------------------------------------------
def _linear(name: str, parse, call):
    def run(data: bytes, source, charge: Charge):
        charge(G_BASE[name] + G_WORD * words(len(data)))
        parsed = _guard(parse, data)
        charge(mac_gas(parsed.macs) + G_WORD * words(parsed.output_size))
        return _guard(call, kernels(), parsed), None
    return run


run_matvec = _linear(
    "matvec", abi.parse_matvec,
    lambda k, c: k.matvec(c.w, c.x, c.bias, c.m, c.n, c.shift, c.out_int8),
)
run_matmul = _linear(
    "matmul", abi.parse_matmul,
    lambda k, c: k.matmul(c.a, c.b, c.bias, c.m, c.k, c.n, c.shift, c.out_int8),
)

ACTIVATIONS = {"relu": 0, "sigmoid": 1, "tanh": 2, "softmax": 3}


def _activation(name: str):
    kind = ACTIVATIONS[name]

    def run(data: bytes, source, charge: Charge):
        charge(G_BASE[name] + G_WORD * words(len(data)))
        call = _guard(abi.parse_activation, name, data)
        charge(G_ELEMENT * call.n + G_WORD * words(4 * call.n))
        return _guard(kernels().activation, kind, call.frac, call.values), None
    return run


def _pair(name: str, scalar: Callable):
    def run(data: bytes, source, charge: Charge):
        charge(G_BASE[name] + G_WORD * words(len(data)))
        a, b = _guard(abi.parse_pair, name, data)
        charge(mac_gas(len(a) * (1 if name == "dot" else 3)) + G_WORD)
        return abi.word(_guard(scalar, kernels(), a, b)), None
    return run


def run_topk(data: bytes, source, charge: Charge):
    call = _guard(abi.parse_topk, data)
    spec, vectors, info = load_data(abi.KIND_VECTORS, call.vector_set, source, charge,
                                    G_BASE["topk"] + G_WORD * words(len(data)))
    if len(call.query) != spec.dim:
        raise MalformedInput(f"topk: query has {len(call.query)} values, the vector set has dimension {spec.dim}")
    results = min(call.k, spec.count)
    charge(mac_gas(spec.dim * (spec.count + 1)) + G_VECTOR * spec.count + G_WORD * 2 * results)
    best = _guard(kernels().topk, vectors, call.query, call.k, call.metric)
    return b"".join(abi.word(index) + abi.word(score) for index, score in best), info


def run_mlp(data: bytes, source, charge: Charge):
    model_address, x = _guard(abi.parse_mlp_call, data)
    spec, model, info = load_data(abi.KIND_MLP, model_address, source, charge,
                                  G_BASE["mlp"] + G_WORD * words(len(data)))
    if len(x) != spec.n_in:
        raise MalformedInput(f"mlp: input has {len(x)} values, the model takes {spec.n_in}")
    charge(mac_gas(spec.macs) + G_WORD * words(spec.output_size))
    label, logits = _guard(kernels().mlp, model, x)
    return abi.word(label) + logits, info


RUNNERS: Dict[str, Callable] = {
    "matvec": run_matvec,
    "matmul": run_matmul,
    "relu": _activation("relu"),
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("tanh"),
    "softmax": _activation("softmax"),
    "dot": _pair("dot", lambda k, a, b: k.dot(a, b)),
    "cosine": _pair("cosine", lambda k, a, b: k.cosine(a, b)),
    "topk": run_topk,
    "mlp": run_mlp,
}
#: precompiles that leave an inference record
RECORDED = frozenset({"mlp", "topk"})


def make_precompile(name: str, address: bytes):
    """The py-evm precompile callable for ``name`` at ``address``."""
    run = RUNNERS[name]
    recorded = name in RECORDED

    def precompile(computation):
        charged = [0]

        def charge(gas: int) -> None:
            computation.consume_gas(gas, reason=f"AI precompile {name}")
            charged[0] += gas

        data = bytes(computation.msg.data)
        output, info = run(data, StateSource(computation.state), charge)
        computation.output = output
        if recorded:
            # the record itself is built once, when the transaction's frames are collected
            setattr(computation, RECORD_ATTRIBUTE, (name, address, computation.msg.depth, info, data, output,
                                                    charged[0]))
        return computation

    precompile.__name__ = f"ai_{name}"
    precompile.__qualname__ = f"ai_{name}"
    return precompile


def execute(name: str, data: bytes, source, charge: Optional[Charge] = None):
    """Run precompile ``name`` outside the EVM: ``(output, gas, data_info)`` (benchmarks, tools)."""
    total = [0]

    def count(gas: int) -> None:
        total[0] += gas
        if charge is not None:
            charge(gas)

    output, info = RUNNERS[name](data, source, count)
    return output, total[0], info


# -- verification ---------------------------------------------------------------------------
class _RecordSource:
    """Data contracts as pinned by a record: hashes from the record, code by hash."""

    def __init__(self, record: InferenceRecord, lookup) -> None:
        self.record = record
        self.lookup = lookup
        self.hashes: Dict[bytes, bytes] = {record.model: record.model_code_hash}
        self.parts_bound = False

    def _bind_parts(self) -> None:
        root = self.code(self.record.model)
        header = _guard(abi.parse_header, root, root[6] if len(root) > 6 else 0)
        if len(header.parts) != len(self.record.part_code_hashes):
            raise _Mismatch(f"the model names {len(header.parts)} parts, the record {len(self.record.part_code_hashes)}")
        for part, part_hash in zip(header.parts, self.record.part_code_hashes):
            self.hashes.setdefault(part, part_hash)
        self.parts_bound = True

    def code_hash(self, address: bytes) -> bytes:
        if address not in self.hashes and not self.parts_bound and address != self.record.model:
            self._bind_parts()
        if address not in self.hashes:
            raise _Mismatch(f"the input reads {address.hex()}, which the record does not pin")
        return self.hashes[address]

    def code(self, address: bytes) -> bytes:
        code_hash = self.code_hash(address)
        if code_hash == EMPTY_CODE_HASH:
            return b""
        code = self.lookup(code_hash)
        if code is None:
            raise _Mismatch(f"code {code_hash.hex()} (for {address.hex()}) is not available")
        if keccak(code) != code_hash:
            raise _Mismatch(f"code supplied for {code_hash.hex()} does not hash to it")
        return code


class _Mismatch(Exception):
    pass


def check_record(record: InferenceRecord, lookup) -> Optional[str]:
    """None if ``record`` re-runs to the same output and gas; else the reason."""
    if record.precompile not in RECORDED:
        return f"unknown precompile {record.precompile!r}"
    if record.claimed_input_hash is not None and record.claimed_input_hash != keccak(record.input):
        return "input_hash does not match the input"
    if record.claimed_output_hash is not None and record.claimed_output_hash != keccak(record.output):
        return "output_hash does not match the output"
    if record.input[:20] != record.model:
        return "the input names a different model than the record"
    try:
        output, gas, info = execute(record.precompile, record.input, _RecordSource(record, lookup))
    except _Mismatch as exc:
        return str(exc)
    except VMError as exc:
        return f"re-execution fails: {type(exc).__name__}: {exc}"
    if info[1] != record.model_code_hash or info[2] != tuple(record.part_code_hashes):
        return "model code hashes differ"
    if output != record.output:
        return "output differs from the re-executed output"
    if gas != record.gas:
        return f"gas differs: re-run charges {gas}, record says {record.gas}"
    return None
