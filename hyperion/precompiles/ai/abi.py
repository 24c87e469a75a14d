"""Byte-level ABI, limits and gas schedule of the AI precompiles (docs/ai-precompiles.md).

Everything here is plain Python with no numba or numpy: the formats are parsed and the
gas is computed the same way in both kernel modes and by :func:`hyperion.precompiles.verify`.

Conventions: multi-byte integers are big-endian; ``int8`` is one two's-complement byte;
``int32`` is four big-endian two's-complement bytes; a *word* is 32 bytes, big-endian
(``int256`` two's complement for signed values).  Every length must match exactly: a short
or long input is malformed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from eth.exceptions import VMError

# -- addresses ------------------------------------------------------------------------------
#: the precompiles of the "ai" set and their offsets from the base address
OFFSETS: Tuple[Tuple[str, int], ...] = (
    ("matvec", 0x01),
    ("matmul", 0x02),
    ("relu", 0x03),
    ("sigmoid", 0x04),
    ("tanh", 0x05),
    ("softmax", 0x06),
    ("dot", 0x07),
    ("cosine", 0x08),
    ("topk", 0x09),
    ("mlp", 0x0A),
)
NAMES = tuple(name for name, _ in OFFSETS)
#: default base: the set lives at 0x0a01..0x0a0a (clear of 0x01-0x11 and 0x100)
DEFAULT_BASE = 0x0A00


def addresses(base: int = DEFAULT_BASE) -> Dict[str, bytes]:
    """``{name: 20-byte address}`` for a set whose base address is ``base``."""
    if not 0 < base or base + max(off for _, off in OFFSETS) >= 1 << 160:
        raise ValueError(f"AI precompile base address out of range: {base:#x}")
    return {name: (base + offset).to_bytes(20, "big") for name, offset in OFFSETS}


DEFAULT_ADDRESSES = addresses()


def parse_base(option: Optional[str]) -> int:
    """The set's option string (``"ai@0x0b00"`` -> ``"0x0b00"``) as a base address."""
    if option is None or option == "":
        return DEFAULT_BASE
    text = option.strip().lower()
    if text.startswith("base="):
        text = text[5:]
    try:
        return int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        raise ValueError(f"bad AI precompile base address {option!r} (expected e.g. 'ai@0x0b00')") from None


# -- errors ---------------------------------------------------------------------------------
class AIPrecompileError(VMError):
    """An AI precompile call failed; like every VMError it consumes the frame's gas."""


class MalformedInput(AIPrecompileError):
    """The call data does not follow the precompile's ABI."""


class UnknownModel(AIPrecompileError):
    """The model / vector-set address holds no (valid) data contract of the right kind."""


class MalformedModel(AIPrecompileError):
    """A data contract's header or body is inconsistent."""


class KernelFailure(AIPrecompileError):
    """An unexpected exception inside a kernel, turned into a clean EVM error."""


# -- limits ---------------------------------------------------------------------------------
MAX_DIM = 0xFFFF  #: u16 dimensions
MAX_SHIFT = 31  #: requantization shift
MAX_FRAC_BITS = 24  #: fixed-point fraction bits of activation values
MAX_TOPK = 64
MAX_LAYERS = 16
MAX_PARTS = 64  #: extra data contracts after the root (64 x 24,575 bytes ~ 1.5 MiB of body)
INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

FLAG_OUT_INT8 = 0x01  #: requantize to int8 (else the output is int32)
FLAG_BIAS = 0x02  #: an int32 bias vector follows the operands
KNOWN_FLAGS = FLAG_OUT_INT8 | FLAG_BIAS

ACT_NONE, ACT_RELU = 0, 1
METRIC_DOT, METRIC_COSINE = 0, 1

