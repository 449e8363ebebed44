"""The chip's size parameters, validated once and shared by every package.

A :class:`ChipConfig` is carried inside every binary image (its header), used to elaborate the RTL
and to size the golden model, so a program, a simulator and a netlist can always be checked to agree.
The defaults are the product configuration: 128 cores with 256 bytes of int8 weights each. The event buffer
and fan-out table grow with the weight memory unless given (:func:`default_depths`, docs/spec.md §1.1).

>>> ChipConfig(cores=4).cores
4
>>> ChipConfig(weight_bytes=4096).event_depth, ChipConfig(weight_bytes=4096).fanout_depth
(1024, 256)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace

from spikecore import isa
from spikecore.errors import SpikeCoreError


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


#: The product core's weight bytes and its event buffer and fan-out table entries: the ratio the defaults keep.
_BASE_WEIGHT_BYTES, _BASE_DEPTH = 256, 64


def default_depths(weight_bytes: int) -> tuple[int, int]:
    """``(event_depth, fanout_depth)`` of a core with ``weight_bytes`` of weight memory when not given
    (docs/spec.md §1.1): 64 entries per 256 weight bytes, never fewer than 64, at most ``isa.MAX_EVENT_DEPTH``
    and ``isa.MAX_FANOUT_DEPTH``.

    A core reads at most ``event_depth`` sources per step, so with the product's 64 entries a larger weight
    memory could only hold ``64 x neurons`` synapses; a larger core is larger in all its per-core memories.

    >>> default_depths(256), default_depths(16), default_depths(1024), default_depths(4096)
    ((64, 64), (64, 64), (256, 256), (1024, 256))
    """
    scaled = max(_BASE_DEPTH, _BASE_DEPTH * weight_bytes // _BASE_WEIGHT_BYTES)
    return min(scaled, isa.MAX_EVENT_DEPTH), min(scaled, isa.MAX_FANOUT_DEPTH)


@dataclass(frozen=True)
class ChipConfig:
    """Sizes of one SpikeCore chip.

    Parameters
    ----------
    cores:
        Number of neuron cores in the array (1 to ``isa.MAX_CORES``).
    neurons:
        Neurons (int32 membrane/accumulator registers) per core, a power of two.
    weight_bytes:
        Bytes of int8 weight memory per core, a power of two; ACC addresses wrap modulo this size.
    imem_depth:
        Instruction words per core.
    event_depth:
        Entries of each core's input event buffer; events beyond it are dropped (``DROP`` record). Not given
        (``None``): :func:`default_depths` of ``weight_bytes`` (64 on the product chip).
    fanout_depth:
        Entries of each core's fan-out table; also the depth of its out-queue. Not given (``None``):
        :func:`default_depths` of ``weight_bytes`` (64 on the product chip). The config holds the resolved
        depth, so ``dataclasses.replace(config, weight_bytes=...)`` keeps the old depths; build a new
        ``ChipConfig`` (or :func:`parse_chip` a text) to derive them again.
    chips:
        Chips of the board (1 to ``isa.MAX_CHIPS``; docs/spec.md §13). Every chip has the sizes above, so a
        board has ``chips * cores`` cores. The single-chip models (golden ``CycleChip``, the RTL array) take
        ``chips = 1``; the board model (``spikecore.golden.board``) takes any.
    """

    cores: int = 128
    neurons: int = 32
    weight_bytes: int = 256
    imem_depth: int = 64
    event_depth: int | None = None
    fanout_depth: int | None = None
    chips: int = 1

    def __post_init__(self) -> None:
        # The depths not given follow the weight memory; the config keeps only the resolved sizes, so a chip
        # given its derived depths explicitly is the same chip (equal, same hash, same image header).
        # ``dataclasses.replace`` passes the resolved depths on, so it keeps them when it changes weight_bytes.
        wb = self.weight_bytes
        derived = default_depths(wb) if isinstance(wb, int) and not isinstance(wb, bool) and wb > 0 else (64, 64)
        for name, value in zip(("event_depth", "fanout_depth"), derived, strict=True):
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        limits = {
            "cores": (1, isa.MAX_CORES),
            "neurons": (1, isa.MAX_NEURONS),
            "weight_bytes": (1, isa.MAX_WEIGHT_BYTES),
            "imem_depth": (2, isa.MAX_IMEM_DEPTH),
            "event_depth": (1, isa.MAX_EVENT_DEPTH),
            "fanout_depth": (1, isa.MAX_FANOUT_DEPTH),
            "chips": (1, isa.MAX_CHIPS),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise SpikeCoreError(f"chip config: {name} must be an integer from {low} to {high}, not {value!r}")
        for name in ("neurons", "weight_bytes"):
            if not _is_power_of_two(getattr(self, name)):
                raise SpikeCoreError(f"chip config: {name} must be a power of two, not {getattr(self, name)!r}")

    @property
    def outq_depth(self) -> int:
        """Deliveries one core may queue in one step (the out-queue holds one per fan-out entry)."""
        return self.fanout_depth

    @property
    def board_cores(self) -> int:
        """Cores of the whole board, ``chips * cores``: the range of a board's global core ids (§13)."""
        return self.chips * self.cores

    @property
    def one_chip(self) -> ChipConfig:
        """One chip of the board: this config with ``chips = 1``."""
        return replace(self, chips=1)

    def as_dict(self) -> dict[str, int]:
        """The six sizes of one chip (:data:`CONFIG_FIELDS`): the image header's and the RTL's chip registers."""
        return {key: value for key, value in asdict(self).items() if key in CONFIG_FIELDS}

    @property
    def derived_depths(self) -> tuple[int, int]:
        """``(event_depth, fanout_depth)`` this chip's ``weight_bytes`` gives when they are not given
        (:func:`default_depths`)."""
        return default_depths(self.weight_bytes)

    def describe(self) -> str:
        from spikecore.wording import plural

        board = f"{self.chips} chips x " if self.chips > 1 else ""
        return (f"{board}{plural(self.cores, 'core')} x {plural(self.neurons, 'neuron')}, {self.weight_bytes} B "
                f"weights, {plural(self.imem_depth, 'instruction')}, {plural(self.event_depth, 'event')}, "
                f"{plural(self.fanout_depth, 'fan-out entry', 'fan-out entries')}")


