"""The SpikeCore ISA: every number of the instruction set, defined once.

``docs/spec.md`` is the prose contract; this module is its executable table. The assembler, the
disassembler, the binary image writer and loader, the golden model, the RTL decoder, the trace port and
the scoreboard all import from here, so a field moved in this file moves everywhere at once.

An instruction is one 32-bit word. Its opcode is in bits 31..28; the other fields depend on the opcode
(:data:`FIELDS`)::

    >>> word = encode(Instruction(Opcode.ACC, neuron=0, count=4, wbase=16))
    >>> hex(word)
    '0x20003010'
    >>> decode(word).operands()
    {'neuron': 0, 'count': 4, 'wbase': 16}
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields

from spikecore.errors import SpikeCoreError

# --- word and number formats -------------------------------------------------------------------

WORD_BITS = 32
ACC_BITS = 32          # membrane / accumulator registers: signed, saturating
WEIGHT_BITS = 8        # weights: signed int8
PAYLOAD_BITS = 8       # spike payloads: signed int8 (binary spikes carry 1)
WIDE_PAYLOAD_BITS = 24  # version 2: a FIRE wide=1 payload (a partial sum), and every routed event's payload field
AXON_BITS = 8          # an event names one of 256 axons (weight rows) of its core
DECAY_FRAC_BITS = 16   # decay factor: unsigned Q0.16, 0 .. 65535/65536
SHIFT_BITS = 5         # FIRE's requantising right shift: 0 .. 31
CORE_ID_BITS = 8       # fan-out destination core; HOST_CORE is the host's output port

ACC_MIN, ACC_MAX = -(1 << (ACC_BITS - 1)), (1 << (ACC_BITS - 1)) - 1
WEIGHT_MIN, WEIGHT_MAX = -(1 << (WEIGHT_BITS - 1)), (1 << (WEIGHT_BITS - 1)) - 1
PAYLOAD_MIN, PAYLOAD_MAX = -(1 << (PAYLOAD_BITS - 1)), (1 << (PAYLOAD_BITS - 1)) - 1
WIDE_PAYLOAD_MIN, WIDE_PAYLOAD_MAX = -(1 << (WIDE_PAYLOAD_BITS - 1)), (1 << (WIDE_PAYLOAD_BITS - 1)) - 1
DECAY_MAX = (1 << DECAY_FRAC_BITS) - 1
SHIFT_MAX = (1 << SHIFT_BITS) - 1
AXON_MAX = (1 << AXON_BITS) - 1
BINARY_PAYLOAD = 1
HOST_CORE = (1 << CORE_ID_BITS) - 1

# --- configuration limits (what the field widths can address) -----------------------------------

MAX_CORES = HOST_CORE          # core ids 0..254; 255 names the host
MAX_NEURONS = 256              # neuron field is 8 bits, count is 1..256
MAX_WEIGHT_BYTES = 4096        # wbase field is 12 bits
MAX_IMEM_DEPTH = 4096
MAX_EVENT_DEPTH = 1024
MAX_FANOUT_DEPTH = 256         # fanout_start is 8 bits in the neuron parameters
MAX_CHIPS = 16                 # chips of a board (docs/spec.md §13); a fan-out entry's chip is a u8

# --- timing (docs/spec.md, "Timing") -------------------------------------------------------------

ISSUE_CYCLES = 1        # every instruction: fetch is overlapped, decode + address setup take one cycle
MAC_CYCLES = 1          # ACC: one (event, neuron) multiply-accumulate per cycle
NEURON_CYCLES = 1       # FIRE / LEAK: one neuron per cycle
FANOUT_CYCLES = 1       # FIRE: one out-queue push per fan-out entry of a neuron that fired
BARRIER_CYCLES = 1      # after the last core halts: input buffers cleared, router armed
DELIVERY_CYCLES = 1     # router: one delivery per cycle over the whole array

# --- board links (docs/spec.md §13) ----------------------------------------------------------------

LINK_LATENCY_CYCLES = 3  # an event pushed onto a link in cycle x can be taken by the destination in x + 3
LINK_QUEUE_DEPTH = 4     # events a link holds (queued and in flight); a router facing a full link stalls


class Opcode(enum.IntEnum):
    NOP = 0
    HALT = 1
    ACC = 2
    FIRE = 3
    LEAK = 4
    SACC = 5     # version 2: ACC into the synaptic currents (docs/spec.md §4.5)
    SYN = 6      # version 2: integrate the synaptic currents into the membranes, then decay them (§4.6)
    MERGE = 7    # version 2: add each buffered event's payload, unweighted, to the membrane its axon names (§4.7)


#: Opcodes that image format version 2 introduced (a version-1 image may not hold them).
V2_OPCODES = frozenset({Opcode.SACC, Opcode.SYN, Opcode.MERGE})


class ResetMode(enum.IntEnum):
    """What FIRE does to a membrane (docs/spec.md, "FIRE")."""

    NONE = 0     # never reset (readout / integrator neurons)
    VALUE = 1    # if fired: membrane := reset value
    SUB = 2      # if fired: membrane := membrane - threshold (saturating)
    ALWAYS = 3   # fired or not: membrane := reset value (stateless requantising ReLU)


class TraceKind(enum.IntEnum):
    """Trace record kinds, in the order records of one (cycle, core) are listed."""

    ACC = 0      # accumulator written: index = neuron, value = new membrane
    SPIKE = 1    # neuron fired: index = neuron, value = payload
    EVENT = 2    # routed event written to the input buffer: index = axon, value = payload
    DROP = 3     # routed event dropped, input buffer full: index = axon, value = payload
    OUT = 4      # spike delivered to the host: core = source core, index = axon, value = payload
    SYN = 5      # version 2: synaptic current written (SACC, SYN): index = neuron, value = new current
    LINK = 6     # board (§13): the router pushed core's out-queue entry onto a link: index = destination chip,
    #              value = the link's fill after the push
    LINK_FULL = 7  # board (§13): the router stalled, the link is full: index = destination chip, value = depth


OPCODE_BITS = 4
OPCODE_LSB = WORD_BITS - OPCODE_BITS


@dataclass(frozen=True)
class Field:
    """One instruction field: bits ``lsb .. lsb+width-1`` of the word.

    ``bias`` is subtracted before encoding (COUNT is stored as count-1 so that 1..256 fits 8 bits).
    """

    name: str
    lsb: int
    width: int
    bias: int = 0

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @property
    def low(self) -> int:
        return self.bias

    @property
    def high(self) -> int:
        return self.mask + self.bias


NEURON = Field("neuron", 20, 8)
COUNT = Field("count", 12, 8, bias=1)
WBASE = Field("wbase", 0, 12)
SHIFT = Field("shift", 7, SHIFT_BITS)
RESET = Field("reset", 5, 2)
GRADED = Field("graded", 4, 1)
WIDE = Field("wide", 3, 1)       # version 2: FIRE's graded payload saturates to 24 bits, not 8 (§4.2, §4.8)

#: The operand fields of every opcode; every bit outside opcode and these fields is reserved (zero).
FIELDS: dict[Opcode, tuple[Field, ...]] = {
    Opcode.NOP: (),
    Opcode.HALT: (),
    Opcode.ACC: (NEURON, COUNT, WBASE),
    Opcode.FIRE: (NEURON, COUNT, SHIFT, RESET, GRADED, WIDE),
    Opcode.LEAK: (NEURON, COUNT),
    Opcode.SACC: (NEURON, COUNT, WBASE),
    Opcode.SYN: (NEURON, COUNT),
    Opcode.MERGE: (NEURON, COUNT),
}


def reserved_mask(opcode: Opcode) -> int:
    used = ((1 << OPCODE_BITS) - 1) << OPCODE_LSB
    for f in FIELDS[opcode]:
        used |= f.mask << f.lsb
    return ((1 << WORD_BITS) - 1) & ~used


@dataclass(frozen=True)
class Instruction:
    """A decoded instruction. Fields an opcode does not use keep their defaults."""

    opcode: Opcode
    neuron: int = 0
    count: int = 1
    wbase: int = 0
    shift: int = 0
    reset: ResetMode = ResetMode.NONE
    graded: bool = False
    wide: bool = False

    def operands(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in FIELDS[self.opcode]}

    @property
    def neurons(self) -> range:
        return range(self.neuron, self.neuron + self.count)


def encode(instr: Instruction) -> int:
    """The 32-bit word of ``instr``; a field out of range raises :class:`SpikeCoreError`."""
    word = int(instr.opcode) << OPCODE_LSB
    if instr.opcode == Opcode.FIRE and instr.wide and not instr.graded:
        raise SpikeCoreError("FIRE: wide=1 needs graded=1 (a wide payload is a graded payload, docs/spec.md §4.2)")
    for f in FIELDS[instr.opcode]:
        value = int(getattr(instr, f.name))
        if not f.low <= value <= f.high:
            raise SpikeCoreError(f"{instr.opcode.name}: {f.name} must be {f.low}..{f.high}, not {value}")
        word |= (value - f.bias) << f.lsb
    return word


def decode(word: int) -> Instruction:
    """The instruction of a 32-bit word; an unknown opcode or a set reserved bit raises."""
    if not 0 <= word < 1 << WORD_BITS:
        raise SpikeCoreError(f"instruction word must be 0..0xffffffff, not {word!r}")
    raw_op = word >> OPCODE_LSB
    try:
        opcode = Opcode(raw_op)
    except ValueError:
        raise SpikeCoreError(f"instruction 0x{word:08x}: unknown opcode {raw_op}") from None
    if word & reserved_mask(opcode):
        raise SpikeCoreError(f"instruction 0x{word:08x}: {opcode.name} has reserved bits set")
    values = {f.name: ((word >> f.lsb) & f.mask) + f.bias for f in FIELDS[opcode]}
    if "reset" in values:
        values["reset"] = ResetMode(values["reset"])
    for flag in ("graded", "wide"):
        if flag in values:
            values[flag] = bool(values[flag])
    if values.get("wide") and not values["graded"]:
        raise SpikeCoreError(f"instruction 0x{word:08x}: FIRE wide=1 needs graded=1")
    return Instruction(opcode, **values)


#: The word of HALT: it has no operands, so exactly one word encodes it. Instruction memories power up full of it.
HALT_WORD = encode(Instruction(Opcode.HALT))


# --- integer semantics shared by the golden model and the compiler's integer reference ---------


def saturate(value: int, bits: int) -> int:
    """Clamp ``value`` to the signed ``bits``-bit range."""
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return low if value < low else high if value > high else value


def round_shift(value, shift: int):
    """``value / 2**shift`` rounded half up (towards +inf), computed exactly on wide integers.

    ``value`` is an ``int`` or an integer numpy array (elementwise; int64 holds every product the chip forms).
    """
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def weight_row(wbase, axon, count):
    """First weight address of ``axon``'s row in an ACC's weight block, before wrapping: ``wbase + axon * count``.

    The block of ``ACC neuron, count, wbase`` is row-major, one row of ``count`` weights per axon (docs/spec.md
    §4.1). Works on ints, numpy arrays (broadcast) and Amaranth values (whose adder width does the wrapping).
    """
    return wbase + axon * count


def weight_address(wbase, axon, count, j, weight_bytes: int):
    """The weight byte that MAC ``j`` of ``ACC .., count, wbase`` reads for an event on ``axon``:
    ``(wbase + axon * count + j) mod weight_bytes`` (docs/spec.md §4.1). Ints or numpy arrays (broadcast).

    A compiler block laid out at ``wbase = 0`` as a ``(rows, count)`` array is this address for every axon < rows.
    """
    return (weight_row(wbase, axon, count) + j) % weight_bytes


def graded_payload(membrane: int, shift: int) -> int:
    """The payload FIRE emits in graded mode: the rounded shift, saturated to int8."""
    return saturate(round_shift(membrane, shift), PAYLOAD_BITS)


def wide_payload(membrane: int, shift: int) -> int:
    """The payload FIRE emits with ``wide=1`` (a partial sum, docs/spec.md §4.2): the rounded shift, saturated to
    24 bits (:data:`WIDE_PAYLOAD_BITS`)."""
    return saturate(round_shift(membrane, shift), WIDE_PAYLOAD_BITS)


def leak(membrane, decay):
    """LEAK of a membrane: ``membrane * decay / 2**16`` rounded half up. Never overflows.

    Scalars or int64 numpy arrays (elementwise): ``|membrane * decay| < 2**47``.
    """
    return round_shift(membrane * decay, DECAY_FRAC_BITS)


# --- binary image ---------------------------------------------------------------------------------

IMAGE_MAGIC = b"SPKC"
IMAGE_VERSION = 2                 # the version the writer writes and the RTL reports
PERIOD_MAX = 16                   # a core's schedule period D is 1 .. 16 (docs/spec.md §2, §7)
IMAGE_VERSIONS = (1, 2)           # the versions the loader reads (docs/spec.md §7.1)


def _record_field(default: int, bits: int, signed: bool):
    return field(default=default, metadata={"bits": bits, "signed": signed})


@dataclass(frozen=True)
class NeuronParams:
    """Per-neuron parameters held in a core's parameter memory (docs/spec.md, "Core resources").

    This class is the one definition of the neuron record (docs/spec.md §7): its fields in order, each with
    its width in bits and signedness (the field's ``metadata``). :data:`NEURON_FIELDS`, :data:`NEURON_WIDTHS`
    and :data:`NEURON_LIMITS` derive from it, and from those the image's 24-byte (version 2) record
    (``spikecore.image.NEURON_RECORD``), the golden model's per-neuron arrays and the RTL's parameter row
    (``spikecore.rtl.layout.NEURON_PARAMS``).
    """

    threshold: int = _record_field(ACC_MAX, ACC_BITS, True)
    reset: int = _record_field(0, ACC_BITS, True)
    init: int = _record_field(0, ACC_BITS, True)
    decay: int = _record_field(0, DECAY_FRAC_BITS, False)      # Q0.16
    fanout_start: int = _record_field(0, 8, False)             # index into the fan-out table
    fanout_count: int = _record_field(0, 8, False)
    # Version 2 (CubaLIF, docs/spec.md §4.5-§4.6): the synaptic current's Q0.16 decay, reserved flags (0)
    # and the current after a state reset. A version-1 record loads with these defaults.
    syn_decay: int = _record_field(0, DECAY_FRAC_BITS, False)
    flags: int = _record_field(0, 16, False)
    syn_init: int = _record_field(0, ACC_BITS, True)


#: NeuronParams fields in neuron-record order.
NEURON_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(NeuronParams))
#: The fields of a version-1 neuron record (16 bytes): the first six.
NEURON_FIELDS_V1: tuple[str, ...] = NEURON_FIELDS[:6]
#: Each neuron-record field's (width in bits, signed).
NEURON_WIDTHS: dict[str, tuple[int, bool]] = {f.name: (f.metadata["bits"], f.metadata["signed"])
                                              for f in fields(NeuronParams)}
#: The range of values each neuron-record field holds, from its width.
NEURON_LIMITS: dict[str, tuple[int, int]] = {
    name: ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if is_signed else (0, (1 << bits) - 1))
    for name, (bits, is_signed) in NEURON_WIDTHS.items()
}


@dataclass(frozen=True)
class FanoutEntry:
    """One destination of a spike: ``core`` (or ``HOST_CORE``) of ``chip``, and the axon it arrives on.

    ``chip`` (version 2, a board's chip 0 .. chips-1; 0 for the host) and ``flags`` (reserved, 0) are the
    version-2 fan-out record's other bytes (docs/spec.md §7, §13); a version-1 entry loads with both 0.
    """

    core: int
    axon: int
    chip: int = 0
    flags: int = 0

    @property
    def to_host(self) -> bool:
        return self.core == HOST_CORE


@dataclass
class CoreImage:
    """Everything loaded into one core: program words, weights, neuron parameters, fan-out table."""

    program: list[int] = field(default_factory=lambda: [HALT_WORD])
    weights: list[int] = field(default_factory=list)
    neurons: list[NeuronParams] = field(default_factory=list)
    fanout: list[FanoutEntry] = field(default_factory=list)
    #: (v2, docs/spec.md §2) the core runs its program only in chip steps ``s`` with ``s % period == phase``;
    #: ``period = 1, phase = 0`` is every step.
    period: int = 1
    phase: int = 0
