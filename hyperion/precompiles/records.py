"""Inference records: what an AI precompile call leaves behind, and how to check it.

A precompile that runs a model (``mlp``) or searches an on-chain vector set (``topk``)
attaches an :class:`InferenceRecord` to its own call frame.  When the transaction ends,
:func:`collect_records` walks the frame tree the way py-evm collects logs: a frame that
failed (reverted or halted) contributes nothing, and neither do the frames below it.  So
exactly the records of frames that were *not* reverted survive -- a transaction that
reverts as a whole keeps none.  They travel on the transaction's ``TxOutcome`` (the one the
scheduler keeps, so re-executions never duplicate them) into
``BlockResult.inference_records``, in execution order.

The pure kernels (matvec, matmul, activations, dot, cosine) leave no record: their output
is a function of their call data alone.

:func:`verify` re-runs records against the code they name (by hash) and reports every
mismatch: output, gas, missing or different model code, hashes that do not match.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from eth_hash.auto import keccak

#: attribute a precompile sets on its computation (one per frame): the tuple
#: (precompile name, address, depth, (model, root hash, part hashes), input, output, gas)
RECORD_ATTRIBUTE = "_hyperion_inference_record"
#: class attribute of computation classes whose precompiles leave records
ENABLED_ATTRIBUTE = "_hyperion_records_enabled"


@dataclass(frozen=True)
class InferenceRecord:
    """One inference, as executed.

    ``input`` is the precompile's call data, byte for byte (model / vector-set address
    first), so anyone can re-run it; ``output`` is what it returned;
    ``model_code_hash`` and ``part_code_hashes`` pin the exact on-chain data that was
    used.  ``input_hash`` / ``output_hash`` (keccak256 of input and output, for indexing)
    are derived on first use rather than during execution: keccak through pycryptodome
    costs more than a small inference.  A record read back from JSON keeps the hashes it
    claimed, and :func:`verify` reports them if they do not match.
    """

    tx_index: int  #: TxResult.index of the transaction (its position in the executed batch)
    tx_hash: Optional[bytes]
    call_index: int  #: position among this transaction's records
    precompile: str  #: "mlp" or "topk"
    address: bytes  #: the precompile's address
    depth: int  #: call depth of the precompile frame (0: the transaction called it directly)
    model: bytes  #: address of the model / vector set root contract
    model_code_hash: bytes
    part_code_hashes: Tuple[bytes, ...]
    input: bytes
    output: bytes
    gas: int  #: gas the precompile charged
    #: hashes a record read from JSON claimed (None: derived from input / output)
    claimed_input_hash: Optional[bytes] = field(default=None, compare=False, repr=False)
    claimed_output_hash: Optional[bytes] = field(default=None, compare=False, repr=False)

    @cached_property
    def input_hash(self) -> bytes:
        return self.claimed_input_hash if self.claimed_input_hash is not None else keccak(self.input)

    @cached_property
    def output_hash(self) -> bytes:
        return self.claimed_output_hash if self.claimed_output_hash is not None else keccak(self.output)

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key.startswith("claimed_"):
                continue
            if isinstance(value, bytes):
                value = "0x" + value.hex()
            elif isinstance(value, (tuple, list)):
                value = ["0x" + v.hex() for v in value]
            out[key] = value
        out["input_hash"] = "0x" + self.input_hash.hex()
        out["output_hash"] = "0x" + self.output_hash.hex()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "InferenceRecord":
        def b(value):
            return None if value is None else bytes.fromhex(value[2:] if value.startswith("0x") else value)

        return cls(
            tx_index=int(data["tx_index"]), tx_hash=b(data.get("tx_hash")), call_index=int(data["call_index"]),
            precompile=data["precompile"], address=b(data["address"]), depth=int(data["depth"]),
            model=b(data["model"]), model_code_hash=b(data["model_code_hash"]),
            part_code_hashes=tuple(b(h) for h in data["part_code_hashes"]), input=b(data["input"]),
            output=b(data["output"]), gas=int(data["gas"]),
            claimed_input_hash=b(data.get("input_hash")), claimed_output_hash=b(data.get("output_hash")),
        )


def collect_records(computation, tx_index: int, tx_hash: Optional[bytes]) -> Tuple[InferenceRecord, ...]:
    """Records of the frames of one transaction that did not fail, in execution order."""
    found = []
    stack = [computation]
    while stack:  # iterative pre-order walk: call depth can reach 1024
        frame = stack.pop()
        if frame.is_error:
            continue
        entry = frame.__dict__.get(RECORD_ATTRIBUTE)
        if entry is not None:
            found.append(entry)
        if frame.children:
            stack.extend(reversed(frame.children))
    records = []
    for i, (name, address, depth, (model, root_hash, part_hashes), data, output, gas) in enumerate(found):
        records.append(InferenceRecord(
            tx_index=tx_index, tx_hash=tx_hash, call_index=i, precompile=name, address=address, depth=depth,
            model=model, model_code_hash=root_hash, part_code_hashes=part_hashes, input=data, output=output, gas=gas,
        ))
    return tuple(records)


# -- verification ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Mismatch:
    index: int  #: position in the list given to verify
    record: InferenceRecord
    reason: str


@dataclass
class VerifyReport:
    checked: int = 0
    mismatches: List[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        if self.ok:
            return f"{self.checked} inference records verified, no mismatch"
        lines = [f"{len(self.mismatches)} of {self.checked} inference records do not verify:"]
        lines += [f"  #{m.index} (tx {m.record.tx_index}, {m.record.precompile}): {m.reason}" for m in self.mismatches]
        return "\n".join(lines)


def _code_lookup(state: Any, at: Any) -> Callable[[bytes], Optional[bytes]]:
    """Code by hash from an Engine, a state reader (``read_code``) or a mapping."""
    if hasattr(state, "get_code_by_hash"):
        return lambda h: state.get_code_by_hash(h, at=at)
    if hasattr(state, "read_code"):
        def read(h: bytes) -> Optional[bytes]:
            try:
                return state.read_code(h)
            except Exception:  # a store raises for unknown code
                return None
        return read
    if isinstance(state, Mapping):
        return state.get
    raise TypeError("verify needs an Engine, a state reader with read_code(hash) or a {code_hash: code} mapping")


def verify(records: Iterable[InferenceRecord], state: Any, *, at: Any = None) -> VerifyReport:
    """Re-run ``records`` and report every record that does not match.

    ``state`` supplies code by hash: an :class:`~hyperion.Engine` (``at`` = a pending
    block to look there too), any reader with ``read_code(code_hash)``, or a
    ``{code_hash: code}`` mapping.  Checked for each record: the input hash, that the
    pinned model code exists and is what the input names, the output hash and the gas.
    """
    from hyperion.precompiles.ai import runtime  # loads the kernels (the chain uses them anyway)

    lookup = _code_lookup(state, at)
    report = VerifyReport()
    for index, record in enumerate(records):
        report.checked += 1
        reason = runtime.check_record(record, lookup)
        if reason is not None:
            report.mismatches.append(Mismatch(index, record, reason))
    return report


__all__ = ["InferenceRecord", "Mismatch", "VerifyReport", "collect_records", "verify"]
