"""Plain-Python twin of :mod:`kernels_nb` (used with ``HYPERION_PUREPYTHON=1``).

Same API, same integer arithmetic, same bytes out.  Python integers never overflow, so
every clamp written here is the *definition* the compiled kernels must match.

Rounding: ``requant(v, s) = (v + 2**(s-1)) >> s`` for ``s > 0`` (round half up, ``>>``
is a floor shift on negative numbers too), ``v`` for ``s == 0``.
"""
from __future__ import annotations

import math
import struct
from typing import List, Optional, Sequence, Tuple

from hyperion.precompiles.ai import tables as T

NAME = "python"

INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def requant(value: int, shift: int) -> int:
    return value if shift == 0 else (value + (1 << (shift - 1))) >> shift


def clamp(value: int, low: int, high: int) -> int:
    return low if value < low else high if value > high else value


def _i8(data: bytes) -> Tuple[int, ...]:
    return struct.unpack(f"{len(data)}b", data)


def _i32(data: bytes) -> Tuple[int, ...]:
    return struct.unpack(f">{len(data) // 4}i", data)


def _out(values: Sequence[int], out_int8: bool) -> bytes:
    if out_int8:
        return struct.pack(f"{len(values)}b", *values)
    return struct.pack(f">{len(values)}i", *values)


def _finish(acc: int, shift: int, out_int8: bool) -> int:
    z = requant(acc, shift)
    return clamp(z, INT8_MIN, INT8_MAX) if out_int8 else clamp(z, INT32_MIN, INT32_MAX)


# -- linear algebra ---------------------------------------------------------------------
def matvec(w: bytes, x: bytes, bias: Optional[bytes], m: int, n: int, shift: int, out_int8: bool) -> bytes:
    wv, xv = _i8(w), _i8(x)
    bv = _i32(bias) if bias is not None else (0,) * m
    out = []
    for i in range(m):
        row = wv[i * n:(i + 1) * n]
        acc = bv[i] + sum(a * b for a, b in zip(row, xv))
        out.append(_finish(acc, shift, out_int8))
    return _out(out, out_int8)


def matmul(a: bytes, b: bytes, bias: Optional[bytes], m: int, k: int, n: int, shift: int, out_int8: bool) -> bytes:
    av, bv = _i8(a), _i8(b)
    biases = _i32(bias) if bias is not None else (0,) * n
    columns = [bv[j::n] for j in range(n)]
    out = []
    for i in range(m):
        row = av[i * k:(i + 1) * k]
        for j in range(n):
            acc = biases[j] + sum(p * q for p, q in zip(row, columns[j]))
            out.append(_finish(acc, shift, out_int8))
    return _out(out, out_int8)


# -- activations (Q16 internally) -------------------------------------------------------
def to_q16(x: int, frac: int) -> int:
    return x >> (frac - T.Q) if frac >= T.Q else x << (T.Q - frac)


def from_q16(y: int, frac: int) -> int:
    return y << (frac - T.Q) if frac >= T.Q else requant(y, T.Q - frac)


def _interpolate(table: Sequence[int], last: int, bits: int, a: int) -> int:
    """table at a / 2**16 (a >= 0; entries 2**bits apart in Q16): linear between entries,
    rounded half up, saturated past ``last``."""
    i = a >> bits
    if i >= last:
        return table[last]
    lo, hi = table[i], table[i + 1]
    return lo + (((hi - lo) * (a & ((1 << bits) - 1)) + (1 << (bits - 1))) >> bits)


def sigmoid_q16(t: int) -> int:
    s = _interpolate(T.SIGMOID_Q16, T.SIGMOID_LAST, T.SIGMOID_STEP_BITS, -t if t < 0 else t)
    return s if t >= 0 else T.ONE_Q16 - s


def tanh_q16(t: int) -> int:
    v = _interpolate(T.TANH_Q16, T.TANH_LAST, T.TANH_STEP_BITS, -t if t < 0 else t)
    return v if t >= 0 else -v


def exp_neg_q30(d: int) -> int:
    """e**(-d / 2**16) in Q30 for d >= 0 (0 from d >= 16.0)."""
    if d >> T.EXP_STEP_BITS >= T.EXP_LAST:
        return 0
    return _interpolate(T.EXP_Q30, T.EXP_LAST, T.EXP_STEP_BITS, d)


