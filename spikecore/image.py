"""The SpikeCore binary image (docs/spec.md §7): an in-memory :class:`Image` and its byte format.

An image is what the host loads into the chip: a header carrying the :class:`ChipConfig`, one section per
core that has something to load, and a CRC-32 trailer. This module converts between bytes and
:class:`Image` and enforces every loader rule of §7 in one place, :func:`validate_image`, which both
directions share: an image that :func:`decode_image` would reject cannot be written by
:func:`encode_image` either.

Every rejection is one :class:`SpikeCoreError` line that starts with the input's name::

    prog.bin: core 3 section: program has no HALT
    prog.bin: CRC mismatch (stored 0x1234abcd, computed 0x89ab0123)

and no function here ever returns part of an image.
"""

from __future__ import annotations

import numbers
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from spikecore import isa, outputs
from spikecore.config import CONFIG_FIELDS, ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.isa import CoreImage, FanoutEntry, NeuronParams, Opcode
from spikecore.wording import plural


@dataclass
class Image:
    """A whole chip's (or board's) load: its config and the sections of the cores that have one.

    ``cores`` is keyed by the global core id ``chip * config.cores + core`` (docs/spec.md §13); on one chip
    that is the core id. Cores absent from ``cores`` run ``HALT`` and hold zeros and default neurons.
    """

    config: ChipConfig
    cores: dict[int, CoreImage] = field(default_factory=dict)

    def core(self, core_id: int) -> CoreImage:
        """The section of ``core_id``, or the default (empty) section when the image has none."""
        return self.cores.get(core_id) or CoreImage()

    def chip_of(self, core_id: int) -> tuple[int, int]:
        """``(chip, core)`` of a global core id."""
        return divmod(core_id, self.config.cores)

    def chip_sections(self, chip: int) -> dict[int, CoreImage]:
        """The sections of one chip of the board, keyed by their core id on that chip."""
        low = chip * self.config.cores
        return {core_id - low: core for core_id, core in self.cores.items() if low <= core_id < low + self.config.cores}


# --- byte layout (all little-endian; docs/spec.md §7) ----------------------------------------------

#: magic, version, flags, the six ChipConfig fields, number of core sections, chips (version 2; reserved 0 in
#: version 1), two reserved u16.
HEADER = struct.Struct("<4sHH6HH3H")
#: core, n_program, n_weights, n_neurons, n_fanout, chip u8 and period_phase u8 = 16 (period - 1) + phase
#: (version 2; the last u16 is reserved 0 in version 1).
SECTION_HEADER = struct.Struct("<5HBB")


def period_phase_byte(period: int, phase: int) -> int:
    """The section header's period_phase byte: ``16 (period - 1) + phase`` (0 for every step)."""
    return 16 * (period - 1) + phase
WORD = struct.Struct("<I")
#: The neuron record: the fields of :class:`~spikecore.isa.NeuronParams`, little-endian, at their widths
#: (``<iiiHBBHHi``: threshold, reset, init, decay, fanout_start, fanout_count, syn_decay, flags, syn_init;
#: 24 bytes). Version-1 images hold the first six fields only (:data:`NEURON_RECORD_V1`, 16 bytes).
_STRUCT_CODES = {(32, True): "i", (16, False): "H", (8, False): "B"}
NEURON_RECORD = struct.Struct("<" + "".join(_STRUCT_CODES[isa.NEURON_WIDTHS[name]] for name in isa.NEURON_FIELDS))
NEURON_RECORD_V1 = struct.Struct("<" + "".join(_STRUCT_CODES[isa.NEURON_WIDTHS[name]]
                                               for name in isa.NEURON_FIELDS_V1))


def neuron_record(version: int) -> struct.Struct:
    """The neuron record of image format ``version`` (1: 16 bytes, 2: 24 bytes)."""
    return NEURON_RECORD_V1 if version == 1 else NEURON_RECORD
#: The fan-out record: ``chip, core, axon, flags`` (version 2, 4 bytes); version 1 holds ``core, axon``.
FANOUT_RECORD = struct.Struct("<BBBB")
FANOUT_RECORD_V1 = struct.Struct("<BB")


def fanout_record(version: int) -> struct.Struct:
    """The fan-out record of image format ``version`` (1: 2 bytes, 2: 4 bytes)."""
    return FANOUT_RECORD_V1 if version == 1 else FANOUT_RECORD
TRAILER = struct.Struct("<I")