# -- gas schedule ---------------------------------------------------------------------------
# Calibrated with ``python benchmarks/bench_ai.py --calibrate`` (docs/ai-precompiles.md,
# "Gas"): a call, timed as py-evm runs it (message, snapshot, precompile, commit, record),
# must cost no more CPU per gas than a block of ERC-20 transfers does, with the kernels
# compiled -- so a block full of inference calls executes no slower than a block of
# ordinary contract work of the same gas.  About 20-30 us of every call is fixed
# (py-evm's call machinery, argument conversion, the numba dispatch); that is the base.
G_KERNEL_BASE = 2_500
G_BASE: Dict[str, int] = {
    "matvec": G_KERNEL_BASE,
    "matmul": G_KERNEL_BASE,
    "relu": G_KERNEL_BASE,
    "sigmoid": G_KERNEL_BASE,
    "tanh": G_KERNEL_BASE,
    "softmax": G_KERNEL_BASE,
    "dot": G_KERNEL_BASE,
    "cosine": G_KERNEL_BASE,
    "topk": 1_500,
    "mlp": 1_500,
}
G_WORD = 3  #: per 32-byte word of input and of output (copying, parsing)
MACS_PER_GAS = 8  #: multiply-accumulates covered by one unit of gas (rounded up per call)
G_ELEMENT = 2  #: per activation element (table lookup + interpolation)
G_VECTOR = 2  #: per stored vector scanned by top-k (norm, compare, insert)
#: per data contract (root and each part) a model or vector set reads: covers reading and
#: parsing a 24 KiB part when it is not cached (~20 us), like a cold EXTCODECOPY would
G_DATA_CONTRACT = 2_000


def words(n_bytes: int) -> int:
    return (n_bytes + 31) // 32


def mac_gas(macs: int) -> int:
    return (macs + MACS_PER_GAS - 1) // MACS_PER_GAS


# -- helpers --------------------------------------------------------------------------------
def u16(data: bytes, offset: int) -> int:
    return (data[offset] << 8) | data[offset + 1]


def u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset:offset + 4], "big")


def word(value: int) -> bytes:
    """A signed value as a 32-byte two's-complement word."""
    return (value % (1 << 256)).to_bytes(32, "big")


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise MalformedInput(message)


# -- call formats ---------------------------------------------------------------------------
@dataclass(slots=True)
class MatvecCall:
    """``m:u16 n:u16 shift:u8 flags:u8 | W int8[m*n] row-major | x int8[n] | [bias int32[m]]``

    ``y[i] = requant(bias[i] + sum_j W[i][j] * x[j])``; output ``int8[m]`` (flag 0x01)
    or ``int32[m]``.
    """

    m: int
    n: int
    shift: int
    out_int8: bool
    w: bytes
    x: bytes
    bias: Optional[bytes]

    @property
    def macs(self) -> int:
        return self.m * self.n

    @property
    def output_size(self) -> int:
        return self.m * (1 if self.out_int8 else 4)


def _flags(flags: int) -> Tuple[bool, bool]:
    _need(flags & ~KNOWN_FLAGS == 0, f"unknown flags {flags:#04x}")
    return bool(flags & FLAG_OUT_INT8), bool(flags & FLAG_BIAS)


def parse_matvec(data: bytes) -> MatvecCall:
    _need(len(data) >= 6, "matvec: input shorter than its 6-byte header")
    m, n, shift, flags = u16(data, 0), u16(data, 2), data[4], data[5]
    out_int8, has_bias = _flags(flags)
    _need(m > 0 and n > 0, "matvec: zero dimension")
    _need(shift <= MAX_SHIFT, f"matvec: shift {shift} > {MAX_SHIFT}")
    size = 6 + m * n + n + (4 * m if has_bias else 0)
    _need(len(data) == size, f"matvec: input is {len(data)} bytes, header implies {size}")
    w_end = 6 + m * n
    return MatvecCall(m, n, shift, out_int8, data[6:w_end], data[w_end:w_end + n],
                      data[w_end + n:] if has_bias else None)


