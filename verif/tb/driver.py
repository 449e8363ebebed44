"""The host side of the testbench: configuration bus, event injection, steps, state read-back.

Every port is a top-level port of the generated array (docs/spec.md §8, ``rtl/array.py``). Timing
convention of this module: inputs are changed just after a **falling** clock edge and outputs are read
at a falling edge, so every value is stable half a cycle before and after the rising edge that uses it
(reading right after ``RisingEdge`` would race the registers that just changed).

Loading writes every word of the image that the memories do not already hold; :class:`ArrayDriver` remembers
what it wrote, so that loading a second image into the same simulation (a regression batch) also writes the
default back where the new image has none, and re-loading the same image (``make sim``'s samples, one run
each) writes nothing: the configuration memories (instructions, weights, parameters, fan-out) are written
by the host only, and keep their contents through a reset.
"""

from __future__ import annotations

from collections.abc import Iterable

from cocotb.triggers import FallingEdge, RisingEdge

from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.isa import HOST_CORE, WIDE_PAYLOAD_BITS
from spikecore.rtl.layout import (
    CONFIG_ADDRESS,
    EVENT_COUNTERS,
    ArrayRegister,
    ConfigSpace,
    CoreStatus,
    config_address,
)
from spikecore.verif.config_bus import MASK32, default_word, image_words

#: Configuration spaces held in registers, not memories: ``rst`` clears them to their power-on value, so a load
#: after a reset must write them again (the PERIOD byte, docs/spec.md §2).
REGISTER_SPACES = frozenset({ConfigSpace.PERIOD.value})
_SPACE = CONFIG_ADDRESS["space"]


def _space(address: int) -> int:
    return (address >> _SPACE.offset) & ((1 << _SPACE.width) - 1)


def _to_signed32(value: int) -> int:
    return value - (1 << 32) if value >> 31 else value


def _signed24(field: int) -> int:
    """The signed value of a :data:`WIDE_PAYLOAD_BITS`-bit payload field (bits above it ignored)."""
    field &= (1 << WIDE_PAYLOAD_BITS) - 1
    return field - ((field >> (WIDE_PAYLOAD_BITS - 1)) << WIDE_PAYLOAD_BITS)


