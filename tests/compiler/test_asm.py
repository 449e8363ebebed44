"""The assembler and disassembler of docs/spec.md §9.

Expected words are computed by hand from the §4 field table (opcode 31..28, neuron 27..20, count-1
19..12, wbase 11..0, shift 11..7, reset 6..5, graded 4). Round trips run over random valid programs and
random valid images (strategies from test_image.py).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikecore import isa
from spikecore.compiler.asm import (
    MNEMONICS,
    RESET_NAMES,
    assemble,
    assemble_program,
    assemble_with_symbols,
    operand_names,
)
from spikecore.compiler.disasm import disassemble_image, disassemble_program, disassemble_word
from spikecore.config import ChipConfig, parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, encode_image
from spikecore.isa import CoreImage, FanoutEntry, NeuronParams, Opcode
from tests.ground.test_image import HALT, NOP, images, instructions

SPEC_EXAMPLE = """\
.chip cores=4 neurons=32 weight_bytes=256 imem_depth=64 event_depth=64 fanout_depth=64
.equ HIDDEN, 0
.core 1                          ; statements below load core 1
start:                           ; a label names the next instruction's address (for listings)
    acc  neuron=HIDDEN, count=4, wbase=0
    fire neuron=HIDDEN, count=4, shift=7, reset=always, graded=1
    leak neuron=0, count=4
    nop
    halt