def section_size(n_program: int, n_weights: int, n_neurons: int, n_fanout: int,
                 version: int = isa.IMAGE_VERSION) -> int:
    """Bytes of a core section's body (after its 12-byte section header) in image format ``version``."""
    return (n_program * WORD.size + n_weights + n_neurons * neuron_record(version).size
            + n_fanout * fanout_record(version).size)


# --- validation -------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    """True for Python and numpy integers; False for bools (a bool weight is a bug, not a number)."""
    # type() first: the abstract-class check costs ~10x more and images hold thousands of ints.
    return type(value) is int or (isinstance(value, numbers.Integral) and not isinstance(value, bool))


def _check_int(value: object, low: int, high: int, what: str) -> None:
    if not _is_int(value):
        raise SpikeCoreError(f"{what} is {value!r}, not an integer")
    if not low <= value <= high:
        raise SpikeCoreError(f"{what} is {value}, must be {low}..{high}")


def _check_section_sizes(config: ChipConfig, n_program: int, n_weights: int, n_neurons: int, n_fanout: int) -> None:
    """A section may not hold more than the core's memories (shared by the byte reader and validate)."""
    for what, count, limit, limit_name in (
        ("program words", n_program, config.imem_depth, "imem_depth"),
        ("weights", n_weights, config.weight_bytes, "weight_bytes"),
        ("neuron records", n_neurons, config.neurons, "neurons"),
        ("fan-out entries", n_fanout, config.fanout_depth, "fanout_depth"),
    ):
        if count > limit:
            raise SpikeCoreError(f"{count} {what} exceed the core's {limit_name} of {limit}")


def executed_words(program: list[int]) -> list[int]:
    """The words a core runs each step: address 0 up to and including its first HALT."""
    return program[:program.index(isa.HALT_WORD) + 1] if isa.HALT_WORD in program else list(program)


def out_queue_bound(config: ChipConfig, core: CoreImage) -> int:
    """Most out-queue pushes the core's program can make in one step (docs/spec.md §1.2).

    Σ over the FIREs before the first HALT of Σ over their neurons of ``fanout_count``; a neuron the
    section does not list has no fan-out. ``core.program`` must already be valid.
    """
    counts = [params.fanout_count for params in core.neurons]
    total = 0
    for word in executed_words(core.program):
        instr = isa.decode(word)
        if instr.opcode == Opcode.FIRE:
            total += sum(counts[n] for n in instr.neurons if n < len(counts))
    return total


def check_instruction(config: ChipConfig, instr: isa.Instruction) -> None:
    """Raise if a decoded instruction names neurons or weights the core does not have."""
    if isa.NEURON in isa.FIELDS[instr.opcode] and instr.neuron + instr.count > config.neurons:
        raise SpikeCoreError(f"neurons {instr.neuron}..{instr.neuron + instr.count - 1} are outside the "
                             f"core's {config.neurons} neurons")
    if isa.WBASE in isa.FIELDS[instr.opcode] and instr.wbase >= config.weight_bytes:
        raise SpikeCoreError(f"wbase {instr.wbase} is outside the core's {config.weight_bytes} bytes of weight memory")


def _check_program(config: ChipConfig, program: list[int]) -> None:
    for address, word in enumerate(program):
        if not _is_int(word):
            raise SpikeCoreError(f"program word {address} is {word!r}, not an integer")
        try:
            instr = isa.decode(int(word))
        except SpikeCoreError as err:
            raise SpikeCoreError(f"program word {address}: {err}") from None
        try:
            check_instruction(config, instr)
        except SpikeCoreError as err:
            raise SpikeCoreError(f"program word {address} ({instr.opcode.name}): {err}") from None
    if isa.HALT_WORD not in program:
        raise SpikeCoreError("program has no HALT")


