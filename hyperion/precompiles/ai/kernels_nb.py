"""numba-compiled kernels of the AI precompiles (twin: :mod:`kernels_py`).

Integer arithmetic only: int8 operands, int64 accumulators (no overflow is possible at
the sizes the ABI allows), explicit clamps to int8 / int32, floor shifts.  No float,
no ``fastmath``, no threads: the result is a pure function of the input bytes.

Every kernel is compiled eagerly for one explicit signature with ``cache=True``, so the
first import of this module compiles (or loads from numba's on-disk cache) everything at
once -- at engine or worker start, never in the middle of a block -- and a call with
any other argument type fails loudly instead of compiling a new specialisation.
"""
from __future__ import annotations

import struct
from typing import List, Optional, Tuple

from hyperion.precompiles.ai import tables as T
from hyperion.precompiles.ai.backend import configure_numba_cache

configure_numba_cache()  # before numba decides where its cache lives (never in the package)

import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402

NAME = "numba"

_I8 = types.Array(types.int8, 1, "C", readonly=True)  # np.frombuffer(bytes, int8)
_I64 = types.Array(types.int64, 1, "C")
_i64 = types.int64

# The tables and their step sizes are passed to the kernels as arguments, never read as
# globals: numba freezes globals into the compiled code, and its cache is keyed on this
# file only, so a global from tables.py could survive a change of that file.
_SIGMOID = np.array(T.SIGMOID_Q16, dtype=np.int64)
_TANH = np.array(T.TANH_Q16, dtype=np.int64)
_EXP = np.array(T.EXP_Q30, dtype=np.int64)
_STEPS = np.array([T.SIGMOID_STEP_BITS, T.TANH_STEP_BITS, T.EXP_STEP_BITS], dtype=np.int64)
_EMPTY64 = np.zeros(0, dtype=np.int64)
_Q = 16  # Q16 is part of the ABI (docs/ai-precompiles.md), not a tunable


@njit(_i64(_i64, _i64), cache=True, nogil=True)
def _requant(value, shift):
    if shift == 0:
        return value
    return (value + (np.int64(1) << (shift - 1))) >> shift


@njit(_i64(_i64, _i64, _i64), cache=True, nogil=True)
def _finish(acc, shift, out_int8):
    z = _requant(acc, shift)
    if out_int8:
        lo, hi = -128, 127
    else:
        lo, hi = -2147483648, 2147483647
    if z < lo:
        return lo
    if z > hi:
        return hi
    return z


@njit(_I64(_I8, _I8, _I64, _i64, _i64, _i64, _i64), cache=True, nogil=True)
def k_matvec(w, x, bias, m, n, shift, out_int8):
    out = np.empty(m, dtype=np.int64)
    has_bias = bias.shape[0] > 0
    for i in range(m):
        acc = np.int64(0)
        base = i * n
        for j in range(n):
            acc += np.int64(w[base + j]) * np.int64(x[j])
        if has_bias:
            acc += bias[i]
        out[i] = _finish(acc, shift, out_int8)
    return out


@njit(_I64(_I8, _I8, _I64, _i64, _i64, _i64, _i64, _i64), cache=True, nogil=True)
def k_matmul(a, b, bias, m, k, n, shift, out_int8):
    acc = np.zeros(m * n, dtype=np.int64)
    for i in range(m):
        for t in range(k):
            av = np.int64(a[i * k + t])
            if av == 0:
                continue
            row = t * n
            base = i * n
            for j in range(n):
                acc[base + j] += av * np.int64(b[row + j])
    has_bias = bias.shape[0] > 0
    for i in range(m):
        for j in range(n):
            v = acc[i * n + j]
            if has_bias:
                v += bias[j]
            acc[i * n + j] = _finish(v, shift, out_int8)
    return acc


# -- activations -------------------------------------------------------------------------
@njit(_i64(_i64, _i64), cache=True, nogil=True)
def _to_q16(x, frac):
    if frac >= _Q:
        return x >> (frac - _Q)
    return x << (_Q - frac)


@njit(_i64(_i64, _i64), cache=True, nogil=True)
def _from_q16(y, frac):
    if frac >= _Q:
        return y << (frac - _Q)
    return _requant(y, _Q - frac)


