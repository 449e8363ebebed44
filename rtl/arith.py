"""The integer semantics of docs/spec.md §3 as Amaranth expressions (the hardware twin of the helpers in
:mod:`spikecore.isa`).

Amaranth widens arithmetic results, so each helper computes on a wide enough intermediate and then
clamps or truncates explicitly; nothing here wraps where the spec saturates. Remember two Amaranth
facts: slices of signed values are unsigned (hence the ``.as_signed()`` calls), and ``>>`` of a signed
value is an arithmetic shift.
"""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Value, signed


def saturate(value: Value, bits: int) -> Value:
    """``value`` clamped to the signed ``bits``-bit range, as a ``signed(bits)`` value."""
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    value = Value.cast(value)
    return Mux(value > high, Const(high, signed(bits)),
               Mux(value < low, Const(low, signed(bits)), value[:bits].as_signed()))


def round_shift(value: Value, shift: Value) -> Value:
    """``(value + 2**(shift-1)) >> shift`` rounded half up, or ``value`` when ``shift`` is 0.

    ``shift`` is a variable amount. The added half is computed as ``(1 << shift) >> 1`` so that it is 0
    for ``shift = 0``; the sum is one bit wider than ``value`` so that it never overflows.
    """
    value = Value.cast(value).as_signed()
    half = (Const(1, 1) << shift) >> 1
    wide = value + half
    return wide >> shift


def round_shift_const(value: Value, shift: int) -> Value:
    """:func:`round_shift` by a constant amount ``shift > 0`` (LEAK's Q0.16 product)."""
    value = Value.cast(value).as_signed()
    return (value + (1 << (shift - 1))) >> shift
