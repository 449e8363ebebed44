"""The formats and formulas every package shares, each defined once in the ground and checked against
values worked out by hand from docs/spec.md (never copied from the code under test)."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore import isa
from spikecore.compiler.quantize import symmetric_scale
from spikecore.config import CONFIG_FIELDS, ChipConfig, format_chip, parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.image import HEADER, NEURON_RECORD, NEURON_RECORD_V1


def test_halt_word_is_opcode_1_in_bits_31_to_28():
    # spec §4: opcode in bits 31..28, HALT = 1, no operands
    assert isa.HALT_WORD == 0x1000_0000
    assert isa.CoreImage().program == [0x1000_0000]


def test_neuron_record_bytes_by_hand():
    # spec §7: threshold i32, reset i32, init i32, decay u16, fanout_start u8, fanout_count u8, then (version 2)
    # syn_decay u16, flags u16, syn_init i32, little-endian
    params = isa.NeuronParams(threshold=-2, reset=0x01020304, init=5, decay=0xBEEF, fanout_start=7, fanout_count=255,
                              syn_decay=0x8001, syn_init=-256)
    v1 = bytes([0xFE, 0xFF, 0xFF, 0xFF, 0x04, 0x03, 0x02, 0x01, 0x05, 0, 0, 0, 0xEF, 0xBE, 0x07, 0xFF])
    expected = v1 + bytes([0x01, 0x80, 0, 0, 0x00, 0xFF, 0xFF, 0xFF])
    assert NEURON_RECORD.pack(*(getattr(params, name) for name in isa.NEURON_FIELDS)) == expected
    assert NEURON_RECORD.size == 24
    assert NEURON_RECORD_V1.pack(*(getattr(params, name) for name in isa.NEURON_FIELDS_V1)) == v1
    assert NEURON_RECORD_V1.size == 16
    assert isa.NEURON_FIELDS == ("threshold", "reset", "init", "decay", "fanout_start", "fanout_count",
                                 "syn_decay", "flags", "syn_init")


def test_neuron_limits_follow_the_record_widths():
    assert isa.NEURON_LIMITS == {
        "threshold": (-(2**31), 2**31 - 1), "reset": (-(2**31), 2**31 - 1), "init": (-(2**31), 2**31 - 1),
        "decay": (0, 65535), "fanout_start": (0, 255), "fanout_count": (0, 255),
        "syn_decay": (0, 65535), "flags": (0, 65535), "syn_init": (-(2**31), 2**31 - 1)}


def test_weight_address_wraps_modulo_weight_bytes():
    # spec §4.1: MAC j of an event on axon a reads (wbase + a * count + j) mod weight_bytes
    assert isa.weight_address(250, 1, 4, 3, 256) == 1            # 250 + 4 + 3 = 257
    assert isa.weight_address(0, 2, 3, 1, 16) == 7
    assert isa.weight_row(10, 3, 5) == 25
    axons = np.array([[0], [5], [9]])
    got = isa.weight_address(13, axons, 4, np.arange(4), 32)
    naive = [[(13 + a * 4 + j) % 32 for j in range(4)] for a in (0, 5, 9)]
    assert got.tolist() == naive


def test_round_shift_is_half_up_on_ints_and_arrays():
    # -1.5 -> -1, -1 -> -1, 1 -> 1, 1.5 -> 2, 2.5 -> 3 (half up, towards +inf)
    assert isa.round_shift(np.array([-3, -2, 2, 3, 5]), 1).tolist() == [-1, -1, 1, 2, 3]
    assert [isa.round_shift(v, 1) for v in (-3, -2, 2, 3, 5)] == [-1, -1, 1, 2, 3]
    assert isa.round_shift(np.array([7]), 0).tolist() == [7]
    # LEAK: v * decay / 2^16 half up; 1000 * 32768 / 65536 = 500; -3 * 32768 / 65536 = -1.5 -> -1
    assert isa.leak(np.array([1000, -3]), np.array([32768, 32768])).tolist() == [500, -1]


def test_chip_text_form_prints_and_parses_once():
    text = format_chip(ChipConfig(cores=4, neurons=8))
    assert text == "cores=4 neurons=8 weight_bytes=256 imem_depth=64 event_depth=64 fanout_depth=64"
    assert parse_chip(text) == ChipConfig(cores=4, neurons=8)
    assert parse_chip("cores=16, weight_bytes=0x200") == ChipConfig(cores=16, weight_bytes=512)
    assert parse_chip(None) == ChipConfig()
    assert CONFIG_FIELDS == ("cores", "neurons", "weight_bytes", "imem_depth", "event_depth", "fanout_depth")
    # the image header stores the same fields in the same order (spec §7: u16 x6 at offset 8)
    packed = HEADER.pack(b"SPKC", 1, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0)
    assert packed[8:20] == bytes([1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0])


@pytest.mark.parametrize(("text", "message"), [
    ("cores", "--chip: expected key=value with key one of cores, neurons, weight_bytes, imem_depth, event_depth, "
              "fanout_depth, chips, not 'cores'"),
    ("cores=2 cores=3", "--chip: cores given twice in 'cores=2 cores=3'"),
    ("cores=two", "--chip: cores must be an integer (ASCII decimal or 0x hex), not 'two'"),
    ("cores=1_0", "--chip: cores must be an integer (ASCII decimal or 0x hex), not '1_0'"),
    ("cores=1000", "--chip: chip config: cores must be an integer from 1 to 255, not 1000"),
])
def test_chip_text_errors(text, message):
    with pytest.raises(SpikeCoreError) as info:
        parse_chip(text)
    assert str(info.value) == message


def test_symmetric_scale_maps_the_largest_magnitude_to_127():
    assert symmetric_scale(254.0) == 2.0
    assert symmetric_scale(0.0) == 1.0