@dataclass(slots=True)
class MatmulCall:
    """``m:u16 k:u16 n:u16 shift:u8 flags:u8 | A int8[m*k] | B int8[k*n] | [bias int32[n]]``

    ``C[i][j] = requant(bias[j] + sum_t A[i][t] * B[t][j])``, row-major ``int8``/``int32[m*n]``.
    """

    m: int
    k: int
    n: int
    shift: int
    out_int8: bool
    a: bytes
    b: bytes
    bias: Optional[bytes]

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n

    @property
    def output_size(self) -> int:
        return self.m * self.n * (1 if self.out_int8 else 4)


def parse_matmul(data: bytes) -> MatmulCall:
    _need(len(data) >= 8, "matmul: input shorter than its 8-byte header")
    m, k, n, shift, flags = u16(data, 0), u16(data, 2), u16(data, 4), data[6], data[7]
    out_int8, has_bias = _flags(flags)
    _need(m > 0 and k > 0 and n > 0, "matmul: zero dimension")
    _need(shift <= MAX_SHIFT, f"matmul: shift {shift} > {MAX_SHIFT}")
    size = 8 + m * k + k * n + (4 * n if has_bias else 0)
    _need(len(data) == size, f"matmul: input is {len(data)} bytes, header implies {size}")
    a_end = 8 + m * k
    b_end = a_end + k * n
    return MatmulCall(m, k, n, shift, out_int8, data[8:a_end], data[a_end:b_end], data[b_end:] if has_bias else None)


@dataclass(slots=True)
class ActivationCall:
    """``frac:u8 | x int32[n]`` -> ``int32[n]`` with the same number of fraction bits."""

    frac: int
    values: bytes

    @property
    def n(self) -> int:
        return len(self.values) // 4


def parse_activation(name: str, data: bytes) -> ActivationCall:
    _need(len(data) >= 1, f"{name}: empty input")
    _need(data[0] <= MAX_FRAC_BITS, f"{name}: {data[0]} fraction bits > {MAX_FRAC_BITS}")
    _need((len(data) - 1) % 4 == 0, f"{name}: values are not whole int32s")
    return ActivationCall(data[0], data[1:])


def parse_pair(name: str, data: bytes) -> Tuple[bytes, bytes]:
    """``n:u16 | a int8[n] | b int8[n]`` (dot, cosine)."""
    _need(len(data) >= 2, f"{name}: input shorter than its 2-byte header")
    n = u16(data, 0)
    _need(len(data) == 2 + 2 * n, f"{name}: input is {len(data)} bytes, header implies {2 + 2 * n}")
    return data[2:2 + n], data[2 + n:]


@dataclass(slots=True)
class TopkCall:
    """``set:address | metric:u8 | k:u8 | query int8[dim]``"""

    vector_set: bytes
    metric: int
    k: int
    query: bytes


def parse_topk(data: bytes) -> TopkCall:
    _need(len(data) >= 22, "topk: input shorter than its 22-byte header")
    metric, k = data[20], data[21]
    _need(metric in (METRIC_DOT, METRIC_COSINE), f"topk: unknown metric {metric}")
    _need(1 <= k <= MAX_TOPK, f"topk: k={k} outside 1..{MAX_TOPK}")
    return TopkCall(data[:20], metric, k, data[22:])


def parse_mlp_call(data: bytes) -> Tuple[bytes, bytes]:
    """``model:address | x int8[in]``"""
    _need(len(data) >= 20, "mlp: input shorter than the 20-byte model address")
    return data[:20], data[20:]


# -- data contracts (models and vector sets) ------------------------------------------------
MAGIC = b"HYAI"
VERSION = 1
KIND_MLP = 1
KIND_VECTORS = 2
KIND_NAMES = {KIND_MLP: "MLP model", KIND_VECTORS: "vector set"}
ROOT_HEADER = 8  #: 0x00 "HYAI" version kind nparts
MAX_CODE_SIZE = 24_576  #: EIP-170


