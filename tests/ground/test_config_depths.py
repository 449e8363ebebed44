"""Event buffer and fan-out table sizes that follow the weight memory (docs/spec.md §1.1): the defaults written
by hand from the spec's rule, explicit sizes, the chip text form and the image header."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikecore import isa
from spikecore.config import ChipConfig, format_chip, parse_chip
from spikecore.errors import SpikeCoreError
from spikecore.image import Image, decode_image, encode_image

# §1.1: 64 entries per 256 weight bytes, never fewer than 64, at most 1024 events and 256 fan-out entries.
# (weight_bytes, event_depth, fanout_depth) worked out by hand from that rule.
BY_HAND = [(1, 64, 64), (16, 64, 64), (128, 64, 64), (256, 64, 64), (512, 128, 128), (1024, 256, 256),
           (2048, 512, 256), (4096, 1024, 256)]


@pytest.mark.parametrize(("weight_bytes", "events", "entries"), BY_HAND)
def test_default_depths_grow_with_the_weight_memory(weight_bytes, events, entries):
    config = ChipConfig(weight_bytes=weight_bytes)
    assert (config.event_depth, config.fanout_depth) == (events, entries)
    assert config.outq_depth == entries
    assert parse_chip(f"cores=4 weight_bytes={weight_bytes}") == ChipConfig(
        cores=4, weight_bytes=weight_bytes, event_depth=events, fanout_depth=entries)


def test_the_product_chip_keeps_64_entry_buffers():
    assert (ChipConfig().event_depth, ChipConfig().fanout_depth) == (64, 64)
    assert ChipConfig() == ChipConfig(event_depth=64, fanout_depth=64) == parse_chip(None)


def test_an_explicit_depth_wins_over_the_derived_one():
    config = ChipConfig(weight_bytes=4096, event_depth=64)
    assert (config.event_depth, config.fanout_depth) == (64, 256)
    assert ChipConfig(weight_bytes=4096, fanout_depth=32).fanout_depth == 32
    assert ChipConfig(weight_bytes=16, event_depth=1024, fanout_depth=256).event_depth == 1024
    assert parse_chip("weight_bytes=4096 event_depth=64 fanout_depth=64").as_dict() == {
        "cores": 128, "neurons": 32, "weight_bytes": 4096, "imem_depth": 64, "event_depth": 64, "fanout_depth": 64}


def test_a_chip_given_its_derived_depths_is_the_same_chip():
    derived, explicit = ChipConfig(weight_bytes=4096), ChipConfig(weight_bytes=4096, event_depth=1024, fanout_depth=256)
    assert derived == explicit and hash(derived) == hash(explicit) and len({derived, explicit}) == 1
    assert derived != ChipConfig(weight_bytes=4096, event_depth=512)


def test_explicit_depths_are_still_checked_against_the_limits():
    with pytest.raises(SpikeCoreError, match=r"^chip config: event_depth must be an integer from 1 to 1024, not 2048$"):
        ChipConfig(weight_bytes=4096, event_depth=2048)
    with pytest.raises(SpikeCoreError, match=r"^--chip: chip config: fanout_depth must be an integer from 1 to 256, "
                                             r"not 512$"):
        parse_chip("weight_bytes=4096 fanout_depth=512")
    # a bad weight_bytes is named as such, not as a depth derived from it
    limit = r"^chip config: weight_bytes must be an integer from 1 to 4096, not "
    with pytest.raises(SpikeCoreError, match=limit + "8192$"):
        ChipConfig(weight_bytes=8192)
    with pytest.raises(SpikeCoreError, match=limit + "'4'$"):
        ChipConfig(weight_bytes="4")


def test_text_form_names_only_the_depths_a_user_must_pass():
    assert format_chip(ChipConfig(weight_bytes=4096), changed_only=True) == "weight_bytes=4096"
    assert format_chip(ChipConfig(weight_bytes=4096, chips=4), changed_only=True) == "weight_bytes=4096 chips=4"
    assert (format_chip(ChipConfig(weight_bytes=4096, event_depth=64, fanout_depth=64), changed_only=True)
            == "weight_bytes=4096 event_depth=64 fanout_depth=64")
    assert format_chip(ChipConfig(weight_bytes=512, event_depth=64), True) == "weight_bytes=512 event_depth=64"
    # the full form names every size, derived or not
    assert format_chip(ChipConfig(cores=2, weight_bytes=2048)) == ("cores=2 neurons=32 weight_bytes=2048 imem_depth=64 "
                                                                   "event_depth=512 fanout_depth=256")
    # against: a hint that grew a user's chip names the sizes it changed, even where they are the derived ones
    user = ChipConfig(weight_bytes=4096, event_depth=64, fanout_depth=64)
    assert (format_chip(ChipConfig(weight_bytes=4096, event_depth=1024, fanout_depth=64), True, against=user)
            == "weight_bytes=4096 event_depth=1024 fanout_depth=64")
    assert format_chip(ChipConfig(weight_bytes=4096), True, against=user) == ("weight_bytes=4096 event_depth=1024 "
                                                                              "fanout_depth=256")


@st.composite
def chips(draw: st.DrawFn) -> ChipConfig:
    optional = {key: draw(st.none() | st.integers(1, most)) for key, most in
                (("event_depth", isa.MAX_EVENT_DEPTH), ("fanout_depth", isa.MAX_FANOUT_DEPTH))}
    return ChipConfig(cores=draw(st.integers(1, isa.MAX_CORES)), neurons=1 << draw(st.integers(0, 8)),
                      weight_bytes=1 << draw(st.integers(0, 12)), imem_depth=draw(st.integers(2, 4096)),
                      chips=draw(st.integers(1, isa.MAX_CHIPS)), **optional)


@given(chips())
def test_text_form_round_trip(config: ChipConfig):
    assert parse_chip(format_chip(config, changed_only=True)) == config
    assert parse_chip(format_chip(config)) == config


@pytest.mark.parametrize("events", [None, 64])
def test_image_of_a_4096_byte_chip_round_trips_with_its_depths_in_the_header(events):
    config = ChipConfig(cores=2, weight_bytes=4096, event_depth=events)
    core = isa.CoreImage(program=[isa.HALT_WORD], weights=[1] * 4096)
    data = encode_image(Image(config, {1: core}))
    # §7: magic, version u16, flags u16, then cores, neurons, weight_bytes, imem_depth, event_depth, fanout_depth
    expected = (2, 32, 4096, 64, 1024 if events is None else 64, 256)
    assert struct.unpack_from("<6H", data, 8) == expected
    back = decode_image(data)
    assert back.config == config and back.cores[1].weights == [1] * 4096
    assert (back.config.event_depth, back.config.fanout_depth) == expected[4:]
    assert encode_image(back) == data


def test_product_chip_image_header_is_unchanged():
    # the product chip's header as §7 lays it out: 128 cores, 32 neurons, 256 B, 64 words, 64 events, 64 entries
    data = encode_image(Image(ChipConfig()))
    assert data[:28] == bytes.fromhex("53504b43" "0200" "0000" "8000" "2000" "0001" "4000" "4000" "4000"
                                      "0000" "0100" "00000000")
