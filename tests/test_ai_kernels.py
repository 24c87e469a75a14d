"""AI kernels vs an independent integer reference (numpy int64, vectorised), both modes.

The kernels (``kernels_nb`` compiled with numba, ``kernels_py`` its plain-Python twin)
are checked against reference implementations written here with numpy int64 array
arithmetic, on hypothesis-generated inputs that include the saturation edges (int8
extremes, int32 bias extremes, shifts 0 and 31).  The activations are also checked
against the exact functions (Python ``decimal``) for accuracy.  Determinism: the same
digest across runs (pinned), across processes and between the compiled and plain-Python
modes.
"""
from __future__ import annotations

import decimal
import math
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperion.precompiles.ai import abi, tables as T
from hyperion.precompiles.ai.backend import other

PURE = os.environ.get("HYPERION_PUREPYTHON", "") not in ("", "0")

#: sha256 of every kernel's outputs on selftest's fixed inputs (both modes, any machine)
GOLDEN_DIGEST = "25e1f721eec0d80f0a3dc6c8768caba1cf0ad187dcb3b49557540c89b6cc4445"


@pytest.fixture(scope="module", params=["python", "numba"])
def kernels(request):
    if request.param == "numba" and PURE:
        pytest.skip("pure-Python pass: the numba kernels are checked in the compiled pass")
    return other(request.param)


# -- strategies (with saturation edges) -----------------------------------------------------
int8 = st.one_of(st.sampled_from([-128, 127, -1, 0, 1]), st.integers(-128, 127))
int32 = st.one_of(st.sampled_from([-(2**31), 2**31 - 1, 0, -1]), st.integers(-(2**31), 2**31 - 1))
shifts = st.one_of(st.sampled_from([0, 1, 31]), st.integers(0, 31))
MAX = 12 if PURE else 40


def i8bytes(values) -> bytes:
    return bytes(v & 0xFF for v in values)


def i32bytes(values) -> bytes:
    return struct.pack(f">{len(values)}i", *values)


def from_i32(data: bytes) -> list:
    return list(struct.unpack(f">{len(data) // 4}i", data))


def from_i8(data: bytes) -> list:
    return list(struct.unpack(f"{len(data)}b", data))


@st.composite
def matrices(draw, max_dim=MAX):
    m = draw(st.integers(1, max_dim))
    n = draw(st.integers(1, max_dim))
    edge = draw(st.booleans())
    values = st.sampled_from([-128, 127]) if edge else int8
    w = draw(st.lists(values, min_size=m * n, max_size=m * n))
    x = draw(st.lists(values, min_size=n, max_size=n))
    bias = draw(st.one_of(st.none(), st.lists(int32, min_size=m, max_size=m)))
    return m, n, w, x, bias, draw(shifts), draw(st.booleans())


# -- the reference ----------------------------------------------------------------------------
def ref_requant(v: np.ndarray, shift: int) -> np.ndarray:
    return v if shift == 0 else (v + (np.int64(1) << np.int64(shift - 1))) >> np.int64(shift)


def ref_finish(acc: np.ndarray, shift: int, out_int8: bool) -> np.ndarray:
    z = ref_requant(acc, shift)
    return np.clip(z, -128, 127) if out_int8 else np.clip(z, -(2**31), 2**31 - 1)


def ref_matvec(m, n, w, x, bias, shift, out_int8):
    acc = np.array(w, dtype=np.int64).reshape(m, n) @ np.array(x, dtype=np.int64)
    if bias is not None:
        acc = acc + np.array(bias, dtype=np.int64)
    return ref_finish(acc, shift, out_int8).tolist()