.weights 0: 12 -3 127 -128       ; int8 weights starting at address 0
.neuron 0 threshold=1 reset=-20 init=-20 decay=0 fanout_start=0 fanout_count=2
.fanout 0: 2:0 host:3            ; fan-out entries from index 0: core:axon, host:axon
"""


def test_spec_example_assembles_to_hand_computed_image() -> None:
    image = assemble(SPEC_EXAMPLE, "spec.s")
    assert image.config == ChipConfig(cores=4, neurons=32, weight_bytes=256, imem_depth=64, event_depth=64,
                                      fanout_depth=64)
    assert list(image.cores) == [1]
    assert image.cores[1] == CoreImage(
        program=[
            0x2000_3000,   # acc 0,4,0: 2<<28 | (4-1)<<12
            0x3000_33F0,   # fire 0,4,7,always,1: 3<<28 | 3<<12 | 7<<7=0x380 | 3<<5=0x60 | 1<<4=0x10
            0x4000_3000,   # leak 0,4: 4<<28 | 3<<12
            0x0000_0000,   # nop
            0x1000_0000,   # halt: 1<<28
        ],
        weights=[12, -3, 127, -128],
        neurons=[NeuronParams(threshold=1, reset=-20, init=-20, decay=0, fanout_start=0, fanout_count=2)],
        fanout=[FanoutEntry(2, 0), FanoutEntry(isa.HOST_CORE, 3)],
    )


def test_symbols_record_labels_constants_and_lines() -> None:
    result = assemble_with_symbols(SPEC_EXAMPLE + ".core 2\nfirst: second: nop\nthird: halt\n", "spec.s")
    assert result.constants == {"HIDDEN": 0}
    assert {name: (label.core, label.address, label.line) for name, label in result.labels.items()} == {
        "start": (1, 0, 4), "first": (2, 0, 14), "second": (2, 0, 14), "third": (2, 1, 15)}
    assert result.lines[(1, 0)] == 5 and result.lines[(1, 4)] == 9 and result.lines[(2, 1)] == 15


@pytest.mark.parametrize(("line", "word"), [
    ("acc neuron=0x10, count=0x10, wbase=0xfff", 0x2100_FFFF),   # 2<<28 | 16<<20=0x100_0000 | 15<<12 | 0xfff
    ("ACC neuron=1 count=1 wbase=2", 0x2010_0002),               # case-insensitive mnemonic, blank-separated
    ("acc neuron = 1 , count = 1 , wbase = 2", 0x2010_0002),     # blanks around '=' and ','
    ("acc wbase=2, count=1, neuron=1", 0x2010_0002),             # operands in any order
    ("fire neuron=0, count=1, shift=0, reset=2, graded=0", 0x3000_0040),      # reset as a number: 2<<5
    ("fire neuron=0, count=1, shift=+3, reset=value, graded=1", 0x3000_01B0),  # 3<<7=0x180 | 1<<5 | 1<<4
    ("fire neuron=0, count=1, shift=N, reset=none, graded=ONE", 0x3000_0390),  # N=7: 0x380 | 0x10
    ("leak neuron=N, count=NEG", 0x4070_0000),                                # NEG = -(-1) = 1 -> count-1 = 0
    ("nop", 0x0000_0000),
    ("HALT", 0x1000_0000),
])
def test_instruction_syntax(line: str, word: int) -> None:
    source = ".equ N, 7\n.equ ONE 1\n.equ M1, -1\n.equ NEG, -M1\n" + line
    assert assemble_program(source, "p.s") == [word]


def test_comments_blank_lines_and_label_only_lines() -> None:
    source = "# hash comment\n\n   ; semicolon comment\nloop:\n  nop # trailing\n\thalt\t; tab\n"
    assert assemble_program(source) == [NOP, HALT]


def test_sparse_weights_neurons_and_split_fanout_fill_defaults() -> None:
    source = """
        .chip cores=2 neurons=8 weight_bytes=16 imem_depth=4 event_depth=2 fanout_depth=4
        .core 0
        .weights 4: 7          ; addresses 0..3 stay 0
        .weights 0: -1, 0x7f
        .neuron 2 threshold=5  ; neurons 0 and 1 take the defaults
        .fanout 1: host:0
        .fanout 0: 1:255
        halt
    """
    image = assemble(source, "sparse.s")
    assert image.config == ChipConfig(cores=2, neurons=8, weight_bytes=16, imem_depth=4, event_depth=2, fanout_depth=4)
    assert image.cores == {0: CoreImage(
        program=[HALT],
        weights=[-1, 127, 0, 0, 7],
        neurons=[NeuronParams(), NeuronParams(), NeuronParams(threshold=5)],
        fanout=[FanoutEntry(1, 255), FanoutEntry(isa.HOST_CORE, 0)],
    )}


def test_empty_fan_out_range_may_start_past_the_table() -> None:
    image = assemble(".chip cores=1\n.core 0\nhalt\n.neuron 0 fanout_start=200 fanout_count=0")
    assert image.cores[0].neurons == [NeuronParams(fanout_start=200)]


def test_chip_defaults() -> None:
    assert assemble("").config == ChipConfig()           # no .chip: the product config, no sections
    assert assemble("").cores == {}
    assert assemble(".chip cores=2\n.core 1\nhalt").config == ChipConfig(cores=2)


def test_chip_directive_reads_the_chip_text_form() -> None:
    """``.chip`` takes the ``--chip`` text (one parser, spikecore.config.parse_chip), plus .equ names and
    blanks around '='."""
    text = "cores=3, neurons=0x10 weight_bytes=64"
    assert assemble(f".chip {text}").config == parse_chip(text) == ChipConfig(cores=3, neurons=16, weight_bytes=64)
    assert assemble(".equ N, 2\n.chip cores = N , neurons=8").config == ChipConfig(cores=2, neurons=8)


def test_mnemonic_table_is_derived_from_isa_fields() -> None:
    assert set(MNEMONICS.values()) == set(isa.FIELDS)
    for opcode in isa.FIELDS:
        assert operand_names(opcode) == tuple(f.name for f in isa.FIELDS[opcode])
    assert RESET_NAMES == {"none": isa.ResetMode.NONE, "value": isa.ResetMode.VALUE, "sub": isa.ResetMode.SUB,
                           "always": isa.ResetMode.ALWAYS}


# --- disassembly ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "text"), [
    (0x0000_0000, "nop"),
    (0x1000_0000, "halt"),
    (0x2000_3010, "acc neuron=0, count=4, wbase=16"),
    (0x3000_33F0, "fire neuron=0, count=4, shift=7, reset=always, graded=1"),
    (0x3010_0FC0, "fire neuron=1, count=1, shift=31, reset=sub, graded=0"),
    (0x3020_1020, "fire neuron=2, count=2, shift=0, reset=value, graded=0"),
    (0x3000_0090, "fire neuron=0, count=1, shift=1, reset=none, graded=1"),
    (0x4100_F000, "leak neuron=16, count=16"),
])
def test_disassemble_word(word: int, text: str) -> None:
    assert disassemble_word(word) == text


def test_disassemble_word_rejects_invalid_words() -> None:
    with pytest.raises(SpikeCoreError, match=r"^instruction 0x80000000: unknown opcode 8$"):
        disassemble_word(0x8000_0000)


def test_disassemble_image_refuses_an_invalid_image() -> None:
    bad = Image(ChipConfig(cores=1), {0: CoreImage(program=[NOP])})
    with pytest.raises(SpikeCoreError, match=r"^image: core 0 section: program has no HALT$"):
        disassemble_image(bad)


def test_spec_example_round_trips_through_text() -> None:
    image = assemble(SPEC_EXAMPLE)
    text = disassemble_image(image)
    assert ".core 1\n" in text and ".fanout 0: 2:0 host:3\n" in text
    assert encode_image(assemble(text)) == encode_image(image)


def test_cubalif_text_round_trip() -> None:
    # spec §9: mnemonics sacc and syn, .neuron keys syn_decay, flags, syn_init (version 2)
    source = """.chip cores=1 neurons=4 weight_bytes=16 imem_depth=8 event_depth=4 fanout_depth=4
