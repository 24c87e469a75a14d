"""A digest of the AI kernels' outputs on fixed inputs: the same on every node.

``digest()`` runs every kernel of the active implementation (numba or the plain-Python
twin) on a fixed, deterministic set of inputs -- including saturation edges -- and
hashes the outputs.  Two nodes (or the two modes, or two runs) compute identical results
exactly when their digests agree; the test suite pins the expected value.

    python -m hyperion.precompiles.ai.selftest          # prints backend and digest
"""
from __future__ import annotations

import hashlib
import struct
from types import ModuleType
from typing import Optional

from hyperion.precompiles.ai import abi
from hyperion.precompiles.ai.examples import int8s, stream


def _i8(seed: bytes, n: int, edge: bool = False) -> bytes:
    values = int8s(seed, n)
    if edge:
        values = [(-128 if v < 0 else 127) for v in values]
    return bytes(v & 0xFF for v in values)


def _i32(seed: bytes, n: int) -> bytes:
    raw = stream(seed, 4 * n)
    return raw


def digest(kernels: Optional[ModuleType] = None) -> str:
    if kernels is None:
        from hyperion.precompiles.ai.backend import kernels as active

        kernels = active()
    h = hashlib.sha256()
    for case, (m, n) in enumerate([(1, 1), (3, 7), (16, 64), (33, 17), (64, 256)]):
        for edge in (False, True):
            w = _i8(b"st-w-%d" % case, m * n, edge)
            x = _i8(b"st-x-%d" % case, n, edge)
            bias = _i32(b"st-b-%d" % case, m)
            for shift in (0, 7, 31):
                for out_int8 in (False, True):
                    h.update(kernels.matvec(w, x, bias, m, n, shift, out_int8))
                    h.update(kernels.matvec(w, x, None, m, n, shift, out_int8))
            k = (case % 3) + 1
            b = _i8(b"st-mb-%d" % case, n * k, edge)
            h.update(kernels.matmul(w, b, _i32(b"st-mbb-%d" % case, k), m, n, k, 5, True))
            h.update(kernels.matmul(w, b, None, m, n, k, 0, False))
            h.update(struct.pack(">qq", kernels.dot(w[:n], x), kernels.cosine(w[:n], x)))
    values = _i32(b"st-act", 64) + struct.pack(">6i", 0, -1, 1, 2**31 - 1, -(2**31), 1 << 20)
    for frac in (0, 8, 16, 24):
        for kind in range(4):
            h.update(kernels.activation(kind, frac, values))
    vectors = _i8(b"st-v", 40 * 24)
    vset = kernels.load_vectors(b"\x00" * 6 + vectors, 6, 24, 40)
    for metric in (0, 1):
        for k in (1, 5, 40, 64):
            for index, score in kernels.topk(vset, _i8(b"st-q-%d" % k, 24), k, metric):
                h.update(struct.pack(">qq", index, score))
    from hyperion.precompiles.ai.examples import random_mlp_layers

    body = abi.encode_mlp_body(random_mlp_layers(b"st-mlp", [48, 24, 12, 5], [9, 8, 3]))
    spec = abi.parse_mlp_body(body)
    model = kernels.load_mlp(body, spec)
    for i in range(8):
        label, logits = kernels.mlp(model, _i8(b"st-mlp-x-%d" % i, 48, edge=i % 2 == 1))
        h.update(struct.pack(">q", label) + logits)
    return h.hexdigest()


if __name__ == "__main__":  # pragma: no cover
    from hyperion.precompiles.ai.backend import kernels as _active

    module = _active()
    print(module.NAME, digest(module))
