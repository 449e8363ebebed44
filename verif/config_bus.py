"""The configuration-bus words of an image (docs/spec.md §8.3): the one encoder and decoder every host of
the chip uses (the cocotb driver :mod:`spikecore.verif.tb.driver` and the Amaranth-simulator host
:mod:`spikecore.verif.sim_host`).

A word per space, as the spec's table gives it:

- ``IMEM``: the instruction word;
- ``WEIGHT``: the int8 weight in bits 7..0 and zeros above (:func:`weight_word`; reads come back
  sign-extended, :func:`weight_from_word` accepts either);
- ``PARAM``: neuron ``n``'s 24-byte image record as six little-endian u32 words at ``8n .. 8n+5``
  (:func:`neuron_words`);
- ``FANOUT``: ``core | axon << 8 | chip << 16`` (:func:`fanout_word`).

>>> hex(weight_word(-1)), weight_from_word(0xFF), weight_from_word(0xFFFF_FFFF)
('0xff', -1, -1)
"""

from __future__ import annotations

import struct

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import NEURON_RECORD, Image, period_phase_byte
from spikecore.rtl.layout import PARAM_STRIDE, PARAM_WORDS, ConfigSpace, config_address
from spikecore.signature import MASK32

_WEIGHT_MASK = (1 << isa.WEIGHT_BITS) - 1


def signed(value: int, bits: int) -> int:
    """The low ``bits`` of ``value`` read as a two's-complement number."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def weight_word(weight: int) -> int:
    """The WEIGHT word of an int8 weight: the weight in bits 7..0, zeros above (docs/spec.md §8.3)."""
    return weight & _WEIGHT_MASK


def weight_from_word(word: int) -> int:
    """The int8 weight a WEIGHT word holds (bits 7..0; the upper bits, zero or a sign extension, are ignored)."""
    return signed(word, isa.WEIGHT_BITS)


def fanout_word(entry: isa.FanoutEntry) -> int:
    """The FANOUT word of a fan-out entry: ``core | axon << 8 | chip << 16`` (chip 0 on one chip, §13)."""
    return entry.core | entry.axon << 8 | entry.chip << 16


def fanout_from_word(word: int) -> isa.FanoutEntry:
    return isa.FanoutEntry(word & 0xFF, (word >> 8) & 0xFF, (word >> 16) & 0xF)


def neuron_words(params: isa.NeuronParams) -> tuple[int, ...]:
    """The PARAM words of one neuron: its 24-byte (version 2) image record read as little-endian u32s."""
    record = NEURON_RECORD.pack(*(getattr(params, name) for name in isa.NEURON_FIELDS))
    return struct.unpack(f"<{PARAM_WORDS}I", record)


def neuron_from_words(words: list[int] | tuple[int, ...]) -> isa.NeuronParams:
    """The neuron whose PARAM words are ``words`` (the inverse of :func:`neuron_words`)."""
    record = struct.pack(f"<{PARAM_WORDS}I", *(w & MASK32 for w in words))
    return isa.NeuronParams(*NEURON_RECORD.unpack(record))


def core_memory_words(config: ChipConfig, core: isa.CoreImage) -> dict[ConfigSpace, list[int]]:
    """Every configuration word of one core's memories for ``core``'s section, defaults included.

    IMEM past the program holds HALT (the reset contents); weights past those listed are 0, neurons
    past those listed take :class:`~spikecore.isa.NeuronParams` defaults, fan-out entries are 0.
    Raises :class:`SpikeCoreError` if a list is longer than the core's memory.
    """
    program = list(core.program) + [isa.HALT_WORD] * (config.imem_depth - len(core.program))
    weights = [weight_word(w) for w in core.weights] + [0] * (config.weight_bytes - len(core.weights))
    neurons = list(core.neurons) + [isa.NeuronParams()] * (config.neurons - len(core.neurons))
    padding = [0] * (PARAM_STRIDE - PARAM_WORDS)   # words PARAM_WORDS .. PARAM_STRIDE-1 of a neuron: unused
    params = [word for neuron in neurons for word in (*neuron_words(neuron), *padding)]
    fanout = [fanout_word(entry) for entry in core.fanout]
    fanout += [0] * (config.fanout_depth - len(core.fanout))
    for name, words, depth in (("program", program, config.imem_depth), ("weights", weights, config.weight_bytes),
                               ("neurons", neurons, config.neurons), ("fanout", fanout, config.fanout_depth)):
        if len(words) > depth:
            raise SpikeCoreError(f"image: {name} has {len(words)} entries, the core holds {depth}")
    return {ConfigSpace.IMEM: program, ConfigSpace.WEIGHT: weights, ConfigSpace.PARAM: params,
            ConfigSpace.FANOUT: fanout, ConfigSpace.PERIOD: [period_phase_byte(core.period, core.phase)]}


def image_words(image: Image) -> dict[int, int]:
    """Every configuration word ``image`` lists, by address; words it leaves out hold their defaults."""
    words: dict[int, int] = {}
    for core, section in image.cores.items():
        for index, word in enumerate(section.program):
            words[config_address(core, ConfigSpace.IMEM, index)] = word
        for index, weight in enumerate(section.weights):
            words[config_address(core, ConfigSpace.WEIGHT, index)] = weight_word(weight)
        for n, params in enumerate(section.neurons):
            for w, word in enumerate(neuron_words(params)):
                words[config_address(core, ConfigSpace.PARAM, n * PARAM_STRIDE + w)] = word
        for index, entry in enumerate(section.fanout):
            words[config_address(core, ConfigSpace.FANOUT, index)] = fanout_word(entry)
        words[config_address(core, ConfigSpace.PERIOD, 0)] = period_phase_byte(section.period, section.phase)
    return words


def default_word(address: int) -> int:
    """The word an address holds after power-on (instruction memory: HALT; parameters: the default neuron)."""
    space = ConfigSpace((address >> 16) & 0xF)
    index = address & 0xFFFF
    if space == ConfigSpace.IMEM:
        return isa.HALT_WORD
    if space == ConfigSpace.PARAM:
        word = index % PARAM_STRIDE
        return neuron_words(isa.NeuronParams())[word] if word < PARAM_WORDS else 0
    return 0