.core 0
    leak neuron=0, count=2
    sacc neuron=0, count=2, wbase=3
    syn  neuron=0, count=2
    fire neuron=0, count=2, shift=0, reset=value, graded=0
    halt
.weights 3: 5 -6
.neuron 1 threshold=9 syn_decay=49152 syn_init=-4
"""
    image = assemble(source, "cuba.s")
    # SACC 0,2,3 = 5<<28 | 1<<12 | 3; SYN 0,2 = 6<<28 | 1<<12
    assert image.cores[0].program[1:3] == [0x5000_1003, 0x6000_1000]
    assert image.cores[0].neurons[1] == NeuronParams(threshold=9, syn_decay=49152, syn_init=-4)
    text = disassemble_image(image)
    assert "sacc neuron=0, count=2, wbase=3" in text and "syn neuron=0, count=2" in text
    assert "syn_decay=49152 flags=0 syn_init=-4" in text
    assert encode_image(assemble(text, "dis.s")) == encode_image(image)


@settings(max_examples=200)
@given(st.lists(instructions().map(isa.encode), max_size=20))
def test_round_trip_programs(words: list[int]) -> None:
    assert assemble_program(disassemble_program(words)) == words


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(images(max_chips=3))
def test_round_trip_images(image: Image) -> None:
    text = disassemble_image(image)
    again = assemble(text, "dis.s")
    assert again == image
    assert encode_image(again) == encode_image(image)


def test_round_trip_of_full_memories() -> None:
    # All 4096 weights, 256 neurons and 256 fan-out entries listed: several .weights/.fanout lines.
    config = ChipConfig(cores=2, neurons=256, weight_bytes=4096, imem_depth=4096, event_depth=1, fanout_depth=256)
    core = CoreImage(program=[NOP] * 4095 + [HALT], weights=[(i % 256) - 128 for i in range(4096)],
                     neurons=[NeuronParams(fanout_start=i % 256, fanout_count=0) for i in range(256)],
                     fanout=[FanoutEntry(i % 2, 255 - i) for i in range(256)])
    image = Image(config, {1: core})
    assert encode_image(assemble(disassemble_image(image))) == encode_image(image)


# --- errors: one line, file:line, the token, what is wrong -------------------------------------------------

CHIP = ".chip cores=4 neurons=32 weight_bytes=256 imem_depth=4 event_depth=4 fanout_depth=4\n"

ERRORS = [
    # instructions
    (CHIP + ".core 0\nacc neuron=0, count=4, wbse=0\nhalt",
     "prog.s:3: unknown operand 'wbse' for acc (expected neuron, count, wbase)"),
    (CHIP + ".core 0\nacc neuron=0, count=4\nhalt", "prog.s:3: missing operand wbase for acc (expected neuron, "
                                                    "count, wbase)"),
    (CHIP + ".core 0\nfire neuron=0\nhalt", "prog.s:3: missing operands count, shift, reset, graded for fire "
                                            "(expected neuron, count, shift, reset, graded, wide)"),
    (CHIP + ".core 0\nfire neuron=0, count=1, shift=0, reset=none, graded=0, wide=1\nhalt",
     "prog.s:3: wide=1 needs graded=1 for fire (a wide payload is a graded payload)"),
    (CHIP + ".core 0\nhalt now=1", "prog.s:3: unknown operand 'now' for halt (expected none)"),
    (CHIP + ".core 0\nleak neuron=0, neuron=1, count=1\nhalt", "prog.s:3: neuron given twice for leak"),
    (CHIP + ".core 0\nadd neuron=0\nhalt",
     "prog.s:3: unknown mnemonic 'add' (expected nop, halt, acc, fire, leak, sacc, syn, merge)"),
    (CHIP + ".core 0\nleak neuron=0, count 1\nhalt", "prog.s:3: expected name=value in leak, got 'count'"),
    (CHIP + ".core 0\nleak neuron=0,, count=1\nhalt", "prog.s:3: empty item in leak (stray comma)"),
    (CHIP + ".core 0\nleak neuron=0, count=1,\nhalt", "prog.s:3: empty item in leak (stray comma)"),
    (CHIP + ".core 0\nleak neuron=0, count=\nhalt", "prog.s:3: expected name=value in leak, got 'count='"),
    (CHIP + ".core 0\nleak neuron=0, count=0\nhalt", "prog.s:3: count=0 is out of range for leak (must be 1..256)"),
    (CHIP + ".core 0\nacc neuron=256, count=1, wbase=0\nhalt",
     "prog.s:3: neuron=256 is out of range for acc (must be 0..255)"),
    (CHIP + ".core 0\nacc neuron=0, count=1, wbase=0x1000\nhalt",
     "prog.s:3: wbase=0x1000 is out of range for acc (must be 0..4095)"),
    (CHIP + ".core 0\nfire neuron=0, count=1, shift=32, reset=none, graded=0\nhalt",
     "prog.s:3: shift=32 is out of range for fire (must be 0..31)"),
    (CHIP + ".core 0\nfire neuron=0, count=1, shift=0, reset=subtract, graded=0\nhalt",
     "prog.s:3: bad reset 'subtract' for fire (expected none, value, sub, always or 0..3)"),
    (CHIP + ".core 0\nfire neuron=0, count=1, shift=0, reset=4, graded=0\nhalt",
     "prog.s:3: reset=4 is out of range for fire (must be 0..3)"),
    (CHIP + ".core 0\nfire neuron=0, count=1, shift=0, reset=none, graded=2\nhalt",
     "prog.s:3: graded=2 is out of range for fire (must be 0..1)"),
    (CHIP + ".core 0\nleak neuron=1.5, count=1\nhalt",
     "prog.s:3: bad value '1.5' for leak neuron (expected a decimal, 0x hex or .equ name)"),
    (CHIP + ".core 0\nleak neuron=X, count=1\nhalt", "prog.s:3: unknown name 'X' for leak neuron (not defined by "
                                                     ".equ above)"),
    (CHIP + ".core 0\nacc neuron=30, count=4, wbase=0\nhalt",
     "prog.s:3: acc: neurons 30..33 are outside the core's 32 neurons"),
    (CHIP + ".core 0\nacc neuron=0, count=1, wbase=256\nhalt",
     "prog.s:3: acc: wbase 256 is outside the core's 256 bytes of weight memory"),
    (CHIP + ".core 0\nnop\nnop\nnop\nnop\nhalt", "prog.s:7: core 0 program is longer than imem_depth 4"),
    ("halt", "prog.s:1: halt before any .core directive"),
    # directives
    (CHIP + ".core 0\n.org 4", "prog.s:3: unknown directive '.org' (expected .chip, .equ, .core, .weights, "
                               ".neuron, .fanout, .period)"),
    (CHIP + CHIP, "prog.s:2: .chip already given at line 1"),
    (".core 0\nhalt\n" + CHIP, "prog.s:3: .chip must come before the first .core"),
    (".chip cores=4 nerons=32", "prog.s:1: .chip: expected key=value with key one of cores, neurons, weight_bytes, "
                                "imem_depth, event_depth, fanout_depth, chips, not 'nerons=32'"),
    (".chip neurons=48", "prog.s:1: .chip: chip config: neurons must be a power of two, not 48"),
    (".chip cores=0x100", "prog.s:1: .chip: chip config: cores must be an integer from 1 to 255, not 256"),
    (".chip cores=2, cores=3", "prog.s:1: .chip: cores given twice in 'cores=2 cores=3'"),
    (".chip cores=K", "prog.s:1: unknown name 'K' for .chip cores (not defined by .equ above)"),
    (".equ A, 1\n.equ A, 2", "prog.s:2: .equ name 'A' already defined"),
    (".equ host, 1", "prog.s:1: .equ name 'host' is a reserved keyword"),
    (".equ 9lives, 1", "prog.s:1: bad .equ name '9lives' (expected letters, digits, '_', not starting with a digit)"),
    (".equ A", "prog.s:1: expected '.equ NAME, VALUE', got '.equ A'"),
    (CHIP + ".core 4", "prog.s:2: .core: 4 is out of range (must be 0..3)"),
    (CHIP + ".core 1\nhalt\n.core 1\nhalt", "prog.s:4: core 1 already has a section"),
    (CHIP + ".core 0\nhalt\n.core 1\nhalt\n.core 0", "prog.s:6: core 0 already has a section"),
    (CHIP + ".core", "prog.s:2: expected '.core N' or '.core CHIP:N', got '.core'"),
    (CHIP + ".weights 0: 1", "prog.s:2: .weights before any .core directive"),
    (CHIP + ".core 0\nhalt\n.weights 0: 1 128",
     "prog.s:4: weight at address 1: 128 is out of range (must be -128..127)"),
    (CHIP + ".core 0\nhalt\n.weights 0 1 2", "prog.s:4: expected '.weights START: ...', got '.weights 0 1 2'"),
    (CHIP + ".core 0\nhalt\n.weights 0:", "prog.s:4: .weights 0: lists nothing"),
    (CHIP + ".core 0\nhalt\n.weights 256: 1", "prog.s:4: .weights address 256 is outside the core's 256 bytes of "
                                              "weight memory"),
    (CHIP + ".core 0\nhalt\n.weights 254: 1 2 3", "prog.s:4: .weights 254: 3 weights run past the core's 256 bytes "
                                                  "of weight memory"),
    (CHIP + ".core 0\nhalt\n.weights 0: 1 2\n.weights 1: 3", "prog.s:5: weight address 1 already set at line 4"),
    (CHIP + ".core 0\nhalt\n.neuron 32 threshold=1", "prog.s:4: .neuron 32 is outside the core's 32 neurons"),
    (CHIP + ".core 0\nhalt\n.neuron 0 threshhold=1", "prog.s:4: unknown key 'threshhold' for .neuron (expected "
                                                    "threshold, reset, init, decay, fanout_start, fanout_count, "
                                                    "syn_decay, flags, syn_init)"),
    (CHIP + ".core 0\nhalt\n.neuron 0 decay=65536", "prog.s:4: .neuron decay: 65536 is out of range (must be "
                                                   "0..65535)"),
    (CHIP + ".core 0\nhalt\n.neuron 0 threshold=0x80000000", "prog.s:4: .neuron threshold: 0x80000000 is out of "
                                                            "range (must be -2147483648..2147483647)"),
    (CHIP + ".core 0\nhalt\n.neuron 0\n.neuron 0", "prog.s:5: neuron 0 already defined at line 4"),
    (CHIP + ".core 0\nhalt\n.neuron", "prog.s:4: expected '.neuron N key=value ...'"),
    (CHIP + ".core 0\nhalt\n.fanout 0: 4:0", "prog.s:4: fan-out core 4 in '4:0' is outside the chip (cores 0..3, "
                                             "or host)"),
    (CHIP + ".core 0\nhalt\n.fanout 0: 1:256", "prog.s:4: fan-out axon in '1:256': 256 is out of range (must be "
                                               "0..255)"),
    (CHIP + ".core 0\nhalt\n.fanout 0: 1-0",
     "prog.s:4: bad fan-out entry '1-0' (expected core:axon, host:axon or chip:core:axon)"),
    (CHIP + ".core 0\nhalt\n.fanout 0: hots:0", "prog.s:4: unknown name 'hots' for fan-out core (not defined by .equ "
                                                "above)"),
    (CHIP + ".core 0\nhalt\n.fanout 4: 1:0", "prog.s:4: .fanout index 4 is outside the core's 4 fan-out entries"),
    (CHIP + ".core 0\nhalt\n.fanout 2: 1:0 1:1 1:2", "prog.s:4: .fanout 2: 3 entries run past the core's 4 fan-out "
                                                     "entries"),
    (CHIP + ".core 0\nhalt\n.fanout 0: 1:0\n.fanout 0: 1:1", "prog.s:5: fan-out entry 0 already set at line 4"),
    # rules about a whole section: at its .core line (or the neuron's line)
    (CHIP + ".core 2\nnop", "prog.s:2: core 2 program has no halt"),
    (CHIP + ".core 2\n.core 3\nhalt", "prog.s:2: core 2 program has no halt"),
    (CHIP + ".core 0\nhalt\n.fanout 2: 1:0", "prog.s:4: core 0 fan-out entry 0 is not defined (entries up to 2 are "
                                             "used)"),
    (CHIP + ".core 0\nhalt\n.fanout 0: 1:0\n.neuron 3 fanout_start=0 fanout_count=2",
     "prog.s:5: neuron 3 fan-out range 0..1 runs past the 1 entries of core 0's fan-out table"),
    # neuron 0 has 3 destinations and is fired twice: 2 x 3 = 6 pushes > fanout_depth 4
    (CHIP + ".core 1\nfire neuron=0, count=1, shift=0, reset=none, graded=0\n"
            "fire neuron=0, count=1, shift=0, reset=none, graded=0\nhalt\n"
            ".neuron 0 fanout_start=0 fanout_count=3\n.fanout 0: 1:0 1:1 1:2",
     "prog.s:2: core 1 FIREs could push 6 deliveries in one step, more than the out-queue's 4 (fanout_depth)"),
    # labels
    (CHIP + ".core 0\na: nop\na: halt", "prog.s:4: label 'a' already defined at line 3"),
    ("a: halt", "prog.s:1: label 'a' before any .core directive"),
]


@pytest.mark.parametrize(("source", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_assembly_error_is_one_line_with_file_line_and_token(source: str, message: str) -> None:
    with pytest.raises(SpikeCoreError) as info:
        assemble(source, "prog.s")
    assert str(info.value) == message


BOARD = ".chip cores=2 neurons=4 weight_bytes=16 imem_depth=8 event_depth=4 fanout_depth=4 chips=3\n"


def test_board_source_names_chips_in_core_and_fanout() -> None:
    # spec §9/§13: .core C:N is global core C*cores+N; chip:core:axon sets the entry's chip; core:axon is chip 0
    image = assemble(BOARD + ".core 2:1\nfire neuron=0, count=1, shift=0, reset=none, graded=0\nhalt\n"
                     ".neuron 0 fanout_count=3\n.fanout 0: 1:0:7 1:5 host:2\n.core 0\nhalt\n", "b.s")
    assert image.config.chips == 3 and sorted(image.cores) == [0, 5]
    assert image.cores[5].fanout == [FanoutEntry(0, 7, chip=1), FanoutEntry(1, 5, chip=0),
                                     FanoutEntry(isa.HOST_CORE, 2, chip=0)]
    text = disassemble_image(image)
    assert ".core 2:1" in text and ".fanout 0: 1:0:7 0:1:5 0:host:2" in text and text.count("chips=3") == 1
    assert assemble(text) == image


@pytest.mark.parametrize(("source", "message"), [
    (BOARD + ".core 3:0\nhalt", "b.s:2: .core chip: 3 is out of range (must be 0..2)"),
    (BOARD + ".core :0\nhalt", "b.s:2: expected '.core N' or '.core CHIP:N', got '.core :0'"),
    (BOARD + ".core 1:1\nhalt\n.core 1:1\nhalt", "b.s:4: chip 1 core 1 already has a section"),
    (BOARD + ".core 0\nhalt\n.fanout 0: 3:0:1", "b.s:4: fan-out chip in '3:0:1': 3 is out of range (must be 0..2)"),
    (BOARD + ".core 0\nhalt\n.fanout 0: 1:host:1",
     "b.s:4: fan-out entry '1:host:1' names the host on chip 1; the host is chip 0's (every chip reaches it directly)"),
    (BOARD + ".core 0\nhalt\n.fanout 0: 1:2:3:4",
     "b.s:4: bad fan-out entry '1:2:3:4' (expected core:axon, host:axon or chip:core:axon)"),
    (".chip chips=17\n", "b.s:1: .chip: chip config: chips must be an integer from 1 to 16, not 17"),
])
def test_board_assembly_errors(source: str, message: str) -> None:
    with pytest.raises(SpikeCoreError) as info:
        assemble(source, "b.s")
    assert str(info.value) == message


@pytest.mark.parametrize(("source", "message"), [
    (".core 0", "p.s:1: directive '.core' is not allowed in a bare program (only instructions, labels, .equ)"),
    ("nop\n.weights 0: 1", "p.s:2: directive '.weights' is not allowed in a bare program (only instructions, "
                           "labels, .equ)"),
    ("leak neuron=0, count=257", "p.s:1: count=257 is out of range for leak (must be 1..256)"),
])
def test_bare_program_errors(source: str, message: str) -> None:
    with pytest.raises(SpikeCoreError) as info:
        assemble_program(source, "p.s")
    assert str(info.value) == message


def test_bare_program_needs_no_config_or_halt() -> None:
    # acc neuron=255 count=1 wbase=4095 would not fit the product core (32 neurons) but is a valid word:
    # 2<<28 | 255<<20 | 0<<12 | 0xfff
    assert assemble_program("acc neuron=255, count=1, wbase=4095") == [0x2FF0_0FFF]


@settings(max_examples=60)
@given(st.text(alphabet=st.sampled_from(list("acfhilnorstuwy.=:,;#-x0123456789 \n")), max_size=60))
def test_garbage_never_raises_anything_but_a_one_line_error(source: str) -> None:
    try:
        assemble(source, "fuzz.s")
    except SpikeCoreError as err:
        assert "\n" not in str(err)
        assert str(err).startswith("fuzz.s:")


def test_operand_order_is_irrelevant_and_whitespace_free_lists_work() -> None:
    assert assemble_program("fire graded=1,reset=always,shift=7,count=4,neuron=0") == [0x3000_33F0]
    assert Opcode.FIRE in MNEMONICS.values()


def test_merge_and_wide_fire_assemble_to_hand_words_and_back() -> None:
    # merge 4,16: 7<<28 | 4<<20 | 15<<12 = 0x7040F000; fire 0,2,shift 0,always,graded,wide: 3<<28 | 1<<12 |
    # 3<<5 | 1<<4 | 1<<3 = 0x30001078; the same fire without wide (left out: default 0) = 0x30001070
    text = ("merge neuron=4, count=16\nfire neuron=0, count=2, shift=0, reset=always, graded=1, wide=1\n"
            "fire neuron=0, count=2, shift=0, reset=always, graded=1\nhalt\n")
    words = assemble_program(text)
    assert words == [0x7040_F000, 0x3000_1078, 0x3000_1070, 0x1000_0000]
    # wide is printed only when set, so earlier listings read the same
    assert [disassemble_word(w) for w in words[:3]] == text.splitlines()[:3]