def _check_core(config: ChipConfig, core: CoreImage) -> None:
    """Raise the first §7 loader rule ``core`` breaks (the message does not name the core)."""
    if not isinstance(core, CoreImage):
        raise SpikeCoreError(f"is a {type(core).__name__}, not a CoreImage")
    for what in ("program", "weights", "neurons", "fanout"):
        if not isinstance(getattr(core, what), list):
            raise SpikeCoreError(f"{what} is a {type(getattr(core, what)).__name__}, not a list")
    _check_section_sizes(config, len(core.program), len(core.weights), len(core.neurons), len(core.fanout))
    _check_int(core.period, 1, isa.PERIOD_MAX, "period")
    _check_int(core.phase, 0, isa.PERIOD_MAX - 1, "phase")
    if core.phase >= core.period:
        raise SpikeCoreError(f"phase {core.phase} is not below the period {core.period}")
    _check_program(config, core.program)
    weights = core.weights
    # Fast path for the common case (plain ints in range: map/set/min/max run in C, ~10x faster than a check
    # per weight; the batched golden model validates its image per call); anything else gets the check per
    # weight, which names the first bad one.
    if not (set(map(type, weights)) <= {int} and (not weights or (min(weights) >= isa.WEIGHT_MIN
                                                                  and max(weights) <= isa.WEIGHT_MAX))):
        for address, weight in enumerate(weights):
            _check_int(weight, isa.WEIGHT_MIN, isa.WEIGHT_MAX, f"weight {address}")
    for index, entry in enumerate(core.fanout):
        if not isinstance(entry, FanoutEntry):
            raise SpikeCoreError(f"fan-out entry {index} is a {type(entry).__name__}, not a FanoutEntry")
        _check_int(entry.core, 0, isa.HOST_CORE, f"fan-out entry {index} core")
        if entry.core >= config.cores and entry.core != isa.HOST_CORE:
            raise SpikeCoreError(f"fan-out entry {index} names core {entry.core}, outside the chip "
                                 f"(cores 0..{config.cores - 1}, host {isa.HOST_CORE})")
        _check_int(entry.axon, 0, isa.AXON_MAX, f"fan-out entry {index} axon")
        _check_int(entry.chip, 0, 255, f"fan-out entry {index} chip")
        if entry.chip >= config.chips:
            raise SpikeCoreError(f"fan-out entry {index} names chip {entry.chip}, outside the board "
                                 f"(chips 0..{config.chips - 1})")
        if entry.core == isa.HOST_CORE and entry.chip != 0:
            raise SpikeCoreError(f"fan-out entry {index} names the host on chip {entry.chip}, must be chip 0 "
                                 "(every chip reaches the host directly)")
        _check_int(entry.flags, 0, 255, f"fan-out entry {index} flags")
        if entry.flags != 0:
            raise SpikeCoreError(f"fan-out entry {index} flags are 0x{entry.flags:02x}, must be 0 (reserved)")
    for index, params in enumerate(core.neurons):
        if not isinstance(params, NeuronParams):
            raise SpikeCoreError(f"neuron {index} is a {type(params).__name__}, not NeuronParams")
        for name in isa.NEURON_FIELDS:
            low, high = isa.NEURON_LIMITS[name]
            _check_int(getattr(params, name), low, high, f"neuron {index} {name}")
        if params.flags != 0:
            raise SpikeCoreError(f"neuron {index} flags are 0x{params.flags:04x}, must be 0 (reserved)")
        end = params.fanout_start + params.fanout_count
        if params.fanout_count and end > len(core.fanout):   # an empty range names no entry
            raise SpikeCoreError(f"neuron {index} fan-out range {params.fanout_start}..{end - 1} runs past the "
                                 f"{len(core.fanout)} entries of the fan-out table")
    pushes = out_queue_bound(config, core)
    if pushes > config.outq_depth:
        raise SpikeCoreError(f"FIREs could push {pushes} deliveries in one step, more than the out-queue's "
                             f"{config.outq_depth} (fanout_depth)")


def check_core(config: ChipConfig, core_id: int, core: CoreImage) -> None:
    """Raise ``SpikeCoreError("core N section: ...")`` if one core's section breaks a §7 rule.

    ``core_id`` is a global core id (§13); on a board the message names ``chip C core N``.
    """
    where = f"core {core_id}"
    try:
        if not _is_int(core_id) or not 0 <= core_id < config.board_cores:
            raise SpikeCoreError(f"names a core outside the chip (cores 0..{config.cores - 1})" if config.chips == 1
                                 else f"names a core outside the board ({config.board_cores} cores)")
        if config.chips > 1:
            where = "chip {} core {}".format(*divmod(core_id, config.cores))
        _check_core(config, core)
    except SpikeCoreError as err:
        raise SpikeCoreError(f"{where} section: {err}") from None


def validate_image(image: Image, name: str = "image") -> None:
    """Raise one ``SpikeCoreError`` line ``"<name>: <problem>"`` if ``image`` breaks any §7 loader rule.

    Shared by :func:`encode_image` and :func:`decode_image`, so the writer and the loader agree exactly.
    """
    try:
        if not isinstance(image, Image):
            raise SpikeCoreError(f"is a {type(image).__name__}, not an Image")
        if not isinstance(image.config, ChipConfig):
            raise SpikeCoreError(f"config is a {type(image.config).__name__}, not a ChipConfig")
        if not isinstance(image.cores, dict):
            raise SpikeCoreError(f"cores is a {type(image.cores).__name__}, not a dict")
        for core_id, core in image.cores.items():
            check_core(image.config, core_id, core)
    except SpikeCoreError as err:
        raise SpikeCoreError(f"{name}: {err}") from None