@njit(_i64(_I64, _i64, _i64, _i64), cache=True, nogil=True)
def _interpolate(table, last, bits, a):
    i = a >> bits
    if i >= last:
        return table[last]
    lo = table[i]
    hi = table[i + 1]
    return lo + (((hi - lo) * (a & ((np.int64(1) << bits) - 1)) + (np.int64(1) << (bits - 1))) >> bits)


@njit(_I64(_i64, _i64, _I64, _I64, _I64, _I64, _I64), cache=True, nogil=True)
def k_activation(kind, frac, xs, sig, tanh, exp, steps):
    n = xs.shape[0]
    one = np.int64(1) << _Q
    out = np.empty(n, dtype=np.int64)
    if kind == 0:
        for i in range(n):
            out[i] = xs[i] if xs[i] > 0 else 0
    elif kind == 1:
        for i in range(n):
            t = _to_q16(xs[i], frac)
            a = -t if t < 0 else t
            s = _interpolate(sig, sig.shape[0] - 1, steps[0], a)
            if t < 0:
                s = one - s
            out[i] = _from_q16(s, frac)
    elif kind == 2:
        for i in range(n):
            t = _to_q16(xs[i], frac)
            a = -t if t < 0 else t
            v = _interpolate(tanh, tanh.shape[0] - 1, steps[1], a)
            if t < 0:
                v = -v
            out[i] = _from_q16(v, frac)
    else:
        if n == 0:
            return out
        qs = np.empty(n, dtype=np.int64)
        top = _to_q16(xs[0], frac)
        for i in range(n):
            qs[i] = _to_q16(xs[i], frac)
            if qs[i] > top:
                top = qs[i]
        total = np.int64(0)
        for i in range(n):
            d = top - qs[i]
            if (d >> steps[2]) >= exp.shape[0] - 1:
                e = np.int64(0)
            else:
                e = _interpolate(exp, exp.shape[0] - 1, steps[2], d)
            qs[i] = e
            total += e
        half = total >> 1
        for i in range(n):
            out[i] = ((qs[i] << frac) + half) // total
    return out


# -- similarity --------------------------------------------------------------------------
@njit(_i64(_I8, _I8), cache=True, nogil=True)
def k_dot(a, b):
    acc = np.int64(0)
    for i in range(a.shape[0]):
        acc += np.int64(a[i]) * np.int64(b[i])
    return acc


