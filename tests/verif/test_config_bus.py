"""The one configuration-bus encoder (verif/config_bus.py) against docs/spec.md §8.3, worked out by hand."""

from __future__ import annotations

from spikecore.config import ChipConfig
from spikecore.image import Image
from spikecore.isa import CoreImage, FanoutEntry, NeuronParams
from spikecore.rtl.layout import ConfigSpace, config_address
from spikecore.verif import config_bus, sim_host
from spikecore.verif.config_bus import (
    core_memory_words,
    default_word,
    fanout_from_word,
    image_words,
    neuron_from_words,
    neuron_words,
    weight_from_word,
    weight_word,
)
from spikecore.verif.tb import driver


def test_weight_word_is_bits_7_to_0_with_zeros_above():
    # spec §8.3: "int8 weight in bits 7..0"; -1 = 0xff, -128 = 0x80, 127 = 0x7f
    assert [weight_word(w) for w in (-1, -128, 127, 0, 5)] == [0xFF, 0x80, 0x7F, 0, 5]
    # reads are sign-extended; either form decodes to the same weight
    assert [weight_from_word(w) for w in (0xFF, 0xFFFF_FFFF, 0x80, 0xFFFF_FF80, 0x7F)] == [-1, -1, -128, -128, 127]


def test_neuron_and_fanout_words_round_trip():
    params = NeuronParams(threshold=-7, reset=3, init=-1, decay=40000, fanout_start=200, fanout_count=17,
                          syn_decay=0x9000, syn_init=-2)
    # word 3 = decay | fanout_start << 16 | fanout_count << 24; word 4 = syn_decay | flags << 16; word 5 = syn_init
    assert neuron_words(params) == (0xFFFF_FFF9, 3, 0xFFFF_FFFF, 40000 | 200 << 16 | 17 << 24, 0x9000, 0xFFFF_FFFE)
    assert neuron_from_words(neuron_words(params)) == params
    assert fanout_from_word(0x0503) == FanoutEntry(3, 5)


def test_both_hosts_write_the_same_words():
    config = ChipConfig(cores=2, neurons=2, weight_bytes=4, imem_depth=2, event_depth=1, fanout_depth=1)
    core = CoreImage(weights=[-1, 2, -128], neurons=[NeuronParams(threshold=5)], fanout=[FanoutEntry(255, 1)])
    image = Image(config, {1: core})
    sparse = image_words(image)
    dense = core_memory_words(config, core)
    assert dense[ConfigSpace.WEIGHT] == [0xFF, 2, 0x80, 0]
    for space, words in dense.items():
        for index, word in enumerate(words):
            address = config_address(1, space, index)
            assert sparse.get(address, default_word(address)) == word
    # the cocotb driver and the Amaranth-simulator host use this module, not copies of it
    assert driver.image_words is config_bus.image_words
    assert sim_host.core_memory_words is config_bus.core_memory_words