@dataclass(frozen=True)
class DataHeader:
    """Header of a root data contract::

        0x00 | "HYAI" | version:u8 | kind:u8 | nparts:u8 | part addresses (20 bytes each) | body...

    Each part is a contract whose code is ``0x00 | body continuation``.  The body is the
    rest of the root's code followed by each part's code after its leading 0x00, in order.
    The leading 0x00 (STOP) makes every data contract inert if it is ever called.
    """

    kind: int
    parts: Tuple[bytes, ...]
    body_offset: int


def parse_header(code: bytes, expected_kind: int) -> DataHeader:
    if len(code) < ROOT_HEADER or code[0] != 0 or code[1:5] != MAGIC:
        raise UnknownModel(f"no {KIND_NAMES[expected_kind]} here (code does not start with 0x00 'HYAI')")
    if code[5] != VERSION:
        raise UnknownModel(f"unsupported data contract version {code[5]}")
    if code[6] != expected_kind:
        raise UnknownModel(
            f"expected a {KIND_NAMES[expected_kind]}, found a {KIND_NAMES.get(code[6], f'kind {code[6]} contract')}"
        )
    nparts = code[7]
    if nparts > MAX_PARTS:
        raise MalformedModel(f"{nparts} parts > {MAX_PARTS}")
    offset = ROOT_HEADER + 20 * nparts
    if len(code) < offset:
        raise MalformedModel("root code shorter than its part list")
    parts = tuple(code[ROOT_HEADER + 20 * i:ROOT_HEADER + 20 * (i + 1)] for i in range(nparts))
    return DataHeader(code[6], parts, offset)


def join_body(root_code: bytes, header: DataHeader, part_codes: Sequence[bytes]) -> bytes:
    chunks = [root_code[header.body_offset:]]
    for address, code in zip(header.parts, part_codes):
        if not code or code[0] != 0:
            raise UnknownModel(f"data part {address.hex()} is missing or does not start with 0x00")
        chunks.append(code[1:])
    return b"".join(chunks)


@dataclass(frozen=True)
class Layer:
    n_in: int
    n_out: int
    shift: int
    act: int
    w_offset: int  #: offsets into the body
    b_offset: int


@dataclass(frozen=True)
class MlpSpec:
    """MLP body::

        L:u8 | L x (in:u16 out:u16 shift:u8 act:u8) | for each layer: W int8[out*in] row-major, bias int32[out]

    Hidden layers: ``x' = act(clamp_int8(requant(W x + b, shift)))``; the last layer gives
    ``logits = act(clamp_int32(requant(W x + b, shift)))``.  ``act``: 0 none, 1 ReLU.
    """

    layers: Tuple[Layer, ...]
    n_in: int = 0
    n_out: int = 0
    macs: int = 0  #: multiply-accumulates of one inference
    output_size: int = 0  #: bytes returned: argmax word + int32 logits

    @classmethod
    def of(cls, layers: Tuple[Layer, ...]) -> "MlpSpec":
        return cls(layers, layers[0].n_in, layers[-1].n_out, sum(layer.n_in * layer.n_out for layer in layers),
                   32 + 4 * layers[-1].n_out)


def parse_mlp_body(body: bytes) -> MlpSpec:
    if len(body) < 1:
        raise MalformedModel("empty MLP body")
    count = body[0]
    if not 1 <= count <= MAX_LAYERS:
        raise MalformedModel(f"MLP with {count} layers (1..{MAX_LAYERS})")
    table_end = 1 + 6 * count
    if len(body) < table_end:
        raise MalformedModel("MLP layer table truncated")
    layers: List[Layer] = []
    offset = table_end
    previous = None
    for i in range(count):
        at = 1 + 6 * i
        n_in, n_out, shift, act = u16(body, at), u16(body, at + 2), body[at + 4], body[at + 5]
        if n_in == 0 or n_out == 0:
            raise MalformedModel(f"layer {i}: zero dimension")
        if previous is not None and n_in != previous:
            raise MalformedModel(f"layer {i}: takes {n_in} inputs, previous layer gives {previous}")
        if shift > MAX_SHIFT:
            raise MalformedModel(f"layer {i}: shift {shift} > {MAX_SHIFT}")
        if act not in (ACT_NONE, ACT_RELU):
            raise MalformedModel(f"layer {i}: unknown activation {act}")
        layers.append(Layer(n_in, n_out, shift, act, offset, offset + n_in * n_out))
        offset += n_in * n_out + 4 * n_out
        previous = n_out
    if offset != len(body):
        raise MalformedModel(f"MLP body is {len(body)} bytes, its layer table implies {offset}")
    return MlpSpec.of(tuple(layers))


