"""Lookup tables for the fixed-point activations, computed with integers only.

No float is involved anywhere: ``e**(-i/32)`` is evaluated by a Taylor series on
160-bit fixed-point integers, then rounded (half up) to the table's scale.  The
tables are therefore the same bytes on every machine and in every mode; tests compare
them with an independent evaluation (Python ``decimal`` at 60 digits).

    STEP_BITS = 11       -> table step 1/32 in Q16 (2**16 / 32 = 2**11)
    SIGMOID_Q16[i] = round(2**16 * 1 / (1 + e**(-i/32)))       i = 0..512   (x in [0, 16])
    TANH_Q16[i]    = round(2**16 * tanh(i/32))                  i = 0..256   (x in [0, 8])
    EXP_Q30[i]     = round(2**30 * e**(-i/32))                  i = 0..512   (x in [0, 16])
"""
from __future__ import annotations

from typing import Tuple

Q = 16  #: activations work internally in Q16 (1.0 == 65536)
ONE_Q16 = 1 << Q
STEP_BITS = 11  #: one table step is 1/32 == 2**11 in Q16
STEP_MASK = (1 << STEP_BITS) - 1
SIGMOID_LAST = 512  #: sigmoid saturates for |x| >= 16
TANH_LAST = 256  #: tanh saturates for |x| >= 8
EXP_LAST = 512  #: exp(-d) is 0 for d >= 16
EXP_BITS = 30

_P = 160  # working precision (bits) of the generator


def _exp_neg_32nd() -> int:
    """e**(-1/32) * 2**_P, rounded down, by the alternating Taylor series."""
    one = 1 << _P
    total = 0
    term = one
    k = 0
    while term:
        total += term if k % 2 == 0 else -term
        k += 1
        term = term // (32 * k)
    return total


def _round_div(num: int, den: int) -> int:
    """round(num / den), halves up, for num >= 0 and den > 0."""
    return (2 * num + den) // (2 * den)


def _exp_neg(count: int) -> Tuple[int, ...]:
    """e**(-i/32) * 2**_P for i = 0..count (truncation error far below 2**-100)."""
    one = 1 << _P
    base = _exp_neg_32nd()
    values = [one]
    for _ in range(count):
        values.append(values[-1] * base >> _P)
    return tuple(values)


def _build() -> Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]:
    one = 1 << _P
    e = _exp_neg(2 * max(SIGMOID_LAST, TANH_LAST, EXP_LAST))
    sigmoid = tuple(_round_div(ONE_Q16 * one, one + e[i]) for i in range(SIGMOID_LAST + 1))
    tanh = tuple(_round_div(ONE_Q16 * (one - e[2 * i]), one + e[2 * i]) for i in range(TANH_LAST + 1))
    exp = tuple(_round_div((1 << EXP_BITS) * e[i], one) for i in range(EXP_LAST + 1))
    return sigmoid, tanh, exp


SIGMOID_Q16, TANH_Q16, EXP_Q30 = _build()
