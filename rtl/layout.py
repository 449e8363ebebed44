"""Bit layouts of the SpikeCore RTL, derived from :mod:`spikecore.isa` (never retyped).

Every word the hardware stores or moves has a :mod:`amaranth.lib.data` layout here, built from the ISA
constants, so that the RTL, the configuration-bus driver and the trace decoder agree on every bit:

- :data:`INSTRUCTION` — the 32-bit instruction word; one flexible layout holding the opcode and every
  operand field of :data:`spikecore.isa.FIELDS` at its ISA bit position (fields of different opcodes
  overlap, as they do in the ISA). ``count`` holds ``count - COUNT.bias``.
- :data:`NEURON_PARAMS` — one row of the neuron parameter memory, bit-for-bit the 24-byte (version 2) neuron record
  of the binary image (docs/spec.md §7), so configuration word ``w`` of a neuron is bytes ``4w .. 4w+3``.
- :data:`FANOUT_ENTRY`, :data:`EVENT`, :data:`OUTQ_ENTRY` — fan-out table, input buffer, out-queue rows.
- :data:`CONFIG_ADDRESS` with :class:`ConfigSpace`, :class:`CoreStatus`, :class:`ArrayRegister` — the
  configuration bus address map (docs/spec.md §8).

>>> INSTRUCTION.size, NEURON_PARAMS.size
(32, 192)
>>> hex(config_address(3, ConfigSpace.WEIGHT, 17))
'0x310011'
"""

from __future__ import annotations

import enum as py_enum

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, enum
from amaranth.utils import bits_for

from spikecore import isa
from spikecore.errors import SpikeCoreError


def _instruction_layout() -> data.FlexibleLayout:
    fields = {"opcode": data.Field(unsigned(isa.OPCODE_BITS), isa.OPCODE_LSB)}
    for opcode_fields in isa.FIELDS.values():
        for field in opcode_fields:
            fields[field.name] = data.Field(unsigned(field.width), field.lsb)
    return data.FlexibleLayout(isa.WORD_BITS, fields)


#: The instruction word: ``opcode`` plus every operand field at its ISA position.
INSTRUCTION = _instruction_layout()

#: Width of a neuron index and of the (biased) count field; a count of 1 .. 256 needs one more bit.
NEURON_BITS = isa.NEURON.width
COUNT_BITS = bits_for(isa.COUNT.high)
#: Fan-out table index (``fanout_start``) and length (``fanout_count``): one byte each in the image.
FANOUT_INDEX_BITS = bits_for(isa.MAX_FANOUT_DEPTH - 1)
#: Trace record kinds need this many bits.
KIND_BITS = bits_for(max(isa.TraceKind))

#: One row of the neuron parameter memory, identical to the image's neuron record (little-endian).
NEURON_PARAMS = data.StructLayout({name: (signed if is_signed else unsigned)(bits)
                                   for name, (bits, is_signed) in isa.NEURON_WIDTHS.items()})
#: Configuration-bus words per neuron (the parameter row is written and read 32 bits at a time).
PARAM_WORDS = NEURON_PARAMS.size // isa.WORD_BITS
#: Bits of a PARAM index that select the word of a neuron: neuron ``n``'s word ``w`` is at index
#: ``n << PARAM_WORD_BITS | w`` (version 2: 6 words in a stride of 8; words 6 and 7 read 0, writes are ignored).
PARAM_WORD_BITS = bits_for(PARAM_WORDS - 1)
PARAM_STRIDE = 1 << PARAM_WORD_BITS

#: Bits of a board chip number (docs/spec.md §13: chips 0 .. MAX_CHIPS - 1).
CHIP_BITS = bits_for(isa.MAX_CHIPS - 1)

#: A fan-out table entry: destination core (or HOST_CORE), axon, and (version 2) the destination chip of a
#: board (0 on one chip, §13); the configuration word is ``core | axon << 8 | chip << 16``.
FANOUT_ENTRY = data.StructLayout({
    "core": unsigned(isa.CORE_ID_BITS),
    "axon": unsigned(isa.AXON_BITS),
    "chip": unsigned(CHIP_BITS),
})
#: An input buffer entry. Its payload is 24 bits (version 2) so that a partial sum (FIRE wide=1) travels whole.
EVENT = data.StructLayout({"axon": unsigned(isa.AXON_BITS), "payload": signed(isa.WIDE_PAYLOAD_BITS)})
#: One event on a chip-to-chip link (§13): the destination core on the receiving chip, axon and payload.
LINK_EVENT = data.StructLayout({
    "core": unsigned(isa.CORE_ID_BITS),
    "axon": unsigned(isa.AXON_BITS),
    "payload": signed(isa.WIDE_PAYLOAD_BITS),
})
#: An out-queue entry: a fan-out entry with the payload the spike carries (24 bits, as the input buffer's).
#: The chip field comes last, so the OUTQ configuration word (bits 31..0) is the same as on one chip.
OUTQ_ENTRY = data.StructLayout({
    "core": unsigned(isa.CORE_ID_BITS),
    "axon": unsigned(isa.AXON_BITS),
    "payload": signed(isa.WIDE_PAYLOAD_BITS),
    "chip": unsigned(CHIP_BITS),
})


