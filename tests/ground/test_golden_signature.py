"""Trace signatures (docs/spec.md §8.6) pinned by values worked out by hand, and a naive re-implementation.

Hand-worked (all modulo 2^32):

cycle 1, record (core 0, ACC=0, index 2, value -5):
    key = 0 << 16 | 0 << 8 | 2 = 0x2;  mix = 0x2 ^ 0x4000 ^ 0x1000000 = 0x01004002
    rot = (0 + 8*0) mod 32 = 0;  value mod 2^32 = 0xFFFFFFFB;  hash = 0xFFFFFFFB ^ 0x01004002 = 0xFEFFBFF9
    sig = 0x5EEDC0DE ^ 1 ^ 0xFEFFBFF9 = 0xA0127F26
cycle 3, record (core 5, SPIKE=1, index 7, value 100):
    key = 1 << 16 | 5 << 8 | 7 = 0x10507;  key << 13 = 0x20A0E000;  key << 23 mod 2^32 = 0x107 << 23 = 0x83800000
    mix = 0x00010507 ^ 0x20A0E000 ^ 0x83800000 = 0xA321E507
    rot = (5 + 8) mod 32 = 13;  rotl(0x64, 13) = 0x000C8000;  hash = 0xA32D6507
    sig = 0x5EEDC0DE ^ 3 ^ 0xA32D6507 = 0xFDC0A5DA
cycle 2, no record: sig = 0x5EEDC0DE ^ 2 = 0x5EEDC0DC
"""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.config import ChipConfig
from spikecore.golden.run import run
from spikecore.signature import cycle_record_counts, cycle_signatures, key_mix, record_key, record_rotation
from spikecore.trace import TRACE_DTYPE
from spikecore.verif.random_program import random_image


def naive_signature(cycle: int, records: list[tuple[int, int, int, int, int]]) -> int:
    """§8.6 typed in from the spec text, one record at a time on Python ints."""
    sig = 0x5EEDC0DE ^ (cycle % 2**32)
    for c, core, kind, index, value in records:
        if c != cycle:
            continue
        key = kind << 16 | core << 8 | index
        mix = (key ^ (key << 13) ^ (key << 23)) % 2**32
        v, r = value % 2**32, (core + 8 * kind) % 32
        rotated = ((v << r) | (v >> (32 - r))) % 2**32 if r else v
        sig ^= rotated ^ mix
    return sig


def test_signatures_pinned_by_hand() -> None:
    trace = np.array([(1, 0, 0, 2, -5), (3, 5, 1, 7, 100)], dtype=TRACE_DTYPE)
    assert cycle_signatures(trace, 0, 4).tolist() == [0x5EEDC0DE, 0xA0127F26, 0x5EEDC0DC, 0xFDC0A5DA]
    assert [naive_signature(c, trace.tolist()) for c in range(4)] == [0x5EEDC0DE, 0xA0127F26, 0x5EEDC0DC, 0xFDC0A5DA]


def test_two_records_of_one_cycle_xor_together() -> None:
    # both records above moved to cycle 1: 0x5EEDC0DE ^ 1 ^ 0xFEFFBFF9 ^ 0xA32D6507 = 0x033F1A21
    trace = np.array([(1, 0, 0, 2, -5), (1, 5, 1, 7, 100)], dtype=TRACE_DTYPE)
    assert cycle_signatures(trace, 1, 1).tolist() == [0x5EEDC0DE ^ 1 ^ 0xFEFFBFF9 ^ 0xA32D6507] == [0x033F1A21]


@pytest.mark.parametrize("seed", [0, 4, 12, 31])
def test_golden_traces_sign_as_the_naive_formula(seed: int) -> None:
    """Random 4-core runs, from cycle ``seed`` to one past the last record (seeds 12 and 31 drop events)."""
    result = run(*random_image(seed, ChipConfig(cores=4)))
    assert set(result.trace["kind"].tolist()) >= {0, 1, 2, 4}
    by_cycle: dict[int, list] = {}
    for record in result.trace.tolist():
        by_cycle.setdefault(record[0], []).append(record)
    assert len(by_cycle) > 10, "a run with (almost) no records proves nothing here"
    first, n = seed, max(by_cycle) + 2 - seed
    assert cycle_signatures(result.trace, first, n).tolist() == \
        [naive_signature(c, by_cycle.get(c, [])) for c in range(first, first + n)]


def test_key_mix_and_rotation_helpers_by_hand() -> None:
    # The RTL builds its hash from these: key of (core 5, SPIKE, index 7) = 0x10507 and its mix from above;
    # rotation of (core 5, SPIKE) = 13, of (core 31, DROP=3) = (31 + 24) mod 32 = 23, of (core 0, OUT=4) = 0.
    assert record_key(5, 1, 7) == 0x10507 and key_mix(0x10507) == 0xA321E507
    assert key_mix(0x2) == 0x01004002 and key_mix(0x4FFFF) == (0x4FFFF ^ (0x4FFFF << 13) ^ (0x4FFFF << 23)) % 2**32
    assert [record_rotation(5, 1), record_rotation(31, 3), record_rotation(0, 4)] == [13, 23, 0]


def test_record_counts_and_windows_by_hand() -> None:
    trace = np.array([(1, 0, 0, 2, -5), (3, 5, 1, 7, 100), (3, 6, 0, 1, 1), (9, 0, 0, 0, 0)], dtype=TRACE_DTYPE)
    assert cycle_record_counts(trace, 0, 5).tolist() == [0, 1, 0, 2, 0]
    assert cycle_record_counts(trace, 2, 3).tolist() == [0, 2, 0]
    # a window that ends before cycle 3 ignores its records: cycle 2 alone signs to SEED ^ 2
    assert cycle_signatures(trace, 2, 1).tolist() == [0x5EEDC0DC]
    assert cycle_signatures(trace, 3, 1).tolist() == [naive_signature(3, trace.tolist())]