PRODUCT = ChipConfig()

#: The chip's size fields in their fixed order: the image header's order and the chip text form's.
CONFIG_FIELDS: tuple[str, ...] = ("cores", "neurons", "weight_bytes", "imem_depth", "event_depth", "fanout_depth")
#: Every key of the chip text form: the six sizes of a chip, then the board's ``chips`` (§13).
CHIP_TEXT_KEYS: tuple[str, ...] = tuple(field.name for field in fields(ChipConfig))


def format_chip(config: ChipConfig, changed_only: bool = False, against: ChipConfig | None = None) -> str:
    """The chip text form: every size as ``key=value``, space separated, in :data:`CONFIG_FIELDS` order, then
    ``chips=N`` for a board of more than one chip. ``changed_only``: only the sizes that differ from their
    default, what a user passes as ``--chip`` to get ``config`` back: the product chip's, except that
    ``event_depth`` and ``fanout_depth`` are left out when they equal the ones ``weight_bytes`` gives
    (:func:`default_depths`). ``against`` (with ``changed_only``): also the sizes that differ from that chip's,
    so a hint that grows a user's chip names every size it changed, derived or not.

    >>> format_chip(ChipConfig(cores=4))
    'cores=4 neurons=32 weight_bytes=256 imem_depth=64 event_depth=64 fanout_depth=64'
    >>> format_chip(ChipConfig(cores=4, chips=2)).split()[-1]
    'chips=2'
    >>> format_chip(ChipConfig(cores=4, event_depth=128), changed_only=True)
    'cores=4 event_depth=128'
    >>> format_chip(ChipConfig(weight_bytes=4096, fanout_depth=128), changed_only=True)
    'weight_bytes=4096 fanout_depth=128'
    >>> format_chip(ChipConfig(weight_bytes=4096), True, against=ChipConfig(weight_bytes=4096, event_depth=64))
    'weight_bytes=4096 event_depth=1024'
    """
    event, fanout = config.derived_depths
    defaults = {**asdict(ChipConfig()), "event_depth": event, "fanout_depth": fanout}

    def shown(key: str) -> bool:
        value = getattr(config, key)
        return not changed_only or value != defaults[key] or (against is not None and value != getattr(against, key))

    return " ".join(f"{key}={getattr(config, key)}" for key in CHIP_TEXT_KEYS
                    if (key in CONFIG_FIELDS or config.chips > 1) and shown(key))


def parse_chip(text: str | None, what: str = "--chip") -> ChipConfig:
    """A :class:`ChipConfig` from the chip text form (``"cores=16 weight_bytes=512 chips=2"``; space or comma
    separated).

    Keys not given keep the product value, ``event_depth`` and ``fanout_depth`` the value ``weight_bytes`` gives
    (:func:`default_depths`); empty or ``None`` text is the product chip. Values are integers of
    the grammar of docs/spec.md §12 (ASCII decimal or ``0x`` hex, at most 24 digits). Raises
    :class:`SpikeCoreError`, prefixed with ``what``, on an unknown or repeated key, a non-integer value or a
    size :class:`ChipConfig` refuses.
    """
    from spikecore.grammar import parse_int, quote

    if not text:
        return ChipConfig()
    values: dict[str, int] = {}
    for item in re.split(r"[ \t,]+", text.strip(" \t,")):
        key, sep, value = item.partition("=")
        if not sep or key not in CHIP_TEXT_KEYS:
            raise SpikeCoreError(f"{what}: expected key=value with key one of {', '.join(CHIP_TEXT_KEYS)}, "
                                 f"not {quote(item)}")
        if key in values:
            raise SpikeCoreError(f"{what}: {key} given twice in {quote(text)}")
        values[key] = parse_int(value, key, what)
    try:
        return ChipConfig(**values)
    except SpikeCoreError as err:
        raise SpikeCoreError(f"{what}: {err}") from None