def default_params_word() -> int:
    """The parameter row of a neuron the image does not list (threshold ACC_MAX, all else zero)."""
    defaults = isa.NeuronParams()
    return NEURON_PARAMS.const({name: getattr(defaults, name) for name in NEURON_PARAMS.members}).as_value().value


# --- configuration bus ---------------------------------------------------------------------------


class ConfigSpace(enum.Enum, shape=4):
    """Which storage of a core a configuration address names (docs/spec.md §8)."""

    IMEM = 0       # instruction words (read/write)
    WEIGHT = 1     # int8 weights, one per address, sign-extended on read (read/write)
    PARAM = 2      # neuron n, word w at index 8n + w: threshold, reset, init, decay|start<<16|count<<24,
                   # syn_decay|flags<<16, syn_init
    FANOUT = 3     # fan-out entries: core | axon << 8 | chip << 16 (read/write)
    MEMBRANE = 4   # membranes, int32 (read/write)
    EVENT = 5      # input buffer entries: axon | payload << 8 (24-bit payload; read only)
    OUTQ = 6       # out-queue entries: core | axon << 8 | payload bits 15..0 << 16 (read only)
    STATUS = 7     # counters, see CoreStatus (read only)
    PERIOD = 8     # index 0: the core's period_phase byte 16 (D - 1) + phase (read/write; v2, docs/spec.md §2)


class CoreStatus(py_enum.IntEnum):
    """Index of a core's STATUS registers."""

    EVENT_COUNT = 0   # events in the input buffer
    DROP_COUNT = 1    # events dropped since the last state reset (32-bit, wraps)
    SPIKE_COUNT = 2   # neurons fired since the last state reset (32-bit, wraps)
    OUTQ_COUNT = 3    # out-queue entries pushed in the current / last step
    # Event counters since the last state reset (32-bit, wrap); the golden model's counts (golden/counters.py)
    SYNOP_COUNT = 4          # ACC and SACC multiply-accumulates, MERGE adds
    NEURON_UPDATE_COUNT = 5  # neurons evaluated by FIRE or decayed by LEAK
    DELIVERY_COUNT = 6       # out-queue entries pushed, each delivered once by the router (by source core)


#: The event counters in the column order of ``spikecore.golden.counters.EVENT_KINDS`` (synaptic ops, neuron
#: updates, spikes, deliveries, drops): a host reads these to compare with the golden model's counts.
EVENT_COUNTERS = (CoreStatus.SYNOP_COUNT, CoreStatus.NEURON_UPDATE_COUNT, CoreStatus.SPIKE_COUNT,
                  CoreStatus.DELIVERY_COUNT, CoreStatus.DROP_COUNT)


class ArrayRegister(py_enum.IntEnum):
    """Index of the array registers, addressed with core = HOST_CORE (any space)."""

    MAGIC = 0          # the image magic "SPKC" as a little-endian u32
    VERSION = 1        # the image format version the RTL implements
    CORES = 2
    NEURONS = 3
    WEIGHT_BYTES = 4
    IMEM_DEPTH = 5
    EVENT_DEPTH = 6
    FANOUT_DEPTH = 7
    CYCLE_LO = 8       # array cycle counter, bits 31..0
    CYCLE_HI = 9       # array cycle counter, bits 63..32
    BUSY = 10          # 1 while a step or a state reset runs
    CHIPS = 11         # chips of the board (1 on one chip, docs/spec.md §13)
    CHIP = 12          # this chip's number on its board (0 on one chip)


#: The array's step counters ``s mod D`` for D = 1 .. PERIOD_MAX, 4 bits each, as one bus to every core.
STEP_MOD_BITS = 4 * isa.PERIOD_MAX

#: Index bits of a configuration address: enough for the largest memory (4096 words).
CONFIG_INDEX_BITS = 16

#: A configuration address: ``chip << 28 | core << 20 | space << 16 | index``; the chip field selects a board's
#: chip (§13) and is zero on one chip (the array ignores it).
CONFIG_ADDRESS = data.StructLayout({
    "index": unsigned(CONFIG_INDEX_BITS),
    "space": ConfigSpace,
    "core": unsigned(isa.CORE_ID_BITS),
    "chip": unsigned(isa.WORD_BITS - CONFIG_INDEX_BITS - 4 - isa.CORE_ID_BITS),
})


def config_address(core: int, space: ConfigSpace | int, index: int, chip: int = 0) -> int:
    """The 32-bit configuration address of word ``index`` in ``space`` of ``core`` (of board chip ``chip``)."""
    if not 0 <= chip < isa.MAX_CHIPS:
        raise SpikeCoreError(f"config address: chip must be 0..{isa.MAX_CHIPS - 1}, not {chip!r}")
    if not 0 <= core <= isa.HOST_CORE:
        raise SpikeCoreError(f"config address: core must be 0..{isa.HOST_CORE}, not {core!r}")
    if not 0 <= index < 1 << CONFIG_INDEX_BITS:
        raise SpikeCoreError(f"config address: index must be 0..{(1 << CONFIG_INDEX_BITS) - 1}, not {index!r}")
    space = ConfigSpace(space)
    return ((chip << CONFIG_ADDRESS["chip"].offset) | (core << CONFIG_ADDRESS["core"].offset)
            | (space.value << CONFIG_ADDRESS["space"].offset) | index)


#: The array registers' values that do not change (MAGIC, VERSION).
MAGIC_WORD = int.from_bytes(isa.IMAGE_MAGIC, "little")