@njit(_i64(_i64), cache=True, nogil=True)
def _isqrt(n):
    """floor(sqrt(n)) for 0 <= n < 2**62, by integer Newton iteration."""
    if n < 2:
        return n
    bits = 0
    v = n
    while v > 0:
        v >>= 1
        bits += 1
    x = np.int64(1) << ((bits + 1) >> 1)  # >= sqrt(n)
    while True:
        y = (x + n // x) >> 1
        if y >= x:
            return x
        x = y


@njit(_i64(_i64, _i64, _i64), cache=True, nogil=True)
def _cosine_score(d, na, nb):
    r = _isqrt(na * nb)
    if r == 0:
        return 0
    q = ((-d if d < 0 else d) << 16) // r
    return -q if d < 0 else q


@njit(_i64(_I8, _I8), cache=True, nogil=True)
def k_cosine(a, b):
    d = np.int64(0)
    na = np.int64(0)
    nb = np.int64(0)
    for i in range(a.shape[0]):
        x = np.int64(a[i])
        y = np.int64(b[i])
        d += x * y
        na += x * x
        nb += y * y
    return _cosine_score(d, na, nb)


@njit(_I64(_I8, _i64, _i64), cache=True, nogil=True)
def k_norms(vectors, dim, count):
    norms = np.empty(count, dtype=np.int64)
    for v in range(count):
        acc = np.int64(0)
        for i in range(dim):
            x = np.int64(vectors[v * dim + i])
            acc += x * x
        norms[v] = acc
    return norms


@njit(_I64(_I8, _I64, _I8, _i64, _i64, _i64, _i64), cache=True, nogil=True)
def k_topk(vectors, norms, query, dim, count, k, metric):
    """``[index0, score0, index1, score1, ...]`` of the min(k, count) best vectors."""
    r = k if k < count else count
    best_i = np.empty(r, dtype=np.int64)
    best_s = np.empty(r, dtype=np.int64)
    filled = 0
    qn = np.int64(0)
    for i in range(dim):
        qn += np.int64(query[i]) * np.int64(query[i])
    for v in range(count):
        acc = np.int64(0)
        base = v * dim
        for i in range(dim):
            acc += np.int64(query[i]) * np.int64(vectors[base + i])
        score = acc
        if metric == 1:
            score = _cosine_score(acc, qn, norms[v])
        if filled < r:
            pos = filled
            filled += 1
        elif score > best_s[r - 1]:
            pos = r - 1
        else:
            continue
        while pos > 0 and score > best_s[pos - 1]:
            best_i[pos] = best_i[pos - 1]
            best_s[pos] = best_s[pos - 1]
            pos -= 1
        best_i[pos] = v
        best_s[pos] = score
    out = np.empty(2 * r, dtype=np.int64)
    for j in range(r):
        out[2 * j] = best_i[j]
        out[2 * j + 1] = best_s[j]
    return out


# -- MLP ---------------------------------------------------------------------------------
@njit(_I64(_I8, _I64, _I64, _I8), cache=True, nogil=True)
def k_mlp(weights, biases, meta, x):
    """``meta``: per layer (n_in, n_out, shift, act, w_offset, b_offset).

    Returns ``[argmax, logit0, logit1, ...]`` (argmax: lowest index among equal maxima).
    """
    layers = meta.shape[0] // 6
    values = np.empty(x.shape[0], dtype=np.int64)
    for i in range(x.shape[0]):
        values[i] = x[i]
    for layer in range(layers):
        n_in = meta[6 * layer]
        n_out = meta[6 * layer + 1]
        shift = meta[6 * layer + 2]
        act = meta[6 * layer + 3]
        w_off = meta[6 * layer + 4]
        b_off = meta[6 * layer + 5]
        last = layer == layers - 1
        out = np.empty(n_out, dtype=np.int64)
        for j in range(n_out):
            acc = biases[b_off + j]
            base = w_off + j * n_in
            for i in range(n_in):
                acc += np.int64(weights[base + i]) * values[i]
            z = _finish(acc, shift, 0 if last else 1)
            if act == 1 and z < 0:
                z = 0
            out[j] = z
        values = out
    result = np.empty(values.shape[0] + 1, dtype=np.int64)
    best = 0
    for j in range(values.shape[0]):
        result[j + 1] = values[j]
        if values[j] > values[best]:
            best = j
    result[0] = best
    return result


# -- bytes API (same as kernels_py) --------------------------------------------------------
def _ro(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.int8)


def _i32(data: Optional[bytes]) -> np.ndarray:
    if data is None:
        return _EMPTY64
    return np.frombuffer(data, dtype=">i4").astype(np.int64)


def _out(values: np.ndarray, out_int8: bool) -> bytes:
    return values.astype(np.int8 if out_int8 else ">i4").tobytes()


def matvec(w: bytes, x: bytes, bias: Optional[bytes], m: int, n: int, shift: int, out_int8: bool) -> bytes:
    return _out(k_matvec(_ro(w), _ro(x), _i32(bias), m, n, shift, int(out_int8)), out_int8)


def matmul(a: bytes, b: bytes, bias: Optional[bytes], m: int, k: int, n: int, shift: int, out_int8: bool) -> bytes:
    return _out(k_matmul(_ro(a), _ro(b), _i32(bias), m, k, n, shift, int(out_int8)), out_int8)


def activation(kind: int, frac: int, values: bytes) -> bytes:
    return k_activation(kind, frac, _i32(values), _SIGMOID, _TANH, _EXP, _STEPS).astype(">i4").tobytes()


def dot(a: bytes, b: bytes) -> int:
    return int(k_dot(_ro(a), _ro(b)))


def cosine(a: bytes, b: bytes) -> int:
    return int(k_cosine(_ro(a), _ro(b)))


class VectorSet:
    __slots__ = ("dim", "count", "data", "norms", "_keep")

    def __init__(self, body: bytes, offset: int, dim: int, count: int) -> None:
        self._keep = body
        self.dim = dim
        self.count = count
        self.data = np.frombuffer(body, dtype=np.int8, count=dim * count, offset=offset)
        self.norms = k_norms(self.data, dim, count)


def load_vectors(body: bytes, offset: int, dim: int, count: int) -> VectorSet:
    return VectorSet(bytes(body), offset, dim, count)


def topk(vectors: VectorSet, query: bytes, k: int, metric: int) -> List[Tuple[int, int]]:
    flat = k_topk(vectors.data, vectors.norms, _ro(query), vectors.dim, vectors.count, k, metric).tolist()
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


class Mlp:
    __slots__ = ("weights", "biases", "meta")

    def __init__(self, weights: np.ndarray, biases: np.ndarray, meta: np.ndarray) -> None:
        self.weights = weights
        self.biases = biases
        self.meta = meta


def load_mlp(body: bytes, spec) -> Mlp:
    weights = []
    biases = []
    meta = []
    w_off = b_off = 0
    for layer in spec.layers:
        size = layer.n_in * layer.n_out
        weights.append(body[layer.w_offset:layer.w_offset + size])
        biases.append(_i32(body[layer.b_offset:layer.b_offset + 4 * layer.n_out]))
        meta += [layer.n_in, layer.n_out, layer.shift, layer.act, w_off, b_off]
        w_off += size
        b_off += layer.n_out
    return Mlp(_ro(b"".join(weights)), np.concatenate(biases), np.array(meta, dtype=np.int64))


def mlp(model: Mlp, x: bytes) -> Tuple[int, bytes]:
    result = k_mlp(model.weights, model.biases, model.meta, _ro(x))
    return int(result[0]), result[1:].astype(">i4").tobytes()


def warm() -> None:
    """Run every kernel once and compare it with the plain-Python twin.

    Compilation itself happened at import.  The comparison (a few milliseconds) guards
    against a stale or broken numba cache: a node whose compiled kernels disagree with
    the definition refuses to start instead of computing different results.
    """
    from hyperion.precompiles.ai import abi, kernels_py as py

    w = bytes(range(0, 256, 7))[:24]
    x = bytes(range(255, 0, -37))[:6]
    bias = struct.pack(">4i", 2**31 - 1, -(2**31), 12345, -7)
    values = struct.pack(">6i", -300, 500, 0, 2**31 - 1, -(2**31), 123456)
    vectors = b"\x00" * 6 + w
    mlp_body = abi.encode_mlp_body([([[-128, 127, 3], [5, -9, 127]], [1000, -1000], 2, abi.ACT_RELU),
                                    ([[127, -128]], [7], 1, abi.ACT_NONE)])
    mlp_spec = abi.parse_mlp_body(mlp_body)
    checks = [
        ("matvec", lambda k: k.matvec(w, x, bias, 4, 6, 3, True) + k.matvec(w, x, None, 4, 6, 0, False)),
        ("matmul", lambda k: k.matmul(w, x, bias[:8], 4, 6, 1, 2, False) + k.matmul(w[:12], w, None, 2, 6, 4, 5, True)),
        ("activation", lambda k: b"".join(k.activation(kind, frac, values) for kind in range(4) for frac in (0, 8, 24))),
        ("dot/cosine", lambda k: struct.pack(">qq", k.dot(w[:6], x), k.cosine(w[:6], x))),
        ("topk", lambda k: repr(k.topk(k.load_vectors(vectors, 6, 6, 4), x, 3, 1)).encode()),
        ("mlp", lambda k: repr(k.mlp(k.load_mlp(mlp_body, mlp_spec), b"\x05\xfb\x7f")).encode()),
    ]
    import sys

    this = sys.modules[__name__]
    for name, run in checks:
        if run(this) != run(py):
            raise RuntimeError(f"numba {name} kernel disagrees with its definition (stale numba cache? "
                               f"delete hyperion/precompiles/ai/__pycache__/*.nbi and *.nbc)")
