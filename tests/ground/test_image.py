"""The binary image of docs/spec.md §7: byte layout, round trips, and every loader rule.

Malformed images are built here byte by byte with :func:`pack`, an independent writer of the §7 layout,
so a rule is tested by the loader meeting it, not by the writer refusing it. The hypothesis strategy
:func:`images` builds random *valid* images (every §7 content rule respected by construction); the
assembler tests import it too.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, decode_image, encode_image, load_image, save_image, validate_image
from spikecore.isa import CoreImage, FanoutEntry, Instruction, NeuronParams, Opcode, ResetMode

HALT = 0x1000_0000   # opcode 1 << 28, no operands
NOP = 0x0000_0000

# --- strategies for valid images ------------------------------------------------------------------------


@st.composite
def configs(draw: st.DrawFn, max_cores: int = 6, max_chips: int = 1) -> ChipConfig:
    """Small chip configs, plus the largest memories now and then (sizes at their limits); boards of up to
    ``max_chips`` chips."""
    return ChipConfig(
        cores=draw(st.integers(1, max_cores)),
        neurons=draw(st.sampled_from([1, 2, 4, 8, 32, 256])),
        weight_bytes=draw(st.sampled_from([1, 2, 16, 256, 4096])),
        imem_depth=draw(st.one_of(st.integers(2, 16), st.just(isa.MAX_IMEM_DEPTH))),
        event_depth=draw(st.integers(1, isa.MAX_EVENT_DEPTH)),
        fanout_depth=draw(st.one_of(st.integers(1, 8), st.just(isa.MAX_FANOUT_DEPTH))),
        chips=draw(st.integers(1, max_chips)),
    )


@st.composite
def instructions(draw: st.DrawFn, config: ChipConfig | None = None) -> Instruction:
    """Any instruction whose operands fit the fields, and the core of ``config`` when one is given."""
    neurons = config.neurons if config else isa.MAX_NEURONS
    weight_bytes = config.weight_bytes if config else isa.MAX_WEIGHT_BYTES
    opcode = draw(st.sampled_from(list(Opcode)))
    if opcode in (Opcode.NOP, Opcode.HALT):
        return Instruction(opcode)
    neuron = draw(st.integers(0, neurons - 1))
    count = draw(st.integers(1, neurons - neuron))
    if opcode in (Opcode.ACC, Opcode.SACC):
        return Instruction(opcode, neuron=neuron, count=count, wbase=draw(st.integers(0, weight_bytes - 1)))
    if opcode == Opcode.FIRE:
        return Instruction(opcode, neuron=neuron, count=count, shift=draw(st.integers(0, isa.SHIFT_MAX)),
                           reset=draw(st.sampled_from(list(ResetMode))), graded=draw(st.booleans()))
    return Instruction(opcode, neuron=neuron, count=count)


def fire_multiplicity(program: list[int], n_neurons: int) -> list[int]:
    """How many FIREs before the first HALT cover each neuron (written here, independent of image.py)."""
    times = [0] * n_neurons
    for word in program:
        if word == HALT:
            break
        instr = isa.decode(word)
        if instr.opcode == Opcode.FIRE:
            for n in instr.neurons:
                if n < n_neurons:
                    times[n] += 1
    return times


int32 = st.integers(isa.ACC_MIN, isa.ACC_MAX)


@st.composite
def core_images(draw: st.DrawFn, config: ChipConfig) -> CoreImage:
    """A valid section for ``config``: a HALT somewhere, fan-out ranges inside the table, out-queue bound kept."""
    n_words = draw(st.integers(1, min(config.imem_depth, 12)))
    halt_at = draw(st.integers(0, n_words - 1))
    program = [HALT if i == halt_at else isa.encode(draw(instructions(config))) for i in range(n_words)]
    weights = draw(st.lists(st.integers(isa.WEIGHT_MIN, isa.WEIGHT_MAX), max_size=min(config.weight_bytes, 24)))
    core_on_chip = st.builds(lambda core, axon, chip: FanoutEntry(core, axon, chip), st.integers(0, config.cores - 1),
                             st.integers(0, isa.AXON_MAX), st.integers(0, config.chips - 1))
    to_host = st.builds(FanoutEntry, st.just(isa.HOST_CORE), st.integers(0, isa.AXON_MAX))
    fanout = draw(st.lists(st.one_of(core_on_chip, to_host), max_size=min(config.fanout_depth, 10)))
    n_neurons = draw(st.integers(0, min(config.neurons, 10)))
    times = fire_multiplicity(program, n_neurons)
    budget = config.fanout_depth          # out-queue pushes still allowed
    neurons = []
    for n in range(n_neurons):
        start = draw(st.integers(0, len(fanout)))
        most = len(fanout) - start
        if times[n]:
            most = min(most, budget // times[n])
        count = draw(st.integers(0, most))
        if count == 0:   # an empty range names no entry, so its start is free (any u8)
            start = draw(st.one_of(st.just(start), st.integers(0, 255)))
        budget -= count * times[n]
        neurons.append(NeuronParams(threshold=draw(int32), reset=draw(int32), init=draw(int32),
                                    decay=draw(st.integers(0, isa.DECAY_MAX)), fanout_start=start, fanout_count=count,
                                    syn_decay=draw(st.integers(0, isa.DECAY_MAX)), syn_init=draw(int32)))
    return CoreImage(program=program, weights=weights, neurons=neurons, fanout=fanout)


@st.composite
def images(draw: st.DrawFn, config: ChipConfig | None = None, max_chips: int = 1) -> Image:
    """A random valid :class:`Image` (sections for a random subset of the cores of its chips)."""
    config = config or draw(configs(max_chips=max_chips))
    core_ids = draw(st.sets(st.integers(0, config.board_cores - 1), max_size=min(config.board_cores, 4)))
    return Image(config=config, cores={core: draw(core_images(config)) for core in sorted(core_ids)})


# --- an independent writer of the §7 layout, for hand-made and malformed images -------------------------

CONFIG = ChipConfig(cores=4, neurons=32, weight_bytes=256, imem_depth=8, event_depth=4, fanout_depth=4)
CONFIG_VALUES = (4, 32, 256, 8, 4, 4)


def section(core: int, program=(HALT,), weights=(), neurons=(), fanout=(), chip=0, counts=None,
            version=2) -> bytes:
    """One core section; ``neurons`` are 6-tuples (the version-2 fields then 0) or 9-tuples, ``fanout`` (core,
    axon) pairs or (core, axon, chip, flags) 4-tuples; ``counts`` overrides the header; ``version`` 1 writes the
    16-byte neuron record and 2-byte fan-out record of §7.1 (and ``chip`` is then the reserved field)."""
    n = counts or (len(program), len(weights), len(neurons), len(fanout))
    out = struct.pack("<6H", core, *n, chip)
    out += b"".join(struct.pack("<I", w) for w in program)
    out += struct.pack(f"<{len(weights)}b", *weights)
    if version == 1:
        out += b"".join(struct.pack("<iiiHBB", *p) for p in neurons)
    else:
        out += b"".join(struct.pack("<iiiHBBHHi", *(*p, 0, 0, 0)[:9]) for p in neurons)
    if version == 1:
        out += b"".join(struct.pack("<BB", *e) for e in fanout)
    else:   # chip, core, axon, flags
        entries = [(*e, 0, 0)[:4] for e in fanout]   # (core, axon, chip, flags)
        out += b"".join(struct.pack("<BBBB", chip_, core, axon, flags) for core, axon, chip_, flags in entries)
    return out


def pack(*sections: bytes, config=CONFIG_VALUES, magic=b"SPKC", version=2, flags=0, chips=None, reserved=(0, 0),
         n_sections=None, crc=None, trailing=b"") -> bytes:
    """An image; ``chips`` (the header's first formerly reserved u16) is 1 in version 2, 0 in version 1."""
    chips = (1 if version >= 2 else 0) if chips is None else chips
    body = struct.pack("<4sHH6HH3H", magic, version, flags, *config,
                       len(sections) if n_sections is None else n_sections, chips, *reserved) + b"".join(sections)
    return body + struct.pack("<I", zlib.crc32(body) if crc is None else crc) + trailing


def rejected(data: bytes, name: str = "img.bin") -> str:
    """The loader's message for ``data``; it must be exactly one line naming the input."""
    with pytest.raises(SpikeCoreError) as info:
        decode_image(data, name)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: ")
    return message


# --- layout -------------------------------------------------------------------------------------------------


def test_byte_layout_of_a_small_image_is_exactly_the_spec() -> None:
    config = ChipConfig(cores=1, neurons=1, weight_bytes=1, imem_depth=2, event_depth=1, fanout_depth=1)
    core = CoreImage(program=[HALT], weights=[-1],
                     neurons=[NeuronParams(threshold=1, reset=-2, init=3, decay=4, fanout_start=0, fanout_count=1,
                                           syn_decay=0x1234, syn_init=-6)],
                     fanout=[FanoutEntry(isa.HOST_CORE, 7)])
    body = bytes.fromhex(
        "53504b43"                      # magic SPKC
        "0200" "0000"                   # version 2, flags 0
        "0100" "0100" "0100" "0200" "0100" "0100"   # cores 1, neurons 1, weight_bytes 1, imem 2, events 1, fanout 1
        "0100" "0100" "00000000"        # 1 section, 1 chip, reserved
        "0000" "0100" "0100" "0100" "0100" "0000"   # core 0: 1 word, 1 weight, 1 neuron, 1 fan-out entry, chip 0
        "00000010"                      # HALT = 0x10000000 little-endian
        "ff"                            # weight -1
        "01000000" "feffffff" "03000000" "0400" "00" "01"   # threshold 1, reset -2, init 3, decay 4, start 0, count 1
        "3412" "0000" "faffffff"        # version 2: syn_decay 0x1234, flags 0, syn_init -6
        "00ff0700"                      # fan-out: chip 0, host (255), axon 7, flags 0
    )
    expected = body + struct.pack("<I", zlib.crc32(body))
    assert len(body) == 28 + 12 + 4 + 1 + 24 + 4
    assert encode_image(Image(config, {0: core})) == expected
    assert decode_image(expected) == Image(config, {0: core})


def test_version_1_bytes_load_with_the_version_2_fields_at_their_defaults() -> None:
    # spec §7.1: the same image as a version-1 file: header version 1 and a 16-byte neuron record
    config = ChipConfig(cores=1, neurons=1, weight_bytes=1, imem_depth=2, event_depth=1, fanout_depth=1)
    body = bytes.fromhex(
        "53504b43" "0100" "0000"        # magic, version 1, flags 0
        "0100" "0100" "0100" "0200" "0100" "0100" "0100" "000000000000"
        "0000" "0100" "0100" "0100" "0100" "0000"
        "00000010" "ff"
        "01000000" "feffffff" "03000000" "0400" "00" "01"   # 16 bytes: no syn_decay, flags, syn_init
        "ff07"
    )
    v1 = body + struct.pack("<I", zlib.crc32(body))
    assert len(body) == 28 + 12 + 4 + 1 + 16 + 2
    neuron = NeuronParams(threshold=1, reset=-2, init=3, decay=4, fanout_start=0, fanout_count=1)
    image = Image(config, {0: CoreImage(program=[HALT], weights=[-1], neurons=[neuron],
                                        fanout=[FanoutEntry(isa.HOST_CORE, 7)])})
    loaded = decode_image(v1)
    assert loaded == image
    assert (loaded.cores[0].neurons[0].syn_decay, loaded.cores[0].neurons[0].flags,
            loaded.cores[0].neurons[0].syn_init) == (0, 0, 0)
    # re-encoding writes version 2: the version field, chips = 1, the 8 bytes the neuron record gained and the 2
    # the fan-out record gained
    again = encode_image(loaded)
    assert again[4:6] == b"\x02\x00" and again[22:24] == b"\x01\x00" and len(again) == len(v1) + 8 + 2


def test_version_1_image_may_not_hold_the_version_2_opcodes() -> None:
    sacc = 0x5000_0000   # SACC neuron=0 count=1 wbase=0: opcode 5 in bits 31..28
    syn = 0x6000_0000    # SYN neuron=0 count=1
    assert decode_image(pack(section(0, program=(sacc, syn, HALT)))).cores[0].program == [sacc, syn, HALT]
    assert rejected(pack(section(0, program=(NOP, sacc, HALT), version=1), version=1)) == (
        "img.bin: core 0 section: program word 1: SACC needs image format version 2")
    assert rejected(pack(section(2, program=(HALT, syn), version=1), version=1)) == (
        "img.bin: core 2 section: program word 1: SYN needs image format version 2")
    # a version-1 section is framed with 16-byte records: one neuron record fewer bytes than version 2
    v1 = pack(section(0, neurons=((5, 0, 0, 0, 0, 0),), version=1), version=1)
    assert decode_image(v1).cores[0].neurons == [NeuronParams(threshold=5)]
    # the same bytes labelled version 2 frame a 24-byte record: HALT (4) + 24 = 28 bytes, 16 + 4 (CRC) + 4 remain
    relabelled = v1[:4] + b"\x02\x00" + v1[6:]
    relabelled = relabelled[:22] + b"\x01\x00" + relabelled[24:]   # version 2: chips = 1
    relabelled = relabelled[:-4] + struct.pack("<I", zlib.crc32(relabelled[:-4]))
    assert rejected(relabelled) == "img.bin: truncated: core 0 section needs 28 bytes at offset 40, 24 remain"


def test_board_image_bytes_name_the_chips_and_each_sections_chip() -> None:
    # spec §7 / §13: header u16 at offset 22 = chips; section header's last u16 = its chip; global core id =
    # chip * cores + core; fan-out entry = chip, core, axon, flags.
    config = ChipConfig(cores=2, neurons=1, weight_bytes=1, imem_depth=2, event_depth=1, fanout_depth=1, chips=3)
    image = Image(config, {1: CoreImage(), 4: CoreImage(fanout=[FanoutEntry(1, 9, chip=2)])})
    body = bytes.fromhex(
        "53504b43" "0200" "0000"
        "0200" "0100" "0100" "0200" "0100" "0100"   # cores 2, neurons 1, weight_bytes 1, imem 2, events 1, fanout 1
        "0200" "0300" "00000000"        # 2 sections, 3 chips, reserved
        "0100" "0100" "0000" "0000" "0000" "0000"   # chip 0 core 1 (global 1): HALT only
        "00000010"
        "0000" "0100" "0000" "0000" "0100" "0200"   # chip 2 core 0 (global 4): HALT, 1 fan-out entry
        "00000010"
        "02010900"                      # fan-out: chip 2, core 1, axon 9, flags 0
    )
    data = body + struct.pack("<I", zlib.crc32(body))
    assert encode_image(image) == data
    assert decode_image(data) == image
    assert image.chip_of(4) == (2, 0) and image.chip_sections(2) == {0: image.cores[4]}
    assert rejected(pack(section(1, chip=1), section(0, chip=1), chips=2)) == (
        "img.bin: chip 1 core 0 section follows chip 1 core 1 section (sections must be in ascending core order)")
    assert rejected(pack(section(0, fanout=((isa.HOST_CORE, 0, 1, 0),)), chips=2)) == (
        "img.bin: chip 0 core 0 section: fan-out entry 0 names the host on chip 1, must be chip 0 (every chip "
        "reaches the host directly)")
    assert rejected(pack(n_sections=9, chips=2)) == "img.bin: header lists 9 core sections, the board has 8 cores"


def test_empty_image_is_a_header_and_a_crc() -> None:
    data = pack()
    assert len(data) == 28 + 4
    assert encode_image(Image(CONFIG)) == data
    assert decode_image(data) == Image(CONFIG)


def test_sections_are_written_in_ascending_core_order_whatever_the_dict_order() -> None:
    image = Image(CONFIG, {3: CoreImage(), 1: CoreImage(program=[NOP, HALT])})
    assert encode_image(image) == pack(section(1, program=(NOP, HALT)), section(3))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(images(max_chips=3))
def test_round_trip_image_bytes_image(image: Image) -> None:
    data = encode_image(image)
    decoded = decode_image(data)
    assert decoded == image
    assert encode_image(decoded) == data


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(images(), st.data())
def test_any_single_byte_change_is_rejected_with_one_line(image: Image, data: st.DataObject) -> None:
    good = encode_image(image)
    offset = data.draw(st.integers(0, len(good) - 1))
    flip = data.draw(st.integers(1, 255))
    bad = bytearray(good)
    bad[offset] ^= flip
    rejected(bytes(bad))


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_every_truncation_is_rejected_as_truncated(image: Image) -> None:
    good = encode_image(image)
    for end in range(len(good)):
        assert ": truncated: " in rejected(good[:end])


def test_save_and_load(tmp_path) -> None:
    image = Image(CONFIG, {2: CoreImage(program=[NOP, HALT], weights=[1, -2])})
    path = tmp_path / "prog.bin"
    save_image(image, path)
    assert path.read_bytes() == encode_image(image)
    assert load_image(path) == image


# --- truncation messages ------------------------------------------------------------------------------------

# One section for core 0: 2 words (8 bytes) + 3 weights + 1 neuron (24) + 2 fan-out entries (4) = 39 bytes body.
TRUNCATION_IMAGE = pack(section(0, program=(NOP, HALT), weights=(1, 2, 3), neurons=((1, 0, 0, 0, 0, 2),),
                                fanout=((1, 0), (2, 0))))


@pytest.mark.parametrize(("end", "message"), [
    (0, "img.bin: truncated: header needs 28 bytes at offset 0, 0 remain"),
    (3, "img.bin: truncated: header needs 28 bytes at offset 0, 3 remain"),
    (27, "img.bin: truncated: header needs 28 bytes at offset 0, 27 remain"),
    (28, "img.bin: truncated: section 0 header needs 12 bytes at offset 28, 0 remain"),
    (39, "img.bin: truncated: section 0 header needs 12 bytes at offset 28, 11 remain"),
    (40, "img.bin: truncated: core 0 section needs 43 bytes at offset 40, 0 remain"),
    (52, "img.bin: truncated: core 0 section needs 43 bytes at offset 40, 12 remain"),
    (82, "img.bin: truncated: core 0 section needs 43 bytes at offset 40, 42 remain"),
    (83, "img.bin: truncated: CRC trailer needs 4 bytes at offset 83, 0 remain"),
    (86, "img.bin: truncated: CRC trailer needs 4 bytes at offset 83, 3 remain"),
])
def test_truncation_names_the_part_the_offset_and_what_remains(end: int, message: str) -> None:
    assert len(TRUNCATION_IMAGE) == 28 + 12 + (8 + 3 + 24 + 2 * 4) + 4
    assert rejected(TRUNCATION_IMAGE[:end]) == message


# --- framing and content rules ------------------------------------------------------------------------------

WORD_ACC_30_4 = 0x21E0_3000    # acc neuron=30 count=4: 2<<28 | 30<<20 | 3<<12
WORD_LEAK_0_33 = 0x4002_0000   # leak neuron=0 count=33: 4<<28 | 32<<12
WORD_ACC_WBASE_256 = 0x2000_0100  # acc neuron=0 count=1 wbase=256
WORD_FIRE_0_1 = 0x3000_0000    # fire neuron=0 count=1 shift=0 reset=none graded=0
GOOD = pack(section(0), section(2))
CRC_OF_GOOD = zlib.crc32(GOOD[:-4])

MALFORMED = {
    "bad magic": (b"SPKX" + GOOD[4:], "img.bin: not a SpikeCore image (magic b'SPKX', expected b'SPKC')"),
    "text file": (b"; a source\n", "img.bin: not a SpikeCore image (magic b'; a ', expected b'SPKC')"),
    "wrong version": (pack(version=3), "img.bin: unsupported format version 3 (this loader reads versions 1, 2)"),
    "version 0": (pack(version=0), "img.bin: unsupported format version 0 (this loader reads versions 1, 2)"),
    "flags": (pack(flags=1), "img.bin: header flags are 0x0001, must be 0"),
    "header reserved": (pack(reserved=(5, 0)), "img.bin: header reserved fields are 5, 0, must be 0"),
    "version 1 header reserved": (pack(version=1, chips=2),
                                  "img.bin: header reserved fields are 2, 0, 0, must be 0"),
    "zero chips": (pack(chips=0), "img.bin: chip config: chips must be an integer from 1 to 16, not 0"),
    "17 chips": (pack(chips=17), "img.bin: chip config: chips must be an integer from 1 to 16, not 17"),
    "zero cores": (pack(config=(0, 32, 256, 8, 4, 4)),
                   "img.bin: chip config: cores must be an integer from 1 to 255, not 0"),
    "neurons not a power of two": (pack(config=(4, 3, 256, 8, 4, 4)),
                                   "img.bin: chip config: neurons must be a power of two, not 3"),
    "imem_depth too small": (pack(config=(4, 32, 256, 1, 4, 4)),
                             "img.bin: chip config: imem_depth must be an integer from 2 to 4096, not 1"),
    "more sections than cores": (pack(n_sections=5), "img.bin: header lists 5 core sections, the chip has 4 cores"),
    "more sections than one core": (pack(n_sections=2, config=(1, 32, 256, 8, 4, 4)),
                                    "img.bin: header lists 2 core sections, the chip has 1 core"),
    "core outside chip": (pack(section(4)), "img.bin: section 0 names core 4, outside the chip (cores 0..3)"),
    "repeated core": (pack(section(1), section(1)), "img.bin: core 1 has two sections"),
    "out of order": (pack(section(2), section(1)),
                     "img.bin: core 1 section follows core 2 section (sections must be in ascending core order)"),
    "section reserved": (pack(section(0, chip=7, version=1), version=1),
                         "img.bin: core 0 section: reserved field is 7, must be 0"),
    "section chip outside the board": (pack(section(0, chip=1)),
                                       "img.bin: section 0 names chip 1, outside the board (chips 0..0)"),
    "oversize program": (pack(section(0, program=(NOP,) * 8 + (HALT,))),
                         "img.bin: core 0 section: 9 program words exceed the core's imem_depth of 8"),
    "oversize weights": (pack(section(0, weights=(0,) * 257)),
                         "img.bin: core 0 section: 257 weights exceed the core's weight_bytes of 256"),
    "oversize neurons": (pack(section(0, neurons=((0,) * 6,) * 33)),
                         "img.bin: core 0 section: 33 neuron records exceed the core's neurons of 32"),
    "oversize fan-out": (pack(section(0, fanout=((0, 0),) * 5)),
                         "img.bin: core 0 section: 5 fan-out entries exceed the core's fanout_depth of 4"),
    # oversize is framing: reported even though the bytes for it are absent
    "oversize before truncation": (pack(section(0, counts=(4000, 0, 0, 0))),
                                   "img.bin: core 0 section: 4000 program words exceed the core's imem_depth of 8"),
    "trailing bytes": (GOOD + b"\x00", f"img.bin: trailing bytes after the CRC: 1 at offset {len(GOOD)}"),
    "bad CRC": (GOOD[:-4] + struct.pack("<I", CRC_OF_GOOD ^ 1),
                f"img.bin: CRC mismatch (stored 0x{CRC_OF_GOOD ^ 1:08x}, computed 0x{CRC_OF_GOOD:08x})"),
    "unknown opcode": (pack(section(0, program=(NOP, 0x8000_0000, HALT))),
                       "img.bin: core 0 section: program word 1: instruction 0x80000000: unknown opcode 8"),
    "neuron flags": (pack(section(0, neurons=((0, 0, 0, 0, 0, 0, 0, 2, 0),))),
                     "img.bin: core 0 section: neuron 0 flags are 0x0002, must be 0 (reserved)"),
    "reserved bit": (pack(section(0, program=(0x1000_0001,))),
                     "img.bin: core 0 section: program word 0: instruction 0x10000001: HALT has reserved bits set"),
    "invalid word after HALT": (pack(section(0, program=(HALT, 0xF000_0000))),
                                "img.bin: core 0 section: program word 1: instruction 0xf0000000: unknown opcode 15"),
    "no HALT": (pack(section(0), section(2, program=(NOP, NOP))), "img.bin: core 2 section: program has no HALT"),
    "empty program": (pack(section(3, program=())), "img.bin: core 3 section: program has no HALT"),
    "ACC neuron range": (pack(section(0, program=(WORD_ACC_30_4, HALT))),
                         "img.bin: core 0 section: program word 0 (ACC): neurons 30..33 are outside the core's "
                         "32 neurons"),
    "LEAK neuron range after HALT": (pack(section(0, program=(HALT, WORD_LEAK_0_33))),
                                     "img.bin: core 0 section: program word 1 (LEAK): neurons 0..32 are outside "
                                     "the core's 32 neurons"),
    "wbase": (pack(section(0, program=(WORD_ACC_WBASE_256, HALT))),
              "img.bin: core 0 section: program word 0 (ACC): wbase 256 is outside the core's 256 bytes of "
              "weight memory"),
    "fan-out chip": (pack(section(0, fanout=((0, 0, 1, 0),))),
                     "img.bin: core 0 section: fan-out entry 0 names chip 1, outside the board (chips 0..0)"),
    "fan-out flags": (pack(section(0, fanout=((0, 0, 0, 4),))),
                      "img.bin: core 0 section: fan-out entry 0 flags are 0x04, must be 0 (reserved)"),
    "fan-out core": (pack(section(0, fanout=((4, 0),))),
                     "img.bin: core 0 section: fan-out entry 0 names core 4, outside the chip (cores 0..3, host 255)"),
    "fan-out range": (pack(section(0, neurons=((0, 0, 0, 0, 1, 1),), fanout=((0, 0),))),
                      "img.bin: core 0 section: neuron 0 fan-out range 1..1 runs past the 1 entries of the "
                      "fan-out table"),
    "fan-out range with no table": (pack(section(0, neurons=((0, 0, 0, 0, 0, 1),))),
                                    "img.bin: core 0 section: neuron 0 fan-out range 0..0 runs past the 0 entries "
                                    "of the fan-out table"),
    # neuron 0 has 3 destinations and two FIREs fire it: 2 x 3 = 6 pushes > fanout_depth 4
    "out-queue bound": (pack(section(0, program=(WORD_FIRE_0_1, WORD_FIRE_0_1, HALT),
                                     neurons=((0, 0, 0, 0, 0, 3),), fanout=((1, 0),) * 3)),
                        "img.bin: core 0 section: FIREs could push 6 deliveries in one step, more than the "
                        "out-queue's 4 (fanout_depth)"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_image_is_one_line_error(case: str) -> None:
    data, message = MALFORMED[case]
    assert rejected(data) == message


def test_limits_are_inclusive() -> None:
    # Every memory exactly full, the out-queue bound met exactly (4 pushes = fanout_depth 4): valid.
    data = pack(section(0, program=(NOP,) * 5 + (WORD_FIRE_0_1, WORD_FIRE_0_1, HALT), weights=(0,) * 256,
                        neurons=((0, 0, 0, 0, 0, 2),) + ((0,) * 6,) * 31, fanout=((isa.HOST_CORE, 255),) * 4),
                section(3))
    image = decode_image(data)
    assert len(image.cores[0].program) == 8 and len(image.cores[0].weights) == 256
    assert len(image.cores[0].neurons) == 32 and len(image.cores[0].fanout) == 4
    assert encode_image(image) == data


def test_an_empty_fan_out_range_may_start_anywhere() -> None:
    # fanout_count 0 names no entry: a start past the (empty) table is not an error
    data = pack(section(0, neurons=((0, 0, 0, 0, 255, 0),)))
    assert decode_image(data).cores[0].neurons == [NeuronParams(0, 0, 0, 0, 255, 0)]


def test_fire_after_halt_does_not_count_towards_the_out_queue() -> None:
    # Same as the "out-queue bound" case but the second FIRE never runs: 1 x 3 = 3 pushes <= 4.
    data = pack(section(0, program=(WORD_FIRE_0_1, HALT, WORD_FIRE_0_1), neurons=((0, 0, 0, 0, 0, 3),),
                        fanout=((1, 0),) * 3))
    assert decode_image(data).cores[0].program == [WORD_FIRE_0_1, HALT, WORD_FIRE_0_1]


def test_load_image_names_the_file(tmp_path) -> None:
    path = tmp_path / "broken.bin"
    path.write_bytes(MALFORMED["no HALT"][0])
    with pytest.raises(SpikeCoreError, match=r"^.*broken\.bin: core 2 section: program has no HALT$"):
        load_image(path)


# --- in-memory images: the writer refuses what the loader would -------------------------------------------

VALID_CORE = CoreImage(program=[WORD_FIRE_0_1, HALT], weights=[5], neurons=[NeuronParams(fanout_count=1)],
                       fanout=[FanoutEntry(1, 2)])

INVALID_IN_MEMORY = {
    "core id outside chip": (Image(CONFIG, {4: VALID_CORE}),
                             "image: core 4 section: names a core outside the chip (cores 0..3)"),
    "negative core id": (Image(CONFIG, {-1: VALID_CORE}),
                         "image: core -1 section: names a core outside the chip (cores 0..3)"),
    "weight too big": (Image(CONFIG, {0: replace(VALID_CORE, weights=[5, 128])}),
                       "image: core 0 section: weight 1 is 128, must be -128..127"),
    "weight a bool": (Image(CONFIG, {0: replace(VALID_CORE, weights=[True])}),
                      "image: core 0 section: weight 0 is True, not an integer"),
    "threshold too big": (Image(CONFIG, {0: replace(VALID_CORE, neurons=[NeuronParams(threshold=1 << 31)])}),
                          "image: core 0 section: neuron 0 threshold is 2147483648, must be -2147483648..2147483647"),
    "decay too big": (Image(CONFIG, {0: replace(VALID_CORE, neurons=[NeuronParams(decay=65536)])}),
                      "image: core 0 section: neuron 0 decay is 65536, must be 0..65535"),
    "fanout_start too big": (Image(CONFIG, {0: replace(VALID_CORE, neurons=[NeuronParams(fanout_start=256)])}),
                             "image: core 0 section: neuron 0 fanout_start is 256, must be 0..255"),
    "axon too big": (Image(CONFIG, {0: replace(VALID_CORE, fanout=[FanoutEntry(1, 256)])}),
                     "image: core 0 section: fan-out entry 0 axon is 256, must be 0..255"),
    "word not an int": (Image(CONFIG, {0: replace(VALID_CORE, program=["halt"])}),
                        "image: core 0 section: program word 0 is 'halt', not an integer"),
    "word too wide": (Image(CONFIG, {0: replace(VALID_CORE, program=[1 << 32, HALT])}),
                      "image: core 0 section: program word 0: instruction word must be 0..0xffffffff, "
                      "not 4294967296"),
    "no HALT": (Image(CONFIG, {1: replace(VALID_CORE, program=[NOP])}), "image: core 1 section: program has no HALT"),
    "oversize program": (Image(CONFIG, {0: replace(VALID_CORE, program=[HALT] * 9)}),
                         "image: core 0 section: 9 program words exceed the core's imem_depth of 8"),
}


@pytest.mark.parametrize("case", list(INVALID_IN_MEMORY))
def test_invalid_in_memory_image_cannot_be_encoded(case: str) -> None:
    image, message = INVALID_IN_MEMORY[case]
    with pytest.raises(SpikeCoreError) as info:
        validate_image(image)
    assert str(info.value) == message
    with pytest.raises(SpikeCoreError) as info:
        encode_image(image)
    assert str(info.value) == message


def test_valid_core_used_above_is_valid() -> None:
    # guards the table above: each case breaks exactly the one rule it names
    validate_image(Image(CONFIG, {0: VALID_CORE}))


def test_numpy_integers_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    image = Image(CONFIG, {0: CoreImage(program=[np.uint32(HALT)], weights=list(np.array([1, -1], dtype=np.int8)))})
    assert decode_image(encode_image(image)) == Image(CONFIG, {0: CoreImage(program=[HALT], weights=[1, -1])})


# --- no partial state ------------------------------------------------------------------------------------------


def test_save_of_an_invalid_image_leaves_the_file_untouched(tmp_path) -> None:
    existing = tmp_path / "keep.bin"
    existing.write_bytes(b"previous contents")
    bad = INVALID_IN_MEMORY["no HALT"][0]
    with pytest.raises(SpikeCoreError, match=r"keep\.bin: core 1 section: program has no HALT$"):
        save_image(bad, existing)
    assert existing.read_bytes() == b"previous contents"
    missing = tmp_path / "new.bin"
    with pytest.raises(SpikeCoreError):
        save_image(bad, missing)
    assert not missing.exists()


def test_a_bad_later_section_rejects_the_whole_image() -> None:
    # core 0 is fine, core 2 has no HALT: nothing of core 0 may come back (no partial image).
    data = MALFORMED["no HALT"][0]
    result = None
    with pytest.raises(SpikeCoreError):
        result = decode_image(data)
    assert result is None
    # and the decoder holds no state between calls: the same bytes fail the same way again
    assert rejected(data) == rejected(data)
