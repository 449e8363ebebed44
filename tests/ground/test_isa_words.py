"""Instruction words built from opcode and field draws (docs/spec.md §4), valid and invalid in equal measure.

A uniform 32-bit word is almost never a valid instruction; these words are assembled here bit by bit from
a drawn opcode (all 16 values of bits 31..28) and drawn fields, plus, half the time, a drawn pattern in
the bits the opcode leaves reserved. The reserved masks are typed in from the §4 tables.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spikecore.compiler.asm import assemble_program
from spikecore.compiler.disasm import disassemble_word
from spikecore.errors import SpikeCoreError
from spikecore.isa import decode, encode

NAMES = {0: "NOP", 1: "HALT", 2: "ACC", 3: "FIRE", 4: "LEAK", 5: "SACC", 6: "SYN", 7: "MERGE"}
#: bits 27..0 an opcode does not use: NOP/HALT all; ACC and SACC (version 2, same fields) none (neuron 27..20,
#: count 19..12, wbase 11..0); FIRE bits 2..0 (shift 11..7, reset 6..5, graded 4, wide 3); LEAK, SYN and MERGE
#: (version 2, neuron and count only) bits 11..0. Opcodes 8..15 are unknown.
RESERVED = {0: 0x0FFF_FFFF, 1: 0x0FFF_FFFF, 2: 0, 3: 0x7, 4: 0xFFF, 5: 0, 6: 0xFFF, 7: 0xFFF}
LAST_OPCODE = 7


@st.composite
def drawn_words(draw: st.DrawFn) -> tuple[int, dict[str, int], int]:
    op = draw(st.one_of(st.integers(0, LAST_OPCODE), st.integers(0, 15)))
    f = {"neuron": draw(st.integers(0, 255)), "count": draw(st.one_of(st.sampled_from([1, 256]), st.integers(1, 256))),
         "wbase": draw(st.integers(0, 4095)), "shift": draw(st.integers(0, 31)), "reset": draw(st.integers(0, 3)),
         "graded": draw(st.integers(0, 1)), "wide": draw(st.integers(0, 1))}
    word = op << 28
    if op in (2, 3, 4, 5, 6, 7):
        word |= f["neuron"] << 20 | (f["count"] - 1) << 12
    if op in (2, 5):
        word |= f["wbase"]
    if op == 3:
        word |= f["shift"] << 7 | f["reset"] << 5 | f["graded"] << 4 | f["wide"] << 3
    mask = RESERVED.get(op, 0x0FFF_FFFF)
    extra = draw(st.one_of(st.just(0), st.integers(1, 2**28 - 1))) & mask
    return word | extra, f, extra


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(drawn=drawn_words())
def test_drawn_words_decode_exactly_or_are_refused_in_one_line(drawn) -> None:
    word, f, extra = drawn
    op = word >> 28
    try:
        instr = decode(word)
    except SpikeCoreError as err:
        if op > LAST_OPCODE:
            assert str(err) == f"instruction 0x{word:08x}: unknown opcode {op}"
        elif op == 3 and f["wide"] and not f["graded"] and not extra:
            assert str(err) == f"instruction 0x{word:08x}: FIRE wide=1 needs graded=1"
        else:
            assert extra and str(err) == f"instruction 0x{word:08x}: {NAMES[op]} has reserved bits set"
        return
    assert op <= LAST_OPCODE and not extra
    assert instr.opcode.name == NAMES[op]
    if op in (2, 3, 4, 5, 6, 7):
        assert (instr.neuron, instr.count) == (f["neuron"], f["count"])
    if op in (2, 5):
        assert instr.wbase == f["wbase"]
    if op == 3:
        assert (instr.shift, int(instr.reset), int(instr.graded), int(instr.wide)) == \
            (f["shift"], f["reset"], f["graded"], f["wide"])
    assert encode(instr) == word
    assert assemble_program(disassemble_word(word)) == [word]


def test_word_draws_reach_every_outcome() -> None:
    outcomes: set[str] = set()

    @settings(max_examples=600, deadline=None, database=None, derandomize=True)
    @given(drawn=drawn_words())
    def tally(drawn) -> None:
        word, _, extra = drawn
        op = word >> 28
        outcomes.add("unknown" if op > LAST_OPCODE else f"{NAMES[op]} {'reserved' if extra else 'valid'}")

    tally()
    assert outcomes >= {"unknown", *(f"{n} valid" for n in NAMES.values()),
                        *(f"{NAMES[o]} reserved" for o in (0, 1, 3, 4, 6, 7))}