# --- writing ------------------------------------------------------------------------------------------


def _section_bytes(chip: int, core_id: int, core: CoreImage) -> Iterator[bytes]:
    yield SECTION_HEADER.pack(core_id, len(core.program), len(core.weights), len(core.neurons), len(core.fanout),
                              chip, period_phase_byte(core.period, core.phase))
    for word in core.program:
        yield WORD.pack(word)
    yield struct.pack(f"<{len(core.weights)}b", *core.weights)
    for p in core.neurons:
        yield NEURON_RECORD.pack(*(getattr(p, name) for name in isa.NEURON_FIELDS))
    for entry in core.fanout:
        yield FANOUT_RECORD.pack(entry.chip, entry.core, entry.axon, entry.flags)


def encode_image(image: Image, name: str = "image") -> bytes:
    """The bytes of ``image``; raises (naming ``name``) if it breaks any loader rule."""
    validate_image(image, name)
    config = image.config
    chunks = [HEADER.pack(isa.IMAGE_MAGIC, isa.IMAGE_VERSION, 0, *(getattr(config, f) for f in CONFIG_FIELDS),
                          len(image.cores), config.chips, 0, 0)]
    for core_id in sorted(image.cores):
        chunks.extend(_section_bytes(*divmod(core_id, config.cores), image.cores[core_id]))
    body = b"".join(chunks)
    return body + TRAILER.pack(zlib.crc32(body))


def save_image(image: Image, path: str | os.PathLike[str]) -> None:
    """Write ``image`` to ``path``. Validates first, so an invalid image leaves the file untouched."""
    data = encode_image(image, os.fspath(path))
    outputs.write_bytes(path, data)


# --- reading ------------------------------------------------------------------------------------------