def ref_table(table, last, bits, a: np.ndarray) -> np.ndarray:
    t = np.array(table, dtype=np.int64)
    i = a >> bits
    inside = i < last
    ic = np.where(inside, i, 0)
    step = 1 << bits
    value = t[ic] + (((t[ic + 1] - t[ic]) * (a % step) + step // 2) // step)
    return np.where(inside, value, t[last])


def ref_to_q16(x: np.ndarray, frac: int) -> np.ndarray:
    return x >> (frac - 16) if frac >= 16 else x << (16 - frac)


def ref_from_q16(y: np.ndarray, frac: int) -> np.ndarray:
    return y << (frac - 16) if frac >= 16 else ref_requant(y, 16 - frac)


def ref_activation(kind: int, frac: int, xs) -> list:
    x = np.array(xs, dtype=np.int64)
    if kind == 0:
        return np.maximum(x, 0).tolist()
    q = ref_to_q16(x, frac)
    if kind == 1:
        s = ref_table(T.SIGMOID_Q16, T.SIGMOID_LAST, 11, np.abs(q))
        return ref_from_q16(np.where(q < 0, 65536 - s, s), frac).tolist()
    if kind == 2:
        v = ref_table(T.TANH_Q16, T.TANH_LAST, 9, np.abs(q))
        return ref_from_q16(np.where(q < 0, -v, v), frac).tolist()
    if len(xs) == 0:
        return []
    d = q.max() - q
    val = np.where((d >> 9) < T.EXP_LAST, ref_table(T.EXP_Q30, T.EXP_LAST, 9, d), 0)
    total = int(val.sum())
    return [((int(v) << frac) + total // 2) // total for v in val]


def ref_cosine(a, b) -> int:
    a = np.array(a, dtype=np.int64)
    b = np.array(b, dtype=np.int64)
    d = int(a @ b)
    r = math.isqrt(int(a @ a) * int(b @ b))
    if r == 0:
        return 0
    q = (abs(d) * 65536) // r
    return q if d >= 0 else -q


def ref_mlp(layers, x) -> tuple:
    v = np.array(x, dtype=np.int64)
    for number, (w, b, shift, act) in enumerate(layers):
        z = ref_requant(np.array(w, dtype=np.int64) @ v + np.array(b, dtype=np.int64), shift)
        z = np.clip(z, -(2**31), 2**31 - 1) if number == len(layers) - 1 else np.clip(z, -128, 127)
        if act == abi.ACT_RELU:
            z = np.maximum(z, 0)
        v = z
    logits = v.tolist()
    return logits.index(max(logits)), logits


# -- linear algebra -----------------------------------------------------------------------------
@given(case=matrices())
def test_matvec_matches_reference(kernels, case):
    m, n, w, x, bias, shift, out_int8 = case
    out = kernels.matvec(i8bytes(w), i8bytes(x), None if bias is None else i32bytes(bias), m, n, shift, out_int8)
    got = from_i8(out) if out_int8 else from_i32(out)
    assert got == ref_matvec(m, n, w, x, bias, shift, out_int8)


@given(case=matrices(), k=st.integers(1, 6 if PURE else 12), data=st.data())
def test_matmul_matches_reference(kernels, case, k, data):
    m, n, a, _, _, shift, out_int8 = case
    b = data.draw(st.lists(int8, min_size=n * k, max_size=n * k))
    bias = data.draw(st.one_of(st.none(), st.lists(int32, min_size=k, max_size=k)))
    out = kernels.matmul(i8bytes(a), i8bytes(b), None if bias is None else i32bytes(bias), m, n, k, shift, out_int8)
    got = from_i8(out) if out_int8 else from_i32(out)
    acc = np.array(a, dtype=np.int64).reshape(m, n) @ np.array(b, dtype=np.int64).reshape(n, k)
    if bias is not None:
        acc = acc + np.array(bias, dtype=np.int64)[None, :]
    assert got == ref_finish(acc, shift, out_int8).reshape(-1).tolist()


def test_matvec_saturates_and_rounds(kernels):
    # 127*127*4 = 64516, + max bias: saturates to int32 max; int8 mode saturates to 127 / -128
    w, x = i8bytes([127] * 4), i8bytes([127] * 4)
    out = kernels.matvec(w, x, i32bytes([2**31 - 1]), 1, 4, 0, False)
    assert from_i32(out) == [2**31 - 1]
    assert from_i8(kernels.matvec(w, x, None, 1, 4, 0, True)) == [127]
    assert from_i8(kernels.matvec(w, i8bytes([-128] * 4), None, 1, 4, 0, True)) == [-128]
    # rounding is half up: 3 >> 1 = 2 (1.5 -> 2), -3 >> 1 = -1 (-1.5 -> -1)
    assert from_i32(kernels.matvec(i8bytes([3]), i8bytes([1]), None, 1, 1, 1, False)) == [2]
    assert from_i32(kernels.matvec(i8bytes([-3]), i8bytes([1]), None, 1, 1, 1, False)) == [-1]


# -- activations ------------------------------------------------------------------------------
@given(kind=st.integers(0, 3), frac=st.sampled_from([0, 4, 8, 12, 16, 20, 24]),
       xs=st.lists(int32, min_size=0, max_size=24))
def test_activations_match_reference(kernels, kind, frac, xs):
    got = from_i32(kernels.activation(kind, frac, i32bytes(xs)))
    assert got == ref_activation(kind, frac, xs)


D = decimal.Decimal
decimal.getcontext().prec = 50


def exact(kind: int, x: D) -> D:
    if kind == 1:
        return 1 / (1 + (-x).exp()) if x > -400 else D(0)
    return (2 / (1 + (-2 * x).exp()) - 1) if x > -200 else D(-1)


@given(kind=st.sampled_from([1, 2]), x=st.integers(-(2**23), 2**23))
def test_sigmoid_tanh_are_accurate(kernels, kind, x):
    """Q16: within 2 units of the exact value (table step 1/32, linear interpolation)."""
    got = from_i32(kernels.activation(kind, 16, i32bytes([x])))[0]
    assert abs(D(got) - exact(kind, D(x) / 65536) * 65536) <= 2


@given(xs=st.lists(st.integers(-(2**20), 2**20), min_size=1, max_size=16))
def test_softmax_is_accurate(kernels, xs):
    got = from_i32(kernels.activation(3, 16, i32bytes(xs)))
    top = max(xs)
    exps = [(D(x - top) / 65536).exp() for x in xs]
    total = sum(exps)
    for value, e in zip(got, exps):
        assert abs(D(value) - e / total * 65536) <= 3
    assert abs(sum(got) - 65536) <= len(xs)


def test_activation_edges(kernels):
    big = [2**31 - 1, -(2**31), 0]
    assert from_i32(kernels.activation(1, 16, i32bytes(big))) == [65536, 0, 32768]
    assert from_i32(kernels.activation(2, 16, i32bytes(big))) == [65536, -65536, 0]
    assert from_i32(kernels.activation(3, 0, i32bytes([5, 5]))) == [1, 1]  # frac 0: 0.5 rounds up
    assert kernels.activation(3, 8, b"") == b""


def test_tables_match_exact_functions():
    def rnd(x: D) -> int:
        return int((x + D("0.5")).to_integral_value(rounding=decimal.ROUND_FLOOR))

    assert all(T.SIGMOID_Q16[i] == rnd(65536 / (1 + (D(-i) / 32).exp())) for i in range(T.SIGMOID_LAST + 1))
    assert all(T.TANH_Q16[i] == rnd(65536 * exact(2, D(i) / 128)) for i in range(T.TANH_LAST + 1))
    assert all(T.EXP_Q30[i] == rnd(2**30 * (D(-i) / 128).exp()) for i in range(T.EXP_LAST + 1))


# -- similarity -------------------------------------------------------------------------------
@given(data=st.data(), n=st.integers(0, 64))
def test_dot_and_cosine_match_reference(kernels, data, n):
    a = data.draw(st.lists(int8, min_size=n, max_size=n))
    b = data.draw(st.lists(int8, min_size=n, max_size=n))
    assert kernels.dot(i8bytes(a), i8bytes(b)) == int(np.array(a, dtype=np.int64) @ np.array(b, dtype=np.int64))
    score = kernels.cosine(i8bytes(a), i8bytes(b))
    assert score == ref_cosine(a, b)
    assert -65536 <= score <= 65536


def test_cosine_of_parallel_vectors_is_one(kernels):
    v = i8bytes([-128, 127, 3, -7])
    assert kernels.cosine(v, v) == 65536
    assert kernels.cosine(v, i8bytes([127, -128, -3, 7])) < -65000  # (almost) opposite


@given(data=st.data(), dim=st.integers(1, 16), count=st.integers(1, 40), k=st.integers(1, 64),
       metric=st.sampled_from([0, 1]))
def test_topk_matches_reference(kernels, data, dim, count, k, metric):
    small = st.integers(-2, 2) if data.draw(st.booleans()) else int8  # small values force ties
    vectors = data.draw(st.lists(st.lists(small, min_size=dim, max_size=dim), min_size=count, max_size=count))
    query = data.draw(st.lists(small, min_size=dim, max_size=dim))
    body = abi.encode_vector_body(vectors)
    spec = abi.parse_vector_body(body)
    vset = kernels.load_vectors(body, spec.offset, dim, count)
    got = kernels.topk(vset, i8bytes(query), k, metric)
    if metric == 0:
        scores = (np.array(vectors, dtype=np.int64) @ np.array(query, dtype=np.int64)).tolist()
    else:
        scores = [ref_cosine(v, query) for v in vectors]
    expected = sorted(range(count), key=lambda i: (-scores[i], i))[:k]
    assert got == [(i, scores[i]) for i in expected]


# -- MLP --------------------------------------------------------------------------------------
@st.composite
def mlps(draw):
    sizes = draw(st.lists(st.integers(1, 10 if PURE else 24), min_size=2, max_size=4))
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        w = draw(st.lists(st.lists(int8, min_size=n_in, max_size=n_in), min_size=n_out, max_size=n_out))
        b = draw(st.lists(int32, min_size=n_out, max_size=n_out))
        layers.append((w, b, draw(shifts), draw(st.sampled_from([abi.ACT_NONE, abi.ACT_RELU]))))
    x = draw(st.lists(int8, min_size=sizes[0], max_size=sizes[0]))
    return layers, x


@given(case=mlps())
def test_mlp_matches_reference(kernels, case):
    layers, x = case
    body = abi.encode_mlp_body(layers)
    spec = abi.parse_mlp_body(body)
    label, logits = kernels.mlp(kernels.load_mlp(body, spec), i8bytes(x))
    ref_label, ref_logits = ref_mlp(layers, x)
    assert (label, from_i32(logits)) == (ref_label, ref_logits)


# -- determinism ------------------------------------------------------------------------------
def test_digest_is_pinned_and_repeatable():
    from hyperion.precompiles.ai import selftest
    from hyperion.precompiles.ai.backend import kernels

    assert selftest.digest(kernels()) == GOLDEN_DIGEST
    assert selftest.digest(kernels()) == GOLDEN_DIGEST  # a second run in the same process


def test_compiled_and_python_kernels_agree_in_process():
    if PURE:
        pytest.skip("pure-Python pass: compared in the compiled pass and across processes")
    from hyperion.precompiles.ai import selftest

    assert selftest.digest(other("numba")) == selftest.digest(other("python")) == GOLDEN_DIGEST


@pytest.mark.parametrize("mode", ["python", "compiled"])
def test_digest_across_processes_and_modes(mode):
    env = dict(os.environ)
    if mode == "python":
        env.update(HYPERION_PUREPYTHON="1", HYPERION_REQUIRE_COMPILED="0")
    else:
        if PURE:
            pytest.skip("the compiled mode is exercised from the compiled pass")
        env.update(HYPERION_PUREPYTHON="0")
    out = subprocess.run([sys.executable, "-m", "hyperion.precompiles.ai.selftest"], env=env, capture_output=True,
                         text=True, check=True, timeout=600)
    name, digest = out.stdout.split()
    assert name == ("python" if mode == "python" else "numba")
    assert digest == GOLDEN_DIGEST


def test_active_backend_matches_mode():
    from hyperion import native
    from hyperion.precompiles.ai.backend import kernels

    name = kernels().NAME
    if PURE:
        assert name == "python" and native.IMPLEMENTATIONS["ai"] is False
    elif os.environ.get("HYPERION_REQUIRE_COMPILED") == "1":
        assert name == "numba" and native.IMPLEMENTATIONS["ai"] is True


def test_twins_expose_the_same_api():
    public = {"NAME", "matvec", "matmul", "activation", "dot", "cosine", "load_vectors", "topk", "load_mlp", "mlp",
              "warm"}
    assert public <= set(dir(other("python")))
    if not PURE:
        assert public <= set(dir(other("numba")))