@dataclass(frozen=True)
class VectorSpec:
    """Vector-set body: ``dim:u16 | count:u32 | vectors int8[count*dim]`` (row per vector)."""

    dim: int
    count: int
    offset: int = 6


def parse_vector_body(body: bytes) -> VectorSpec:
    if len(body) < 6:
        raise MalformedModel("vector set header truncated")
    dim, count = u16(body, 0), u32(body, 2)
    if dim == 0 or count == 0:
        raise MalformedModel("empty vector set")
    if len(body) != 6 + dim * count:
        raise MalformedModel(f"vector set body is {len(body)} bytes, header implies {6 + dim * count}")
    return VectorSpec(dim, count)


# -- building data contracts (tools for deployers and tests) --------------------------------
def _i8(values: Sequence[int]) -> bytes:
    for v in values:
        if not INT8_MIN <= v <= INT8_MAX:
            raise ValueError(f"int8 value out of range: {v}")
    return bytes(v & 0xFF for v in values)


def _i32(values: Sequence[int]) -> bytes:
    for v in values:
        if not INT32_MIN <= v <= INT32_MAX:
            raise ValueError(f"int32 value out of range: {v}")
    return b"".join((v & 0xFFFFFFFF).to_bytes(4, "big") for v in values)


def encode_mlp_body(layers: Sequence[Tuple[Sequence[Sequence[int]], Sequence[int], int, int]]) -> bytes:
    """Body for ``[(W rows [out][in], bias [out], shift, act), ...]``."""
    table = bytes([len(layers)])
    data = b""
    for w, b, shift, act in layers:
        n_out, n_in = len(w), len(w[0])
        table += n_in.to_bytes(2, "big") + n_out.to_bytes(2, "big") + bytes([shift, act])
        data += _i8([v for row in w for v in row]) + _i32(b)
    return table + data


def encode_vector_body(vectors: Sequence[Sequence[int]]) -> bytes:
    dim = len(vectors[0])
    return dim.to_bytes(2, "big") + len(vectors).to_bytes(4, "big") + _i8([v for row in vectors for v in row])


def split_data_contracts(kind: int, body: bytes, part_addresses: Sequence[bytes] = ()) -> List[bytes]:
    """Runtime codes ``[root, part1, ...]`` holding ``body``.

    With no ``part_addresses`` everything goes into the root (which must then fit in
    24,576 bytes); otherwise the root holds the header and each part up to 24,575 bytes
    of the body (the last part takes the rest).
    """
    header = b"\x00" + MAGIC + bytes([VERSION, kind, len(part_addresses)]) + b"".join(part_addresses)
    if not part_addresses:
        root = header + body
        if len(root) > MAX_CODE_SIZE:
            raise ValueError(f"root code would be {len(root)} bytes > {MAX_CODE_SIZE}: give part addresses")
        return [root]
    room = MAX_CODE_SIZE - 1
    if len(body) > room * len(part_addresses):
        raise ValueError(f"{len(body)} bytes of body need {-(-len(body) // room)} parts")
    chunks = [body[i * room:(i + 1) * room] for i in range(len(part_addresses))]
    return [header] + [b"\x00" + chunk for chunk in chunks]


def parts_needed(body_size: int) -> int:
    return -(-body_size // (MAX_CODE_SIZE - 1))