def activation(kind: int, frac: int, values: bytes) -> bytes:
    """kind: 0 ReLU, 1 sigmoid, 2 tanh, 3 softmax; int32 BE in and out."""
    xs = _i32(values)
    if kind == 0:
        out = [x if x > 0 else 0 for x in xs]
    elif kind == 1:
        out = [from_q16(sigmoid_q16(to_q16(x, frac)), frac) for x in xs]
    elif kind == 2:
        out = [from_q16(tanh_q16(to_q16(x, frac)), frac) for x in xs]
    elif kind == 3:
        if not xs:
            return b""
        qs = [to_q16(x, frac) for x in xs]
        top = max(qs)
        es = [exp_neg_q30(top - q) for q in qs]
        total = sum(es)
        out = [((e << frac) + (total >> 1)) // total for e in es]
    else:  # pragma: no cover - callers pass 0..3
        raise ValueError(kind)
    return struct.pack(f">{len(out)}i", *out)


# -- similarity -------------------------------------------------------------------------
def dot(a: bytes, b: bytes) -> int:
    return sum(p * q for p, q in zip(_i8(a), _i8(b)))


def cosine_score(d: int, norm_a: int, norm_b: int) -> int:
    """``d * 2**16 / isqrt(|a|^2 |b|^2)`` truncated toward zero; 0 if a norm is 0."""
    r = math.isqrt(norm_a * norm_b)
    if r == 0:
        return 0
    q = (abs(d) << 16) // r
    return -q if d < 0 else q


def cosine(a: bytes, b: bytes) -> int:
    av, bv = _i8(a), _i8(b)
    return cosine_score(sum(p * q for p, q in zip(av, bv)), sum(p * p for p in av), sum(q * q for q in bv))


class VectorSet:
    __slots__ = ("dim", "count", "rows", "norms")

    def __init__(self, dim: int, count: int, rows: List[Tuple[int, ...]]) -> None:
        self.dim = dim
        self.count = count
        self.rows = rows
        self.norms = [sum(v * v for v in row) for row in rows]


def load_vectors(body: bytes, offset: int, dim: int, count: int) -> VectorSet:
    flat = _i8(body[offset:offset + dim * count])
    return VectorSet(dim, count, [flat[i * dim:(i + 1) * dim] for i in range(count)])


def topk(vectors: VectorSet, query: bytes, k: int, metric: int) -> List[Tuple[int, int]]:
    """The ``min(k, count)`` best ``(index, score)``: score descending, lower index first on ties."""
    q = _i8(query)
    qn = sum(v * v for v in q)
    best: List[Tuple[int, int]] = []
    r = min(k, vectors.count)
    for index, row in enumerate(vectors.rows):
        score = sum(p * s for p, s in zip(q, row))
        if metric == 1:
            score = cosine_score(score, qn, vectors.norms[index])
        if len(best) < r or score > best[-1][1]:
            pos = len(best) if len(best) < r else r - 1
            if len(best) < r:
                best.append((index, score))
            else:
                best[pos] = (index, score)
            while pos > 0 and score > best[pos - 1][1]:
                best[pos], best[pos - 1] = best[pos - 1], best[pos]
                pos -= 1
    return best


# -- MLP --------------------------------------------------------------------------------
class Mlp:
    __slots__ = ("layers",)

    def __init__(self, layers) -> None:
        self.layers = layers  # [(rows, biases, shift, act)]


def load_mlp(body: bytes, spec) -> Mlp:
    layers = []
    for layer in spec.layers:
        flat = _i8(body[layer.w_offset:layer.w_offset + layer.n_in * layer.n_out])
        rows = [flat[j * layer.n_in:(j + 1) * layer.n_in] for j in range(layer.n_out)]
        biases = _i32(body[layer.b_offset:layer.b_offset + 4 * layer.n_out])
        layers.append((rows, biases, layer.shift, layer.act))
    return Mlp(layers)


def mlp(model: Mlp, x: bytes) -> Tuple[int, bytes]:
    """``(argmax, logits as int32 BE)``; argmax is the lowest index among equal maxima."""
    values: Sequence[int] = _i8(x)
    last = len(model.layers) - 1
    for number, (rows, biases, shift, act) in enumerate(model.layers):
        out = []
        for row, b in zip(rows, biases):
            z = requant(b + sum(p * q for p, q in zip(row, values)), shift)
            z = clamp(z, INT32_MIN, INT32_MAX) if number == last else clamp(z, INT8_MIN, INT8_MAX)
            if act == 1 and z < 0:
                z = 0
            out.append(z)
        values = out
    best = 0
    for i in range(1, len(values)):
        if values[i] > values[best]:
            best = i
    return best, struct.pack(f">{len(values)}i", *values)


def warm() -> None:
    """Nothing to compile."""
