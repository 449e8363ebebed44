"""The instruction encoding of docs/spec.md §4, checked against words computed by hand.

Field layout (§4): opcode 31..28, neuron 27..20, count-1 19..12, wbase 11..0 (ACC),
shift 11..7, reset 6..5, graded 4 (FIRE). Every expected word below is assembled from that table in a
comment; none is computed by the code under test.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikecore import isa
from spikecore.errors import SpikeCoreError
from spikecore.isa import Instruction, Opcode, ResetMode

# (instruction, hand-computed word)
HAND_ENCODED = [
    # NOP: opcode 0, no operands
    (Instruction(Opcode.NOP), 0x0000_0000),
    # HALT: opcode 1 << 28
    (Instruction(Opcode.HALT), 0x1000_0000),
    # ACC 0,4,16: 2<<28 | 0<<20 | (4-1)<<12 = 0x3000 | 16 = 0x10
    (Instruction(Opcode.ACC, neuron=0, count=4, wbase=16), 0x2000_3010),
    # ACC 255,1,4095: 2<<28 | 255<<20 = 0x0FF0_0000 | 0<<12 | 0xFFF
    (Instruction(Opcode.ACC, neuron=255, count=1, wbase=4095), 0x2FF0_0FFF),
    # ACC 5,256,0x123: 2<<28 | 5<<20 = 0x0050_0000 | 255<<12 = 0xF_F000 | 0x123
    (Instruction(Opcode.ACC, neuron=5, count=256, wbase=0x123), 0x205F_F123),
    # FIRE 0,4,shift 7,always,graded: 3<<28 | 3<<12 = 0x3000 | 7<<7 = 0x380 | 3<<5 = 0x60 | 1<<4 = 0x10
    (Instruction(Opcode.FIRE, neuron=0, count=4, shift=7, reset=ResetMode.ALWAYS, graded=True), 0x3000_33F0),
    # FIRE 1,1,shift 31,sub,binary: 3<<28 | 1<<20 = 0x10_0000 | 0 | 31<<7 = 0xF80 | 2<<5 = 0x40
    (Instruction(Opcode.FIRE, neuron=1, count=1, shift=31, reset=ResetMode.SUB), 0x3010_0FC0),
    # FIRE 2,2,shift 0,value,binary: 3<<28 | 2<<20 = 0x20_0000 | 1<<12 = 0x1000 | 1<<5 = 0x20
    (Instruction(Opcode.FIRE, neuron=2, count=2, reset=ResetMode.VALUE), 0x3020_1020),
    # FIRE 0,1,shift 1,none,graded: 3<<28 | 1<<7 = 0x80 | 0<<5 | 1<<4 = 0x10
    (Instruction(Opcode.FIRE, neuron=0, count=1, shift=1, graded=True), 0x3000_0090),
    # LEAK 16,16: 4<<28 | 16<<20 = 0x0100_0000 | 15<<12 = 0xF000
    (Instruction(Opcode.LEAK, neuron=16, count=16), 0x4100_F000),
    # LEAK 0,256: 4<<28 | 255<<12 = 0xF_F000
    (Instruction(Opcode.LEAK, neuron=0, count=256), 0x400F_F000),
    # SACC 3,2,0x40 (v2): 5<<28 | 3<<20 = 0x30_0000 | 1<<12 = 0x1000 | 0x40
    (Instruction(Opcode.SACC, neuron=3, count=2, wbase=0x40), 0x5030_1040),
    # SYN 8,24 (v2): 6<<28 | 8<<20 = 0x80_0000 | 23<<12 = 0x1_7000
    (Instruction(Opcode.SYN, neuron=8, count=24), 0x6081_7000),
    # MERGE 4,16 (v2): 7<<28 | 4<<20 = 0x40_0000 | 15<<12 = 0xF000
    (Instruction(Opcode.MERGE, neuron=4, count=16), 0x7040_F000),
    # FIRE 0,2,shift 0,always,graded,wide (v2): 3<<28 | 1<<12 = 0x1000 | 3<<5 = 0x60 | 1<<4 | 1<<3 = 0x18
    (Instruction(Opcode.FIRE, neuron=0, count=2, reset=ResetMode.ALWAYS, graded=True, wide=True), 0x3000_1078),
]


@pytest.mark.parametrize(("instr", "word"), HAND_ENCODED, ids=[f"0x{w:08x}" for _, w in HAND_ENCODED])
def test_encode_matches_hand_computed_word(instr: Instruction, word: int) -> None:
    assert isa.encode(instr) == word


@pytest.mark.parametrize(("instr", "word"), HAND_ENCODED, ids=[f"0x{w:08x}" for _, w in HAND_ENCODED])
def test_decode_matches_hand_computed_word(instr: Instruction, word: int) -> None:
    assert isa.decode(word) == instr


def test_every_opcode_has_a_hand_computed_word() -> None:
    assert {instr.opcode for instr, _ in HAND_ENCODED} == set(Opcode)


# Reserved bits: everything outside the opcode and the opcode's fields.
#   NOP/HALT: bits 27..0; ACC: none (8 + 8 + 12 bits); FIRE: bits 2..0 (bit 3 is wide); LEAK, MERGE: bits 11..0.
@pytest.mark.parametrize(("opcode", "mask"), [
    (Opcode.NOP, 0x0FFF_FFFF),
    (Opcode.HALT, 0x0FFF_FFFF),
    (Opcode.ACC, 0x0000_0000),
    (Opcode.FIRE, 0x0000_0007),
    (Opcode.LEAK, 0x0000_0FFF),
    (Opcode.SACC, 0x0000_0000),
    (Opcode.SYN, 0x0000_0FFF),
    (Opcode.MERGE, 0x0000_0FFF),
])
def test_reserved_mask(opcode: Opcode, mask: int) -> None:
    assert isa.reserved_mask(opcode) == mask


@pytest.mark.parametrize(("word", "message"), [
    (0x0000_0001, "instruction 0x00000001: NOP has reserved bits set"),
    (0x1800_0000, "instruction 0x18000000: HALT has reserved bits set"),
    (0x3000_33F1, "instruction 0x300033f1: FIRE has reserved bits set"),   # bit 0 under FIRE
    (0x3000_3004, "instruction 0x30003004: FIRE has reserved bits set"),   # bit 2 under FIRE
    (0x3000_3008, "instruction 0x30003008: FIRE wide=1 needs graded=1"),   # bit 3 (wide) without graded
    (0x7000_0800, "instruction 0x70000800: MERGE has reserved bits set"),   # bit 11 under MERGE
    (0x4100_F800, "instruction 0x4100f800: LEAK has reserved bits set"),   # bit 11 under LEAK
    (0x6000_0001, "instruction 0x60000001: SYN has reserved bits set"),   # bit 0 under SYN
    (0x8000_0000, "instruction 0x80000000: unknown opcode 8"),
    (0xF000_0000, "instruction 0xf0000000: unknown opcode 15"),
    (-1, "instruction word must be 0..0xffffffff, not -1"),
    (1 << 32, "instruction word must be 0..0xffffffff, not 4294967296"),
])
def test_decode_rejects(word: int, message: str) -> None:
    with pytest.raises(SpikeCoreError) as info:
        isa.decode(word)
    assert str(info.value) == message


@pytest.mark.parametrize(("instr", "message"), [
    (Instruction(Opcode.ACC, neuron=256, count=1), "ACC: neuron must be 0..255, not 256"),
    (Instruction(Opcode.ACC, neuron=-1, count=1), "ACC: neuron must be 0..255, not -1"),
    (Instruction(Opcode.ACC, count=0), "ACC: count must be 1..256, not 0"),
    (Instruction(Opcode.LEAK, count=257), "LEAK: count must be 1..256, not 257"),
    (Instruction(Opcode.ACC, wbase=4096), "ACC: wbase must be 0..4095, not 4096"),
    (Instruction(Opcode.FIRE, shift=32), "FIRE: shift must be 0..31, not 32"),
    (Instruction(Opcode.FIRE, reset=4), "FIRE: reset must be 0..3, not 4"),
    (Instruction(Opcode.FIRE, graded=2), "FIRE: graded must be 0..1, not 2"),
])
def test_encode_range_errors(instr: Instruction, message: str) -> None:
    with pytest.raises(SpikeCoreError) as info:
        isa.encode(instr)
    assert str(info.value) == message


def test_fields_an_opcode_does_not_use_are_not_encoded() -> None:
    # LEAK has no wbase/shift: a stray value there must not leak into the word (4<<28 | 0 | 0).
    assert isa.encode(Instruction(Opcode.LEAK, wbase=4095, shift=31)) == 0x4000_0000


@given(st.integers(min_value=0, max_value=(1 << 32) - 1))
def test_every_word_either_decodes_and_reencodes_or_is_rejected(word: int) -> None:
    try:
        instr = isa.decode(word)
    except SpikeCoreError as err:
        # rejected words are exactly the unknown opcodes and the ones with a reserved bit set
        opcode = word >> 28
        known = opcode in set(Opcode)
        assert str(err) == (f"instruction 0x{word:08x}: {Opcode(opcode).name} has reserved bits set" if known
                            else f"instruction 0x{word:08x}: unknown opcode {opcode}")
        assert opcode not in set(Opcode) or word & isa.reserved_mask(Opcode(opcode))
        return
    assert isa.encode(instr) == word


def test_field_table_covers_the_word_once() -> None:
    # For every opcode, the opcode bits, its fields and the reserved bits partition the 32-bit word.
    for opcode, fields in isa.FIELDS.items():
        masks = [0xF000_0000, isa.reserved_mask(opcode)] + [f.mask << f.lsb for f in fields]
        combined = 0
        for mask in masks:
            assert combined & mask == 0, f"{opcode.name}: overlapping fields"
            combined |= mask
        assert combined == 0xFFFF_FFFF


def test_integer_helpers_match_the_spec_examples() -> None:
    # §3: round_shift(5, 1) = (5 + 1) >> 1 = 3; (-5 + 1) >> 1 = -2; (-6 + 2) >> 2 = -1
    assert isa.round_shift(5, 1) == 3
    assert isa.round_shift(-5, 1) == -2
    assert isa.round_shift(-6, 2) == -1
    assert isa.round_shift(-7, 0) == -7
    # graded payload: round_shift(1000, 2) = 1002 >> 2 = 250, saturated to int8 = 127
    assert isa.graded_payload(1000, 2) == 127
    assert isa.graded_payload(-1000, 2) == -128
    # leak: 1000 * 32768 / 65536 = 500 exactly; -3 * 32768 = -98304, (-98304 + 32768) >> 16 = -1
    assert isa.leak(1000, 32768) == 500
    assert isa.leak(-3, 32768) == -1
    assert isa.saturate(1 << 31, 32) == (1 << 31) - 1
    assert isa.saturate(-(1 << 31) - 1, 32) == -(1 << 31)