class _Reader:
    """A cursor over the image bytes that reports truncation with the offset and what was being read."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self.offset = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def take(self, size: int, what: str) -> bytes:
        if size > self.remaining:
            raise SpikeCoreError(f"{self.name}: truncated: {what} needs {size} bytes at offset {self.offset}, "
                                 f"{self.remaining} remain")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk


def _read_core(chunk: bytes, n_program: int, n_weights: int, n_neurons: int, n_fanout: int,
               version: int) -> CoreImage:
    offset = 0

    def unpack(fmt: str) -> tuple[int, ...]:
        nonlocal offset
        values = struct.unpack_from(fmt, chunk, offset)
        offset += struct.calcsize(fmt)
        return values

    program = list(unpack(f"<{n_program}I"))
    weights = list(unpack(f"<{n_weights}b"))
    record = neuron_record(version).format   # a version-1 record leaves the version-2 fields at their defaults
    neurons = [NeuronParams(*unpack(record)) for _ in range(n_neurons)]
    if version == 1:
        fanout = [FanoutEntry(*unpack(FANOUT_RECORD_V1.format)) for _ in range(n_fanout)]
    else:
        fanout = []
        for _ in range(n_fanout):
            chip, core, axon, flags = unpack(FANOUT_RECORD.format)
            fanout.append(FanoutEntry(core, axon, chip, flags))
    return CoreImage(program=program, weights=weights, neurons=neurons, fanout=fanout)


def _read_config(header: tuple, chips: int, name: str) -> ChipConfig:
    try:
        return ChipConfig(**dict(zip(CONFIG_FIELDS, header, strict=True)), chips=chips)
    except SpikeCoreError as err:
        raise SpikeCoreError(f"{name}: {err}") from None


def decode_image(data: bytes, name: str = "image") -> Image:
    """The :class:`Image` held in ``data``; raises one ``"<name>: ..."`` line for anything §7 rejects.

    Checks run in the order a reader meets them: magic, header, each section's framing (order, core,
    size, bytes present), the trailer, the CRC, and finally every content rule (:func:`validate_image`),
    so a flipped bit in a section body is reported as a CRC mismatch rather than as whatever it decodes to.
    """
    data = bytes(data)
    if data[:len(isa.IMAGE_MAGIC)] != isa.IMAGE_MAGIC[:len(data)]:
        raise SpikeCoreError(f"{name}: not a SpikeCore image (magic {data[:len(isa.IMAGE_MAGIC)]!r}, "
                             f"expected {isa.IMAGE_MAGIC!r})")
    reader = _Reader(data, name)
    (_magic, version, flags, *config_values, n_sections, chips, r1, r2) = HEADER.unpack(reader.take(HEADER.size,
                                                                                                    "header"))
    if version not in isa.IMAGE_VERSIONS:
        raise SpikeCoreError(f"{name}: unsupported format version {version} (this loader reads versions "
                             f"{', '.join(map(str, isa.IMAGE_VERSIONS))})")
    if flags != 0:
        raise SpikeCoreError(f"{name}: header flags are 0x{flags:04x}, must be 0")
    if version == 1 and chips != 0:
        raise SpikeCoreError(f"{name}: header reserved fields are {chips}, {r1}, {r2}, must be 0")
    if (r1, r2) != (0, 0):
        raise SpikeCoreError(f"{name}: header reserved fields are {r1}, {r2}, must be 0")
    config = _read_config(tuple(config_values), chips if version >= 2 else 1, name)
    if n_sections > config.board_cores:
        raise SpikeCoreError(f"{name}: header lists {n_sections} core sections, the "
                             + (f"chip has {plural(config.cores, 'core')}" if config.chips == 1
                                else f"board has {config.board_cores} cores"))

    cores: dict[int, CoreImage] = {}
    previous = -1
    for index in range(n_sections):
        local, n_program, n_weights, n_neurons, n_fanout, chip, period_phase = SECTION_HEADER.unpack(
            reader.take(SECTION_HEADER.size, f"section {index} header"))
        if version == 1 and (chip, period_phase) != (0, 0):
            raise SpikeCoreError(f"{name}: core {local} section: reserved field is {chip + 256 * period_phase}, "
                                 "must be 0")
        period, phase = divmod(period_phase, 16)
        period += 1
        where = f"core {local}" if config.chips == 1 else f"chip {chip} core {local}"
        if chip >= config.chips:
            raise SpikeCoreError(f"{name}: section {index} names chip {chip}, outside the board "
                                 f"(chips 0..{config.chips - 1})")
        if local >= config.cores:
            raise SpikeCoreError(f"{name}: section {index} names core {local}, outside the chip "
                                 f"(cores 0..{config.cores - 1})")
        core_id = chip * config.cores + local
        if core_id == previous:
            raise SpikeCoreError(f"{name}: {where} has two sections")
        if core_id < previous:
            before = f"core {previous}" if config.chips == 1 else "chip {} core {}".format(
                *divmod(previous, config.cores))
            raise SpikeCoreError(f"{name}: {where} section follows {before} section "
                                 "(sections must be in ascending core order)")
        previous = core_id
        try:
            _check_section_sizes(config, n_program, n_weights, n_neurons, n_fanout)
        except SpikeCoreError as err:
            raise SpikeCoreError(f"{name}: {where} section: {err}") from None
        body = reader.take(section_size(n_program, n_weights, n_neurons, n_fanout, version),
                           f"{where} section")
        cores[core_id] = _read_core(body, n_program, n_weights, n_neurons, n_fanout, version)
        cores[core_id].period, cores[core_id].phase = period, phase

    covered = reader.offset
    (stored_crc,) = TRAILER.unpack(reader.take(TRAILER.size, "CRC trailer"))
    if reader.remaining:
        raise SpikeCoreError(f"{name}: trailing bytes after the CRC: {reader.remaining} at offset {reader.offset}")
    computed_crc = zlib.crc32(data[:covered])
    if stored_crc != computed_crc:
        raise SpikeCoreError(f"{name}: CRC mismatch (stored 0x{stored_crc:08x}, computed 0x{computed_crc:08x})")

    image = Image(config=config, cores=cores)
    validate_image(image, name)
    if version < 2:
        _check_version_1(image, name)
    return image


def _check_version_1(image: Image, name: str) -> None:
    """Refuse what version 2 introduced in a program (SACC, SYN, MERGE, FIRE wide=1) in a version-1 image
    (docs/spec.md §7.1)."""
    for core_id, core in sorted(image.cores.items()):
        for address, word in enumerate(core.program):
            instr = isa.decode(word)
            what = instr.opcode.name if instr.opcode in isa.V2_OPCODES else "FIRE wide=1" if instr.wide else None
            if what is not None:
                raise SpikeCoreError(f"{name}: core {core_id} section: program word {address}: {what} needs "
                                     "image format version 2")


def load_image(path: str | os.PathLike[str]) -> Image:
    """Read and decode the image file at ``path`` (errors name the file; OSError if it cannot be read)."""
    with open(path, "rb") as source:
        data = source.read()
    return decode_image(data, os.fspath(path))
