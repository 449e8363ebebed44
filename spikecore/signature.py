"""Per-cycle trace signatures: the reference of the RTL trace port's signature unit (docs/spec.md §8).

Reading every trace record of a 128-core array every cycle slows a cocotb testbench to ~1.5k cycles/s.
So the RTL also folds each cycle's records into one 32-bit **signature** and keeps the last 32 of them
in a shift register; a testbench reads that history once every 32 cycles, compares it with this
reference computed from the golden trace, and only on a mismatch re-runs that window reading full
records. The hash must be cheap in hardware, where every core's record hashes are computed in parallel
and XOR-ed together:

``record_hash(cycle, core, kind, index, value)`` (all arithmetic modulo 2³²)::

    key   = kind << 16 | core << 8 | index            (index 0..255, core 0..255, kind 0..4)
    mix   = key ^ (key << 13) ^ (key << 23)           (invertible: a different key gives a different mix)
    rot   = (core + 8 * kind) mod 32
    hash  = rotl32(value mod 2³², rot) ^ mix

``signature(c) = SEED ^ (c mod 2³²) ^ XOR of record_hash over every record of cycle c``

A cycle without records signs to ``SEED ^ c``. Any single wrong field of one record changes the
signature: the rotation is a bijection of the value and ``mix`` is a bijection of the key. A record
moved to another cycle changes both cycles' signatures. In hardware a core's ``core`` and ``kind`` are
constants, so its rotation and most of its ``mix`` are wiring; only the router's record needs a
5-bit barrel rotator.

>>> import numpy as np
>>> from spikecore.trace import TRACE_DTYPE
>>> trace = np.array([(1, 0, 0, 2, -5)], dtype=TRACE_DTYPE)   # cycle 1: core 0 ACC n=2 value=-5
>>> [hex(s) for s in cycle_signatures(trace, 0, 2)]
['0x5eedc0de', '0xa0127f26']
"""

from __future__ import annotations

import numpy as np

from spikecore.errors import SpikeCoreError
from spikecore.trace import TRACE_DTYPE

#: Signature of "no records" before the cycle number is mixed in.
SEED = 0x5EEDC0DE
#: Left shifts XOR-ed into the record key (``mix = key ^ key << 13 ^ key << 23``).
KEY_SHIFTS = (13, 23)
#: Bit positions of kind and core in the record key; the index occupies bits 0..7.
KEY_KIND_SHIFT = 16
KEY_CORE_SHIFT = 8
#: Rotation of the value: ``(core + ROT_KIND_STEP * kind) mod 32``.
ROT_KIND_STEP = 8
#: Signatures kept by the RTL's history shift register.
HISTORY_DEPTH = 32

MASK32 = 0xFFFF_FFFF


def record_key(core: int, kind: int, index: int) -> int:
    """The record key ``kind << 16 | core << 8 | index`` (a plain int)."""
    return (kind << KEY_KIND_SHIFT) | (core << KEY_CORE_SHIFT) | index


def key_mix(key: int) -> int:
    """``key ^ key << 13 ^ key << 23`` modulo 2³² (a plain int)."""
    mixed = key
    for shift in KEY_SHIFTS:
        mixed ^= key << shift
    return mixed & MASK32


def record_rotation(core: int, kind: int) -> int:
    """The left rotation applied to a record's value."""
    return (core + ROT_KIND_STEP * kind) % 32


def _rotl32(values: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    values = values.astype(np.uint64)
    amounts = amounts.astype(np.uint64)
    rotated = (values << amounts) | (values >> ((np.uint64(32) - amounts) % np.uint64(32)))
    return (rotated & np.uint64(MASK32)).astype(np.uint32)


def record_hashes(trace: np.ndarray) -> np.ndarray:
    """The 32-bit hash of every record of ``trace`` (a :data:`TRACE_DTYPE` array), as ``uint32``."""
    core = trace["core"].astype(np.int64)
    kind = trace["kind"].astype(np.int64)
    index = trace["index"].astype(np.int64)
    key = (kind << KEY_KIND_SHIFT) | (core << KEY_CORE_SHIFT) | index
    mix = key.copy()
    for shift in KEY_SHIFTS:
        mix ^= key << shift
    mix &= MASK32
    value = trace["value"].astype(np.int64) & MASK32
    rot = (core + ROT_KIND_STEP * kind) % 32
    return _rotl32(value, rot) ^ mix.astype(np.uint32)


def cycle_signatures(trace: np.ndarray, first_cycle: int, n_cycles: int) -> np.ndarray:
    """Signatures of cycles ``first_cycle .. first_cycle + n_cycles - 1`` of ``trace``.

    ``trace`` is a :data:`TRACE_DTYPE` array in any order; records outside the window are ignored.
    Returns ``uint32[n_cycles]``, element ``i`` the signature of cycle ``first_cycle + i``.
    """
    if isinstance(first_cycle, bool) or not isinstance(first_cycle, int | np.integer) or first_cycle < 0:
        raise SpikeCoreError(f"cycle_signatures: first_cycle must be a non-negative integer, not {first_cycle!r}")
    if isinstance(n_cycles, bool) or not isinstance(n_cycles, int | np.integer) or n_cycles < 0:
        raise SpikeCoreError(f"cycle_signatures: n_cycles must be a non-negative integer, not {n_cycles!r}")
    trace = np.asarray(trace)
    if trace.dtype != TRACE_DTYPE:
        raise SpikeCoreError(f"cycle_signatures: trace must be a TRACE_DTYPE array, not dtype {trace.dtype}")
    cycles = np.arange(first_cycle, first_cycle + n_cycles, dtype=np.int64)
    signatures = (np.uint32(SEED) ^ (cycles & MASK32).astype(np.uint32)).astype(np.uint32)
    inside = (trace["cycle"] >= first_cycle) & (trace["cycle"] < first_cycle + n_cycles)
    window = trace[inside]
    np.bitwise_xor.at(signatures, window["cycle"] - first_cycle, record_hashes(window))
    return signatures


def cycle_record_counts(trace: np.ndarray, first_cycle: int, n_cycles: int) -> np.ndarray:
    """Records per cycle over the same window as :func:`cycle_signatures` (``int64[n_cycles]``)."""
    trace = np.asarray(trace, dtype=TRACE_DTYPE)
    inside = (trace["cycle"] >= first_cycle) & (trace["cycle"] < first_cycle + n_cycles)
    return np.bincount(trace["cycle"][inside] - first_cycle, minlength=n_cycles).astype(np.int64)