class ArrayDriver:
    """Drives the host ports of one array instance (``dut``)."""

    def __init__(self, dut) -> None:
        self.dut = dut
        self.clk = dut.clk
        self.written: dict[int, int] = {}      # what the DUT memories hold where it differs from power-on

    async def reset(self, cycles: int = 2) -> None:
        """Synchronous reset of every register (the memories keep their contents)."""
        dut = self.dut
        self.written = {a: w for a, w in self.written.items() if _space(a) not in REGISTER_SPACES}
        for port in ("cfg_write", "cfg_read", "inj_valid", "step", "reset_state"):
            getattr(dut, port).value = 0
        dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.clk)
        await FallingEdge(self.clk)
        dut.rst.value = 0
        await FallingEdge(self.clk)

    # --- configuration bus ---------------------------------------------------------------------------

    async def write_words(self, words: Iterable[tuple[int, int]]) -> int:
        """Write ``(address, word)`` pairs, one per cycle; returns how many were written."""
        dut = self.dut
        count = 0
        await FallingEdge(self.clk)
        for address, word in words:
            dut.cfg_addr.value = address
            dut.cfg_wdata.value = word & MASK32
            dut.cfg_write.value = 1
            await FallingEdge(self.clk)
            count += 1
        dut.cfg_write.value = 0
        return count

    async def read_words(self, addresses: list[int]) -> list[int]:
        """Read words, pipelined: an address per cycle, its data one cycle later (unsigned 32-bit)."""
        dut = self.dut
        values: list[int] = []
        # A read-back reads thousands of words one clock each (make sim: every membrane of 128 cores per
        # sample): the Python per clock is kept to one write and one raw read (two-state: only 0 and 1).
        rdata, addr, edge = dut.cfg_rdata._handle.get_signal_val_binstr, dut.cfg_addr, FallingEdge(self.clk)
        await edge
        dut.cfg_read.value = 1
        for address in addresses:
            addr.value = address
            await edge
            values.append(int(rdata(), 2))
        dut.cfg_read.value = 0
        return values

    async def load(self, image: Image) -> int:
        """Load ``image``; returns the number of words written.

        Writes every word of the image that differs from what the memory holds (its power-on default, or
        what an earlier load of this simulation wrote), and the default back wherever an earlier load left
        a word the new image does not set. Relies on the memories keeping their contents through ``rst``
        (Amaranth memories do) and on no one but the host writing them (the cores only read them).
        """
        await self.check_config(image)
        wanted, default = self.image_words(image), self.default_word
        writes = [(a, w) for a, w in wanted.items() if w != self.written.get(a, default(a))]
        writes += [(a, default(a)) for a in self.written if a not in wanted]
        count = await self.write_words(sorted(writes))
        self.written = {a: w for a, w in wanted.items() if w != default(a)}
        return count

    async def check_config(self, image: Image) -> None:
        """Raise :class:`SpikeCoreError` unless the simulated array has ``image``'s configuration."""
        config = await self.read_config()
        if config != image.config.as_dict():
            raise SpikeCoreError(f"the simulated array is {config}, the image needs {image.config.as_dict()}")

    def image_words(self, image: Image) -> dict[int, int]:
        """Every configuration word of ``image`` by address (what :meth:`load` writes)."""
        return image_words(image)

    def default_word(self, address: int) -> int:
        """The power-on value of the word at ``address``."""
        return default_word(address)

    def select_core(self, core: int) -> None:
        """Drive the injection port's core (a board also drives its chip)."""
        self.dut.inj_core.value = core

    async def read_config(self) -> dict[str, int]:
        """The chip configuration the array reports in its array registers."""
        names = {"cores": ArrayRegister.CORES, "neurons": ArrayRegister.NEURONS,
                 "weight_bytes": ArrayRegister.WEIGHT_BYTES, "imem_depth": ArrayRegister.IMEM_DEPTH,
                 "event_depth": ArrayRegister.EVENT_DEPTH, "fanout_depth": ArrayRegister.FANOUT_DEPTH}
        values = await self.read_words([config_address(HOST_CORE, ConfigSpace.STATUS, int(r)) for r in names.values()])
        return dict(zip(names, values, strict=True))

    # --- control ---------------------------------------------------------------------------------------

    async def pulse(self, port: str) -> None:
        """Hold ``port`` high for one rising edge."""
        await FallingEdge(self.clk)
        getattr(self.dut, port).value = 1
        await FallingEdge(self.clk)
        getattr(self.dut, port).value = 0

    async def wait_idle(self, limit: int = 1_000_000) -> None:
        """Wait (reading ``busy`` every cycle) until the array is idle."""
        for _ in range(limit):
            if not int(self.dut.busy.value):
                return
            await FallingEdge(self.clk)
        raise SpikeCoreError(f"the array stayed busy for {limit} cycles")

    async def reset_state(self, limit: int = 1_000_000) -> None:
        """The host's state reset (§2): membranes := init; buffers, out-queues and counters emptied.

        Raises :class:`SpikeCoreError` when the array is still busy after ``limit`` clocks."""
        await self.pulse("reset_state")
        await self.wait_idle(limit)

    async def inject(self, events: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """Inject ``(core, axon, payload)`` events, one per cycle; returns the events the array refused."""
        dut = self.dut
        refused: list[tuple[int, int, int]] = []
        await FallingEdge(self.clk)
        for event in events:
            core, axon, payload = event
            self.select_core(core)
            dut.inj_axon.value = axon
            dut.inj_payload.value = payload & 0xFF
            dut.inj_valid.value = 1
            await FallingEdge(self.clk)
            # inj_accepted is registered by the rising edge that took the event: visible now.
            if not int(dut.inj_accepted.value):
                refused.append(event)
        dut.inj_valid.value = 0
        return refused

    async def start_step(self) -> None:
        """Pulse ``step``; the first EXEC cycle follows the strobe's rising edge."""
        await self.pulse("step")

    # --- state read-back ------------------------------------------------------------------------------

    async def read_membranes(self, cores: int, neurons: int) -> list[list[int]]:
        values = await self.read_words([config_address(c, ConfigSpace.MEMBRANE, n)
                                        for c in range(cores) for n in range(neurons)])
        return [[_to_signed32(v) for v in values[c * neurons:(c + 1) * neurons]] for c in range(cores)]

    async def read_event_counts(self, cores: int) -> list[list[int]]:
        """Every core's event counters (docs/spec.md §8.3 STATUS), per core in ``EVENT_COUNTERS`` order."""
        values = await self.read_words([config_address(c, ConfigSpace.STATUS, int(which))
                                        for c in range(cores) for which in EVENT_COUNTERS])
        n = len(EVENT_COUNTERS)
        return [values[c * n:(c + 1) * n] for c in range(cores)]

    async def read_buffers(self, cores: int) -> list[list[tuple[int, int]]]:
        """Every core's input buffer (docs/spec.md §8.3: STATUS 0 events in the buffer, EVENT slots), as
        ``(axon, payload)`` per core in slot order; payloads signed."""
        fills = await self.read_words([config_address(c, ConfigSpace.STATUS, int(CoreStatus.EVENT_COUNT))
                                       for c in range(cores)])
        words = await self.read_words([config_address(c, ConfigSpace.EVENT, slot)
                                       for c in range(cores) for slot in range(fills[c])])
        out, at = [], 0
        for fill in fills:
            # the payload field is 24 bits (a FIRE wide=1 partial sum, docs/spec.md §1.2, §8.3)
            out.append([(w & 0xFF, _signed24(w >> 8)) for w in words[at:at + fill]])
            at += fill
        return out

    async def read_drops(self, cores: int) -> list[int]:
        return await self.read_words([config_address(c, ConfigSpace.STATUS, int(CoreStatus.DROP_COUNT))
                                      for c in range(cores)])
