"""Lookup tables for the fixed-point activations, computed with integers only.

No float is involved anywhere: ``e**(-i/32)`` is evaluated by a Taylor series on
160-bit fixed-point integers, then rounded (half up) to the table's scale.  The
tables are therefore the same bytes on every machine and in every mode; tests compare
them with an independent evaluation (Python ``decimal`` at 60 digits).

    SIGMOID_Q16[i] = round(2**16 * 1 / (1 + e**(-i/32)))   i = 0..512    step 1/32  (x in [0, 16])
    TANH_Q16[i]    = round(2**16 * tanh(i/128))             i = 0..1024   step 1/128 (x in [0, 8])
    EXP_Q30[i]     = round(2**30 * e**(-i/128))             i = 0..2048   step 1/128 (d in [0, 16])

A step of 1/32 is 2**11 in Q16 (``*_STEP_BITS = 11``), 1/128 is 2**9.  Between entries
the kernels interpolate linearly, rounding half up; past the last entry they saturate.
"""
from __future__ import annotations

from typing import Tuple

Q = 16  #: activations work internally in Q16 (1.0 == 65536)
ONE_Q16 = 1 << Q
SIGMOID_STEP_BITS = 11  #: step 1/32 == 2**11 in Q16
SIGMOID_LAST = 512  #: sigmoid saturates for |x| >= 16
TANH_STEP_BITS = 9  #: step 1/128 == 2**9 in Q16
TANH_LAST = 1024  #: tanh saturates for |x| >= 8
EXP_STEP_BITS = 9  #: step 1/128
EXP_LAST = 2048  #: exp(-d) is 0 for d >= 16
EXP_BITS = 30

_P = 160  # working precision (bits) of the generator


def _exp_neg_step(denominator: int) -> int:
    """e**(-1/denominator) * 2**_P, by the alternating Taylor series (error < 2**-150)."""
    one = 1 << _P
    total = 0
    term = one
    k = 0
    while term:
        total += term if k % 2 == 0 else -term
        k += 1
        term = term // (denominator * k)
    return total


def _round_div(num: int, den: int) -> int:
    """round(num / den), halves up, for num >= 0 and den > 0."""
    return (2 * num + den) // (2 * den)


def _exp_neg(count: int, denominator: int) -> Tuple[int, ...]:
    """e**(-i/denominator) * 2**_P for i = 0..count (error far below 2**-100)."""
    one = 1 << _P
    base = _exp_neg_step(denominator)
    values = [one]
    for _ in range(count):
        values.append(values[-1] * base >> _P)
    return tuple(values)


def _build() -> Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]:
    one = 1 << _P
    e32 = _exp_neg(SIGMOID_LAST, 32)  # e**(-i/32)
    e128 = _exp_neg(max(2 * TANH_LAST, EXP_LAST), 128)  # e**(-i/128); tanh(i/128) needs e**(-2i/128)
    sigmoid = tuple(_round_div(ONE_Q16 * one, one + e32[i]) for i in range(SIGMOID_LAST + 1))
    tanh = tuple(_round_div(ONE_Q16 * (one - e128[2 * i]), one + e128[2 * i]) for i in range(TANH_LAST + 1))
    exp = tuple(_round_div((1 << EXP_BITS) * e128[i], one) for i in range(EXP_LAST + 1))
    return sigmoid, tanh, exp


SIGMOID_Q16, TANH_Q16, EXP_Q30 = _build()
