"""Host driver of the RTL array in Amaranth's own simulator: load, inject, step, observe.

:class:`SimHost` speaks the host interface of docs/spec.md §8 from inside an Amaranth async testbench:
it loads an :class:`~spikecore.image.Image` through the configuration bus (and reads every
memory back), injects events, runs steps while collecting every trace record from the ``trace_port`` port
and every per-cycle signature from the ``sig_*`` ports, and reads membranes and counters.
:func:`simulate` runs any async scenario against a fresh array; :func:`run_rtl` is the one-call
equivalent of :func:`spikecore.golden.run.run` for the RTL.

>>> from spikecore.config import ChipConfig
>>> from spikecore.image import Image
>>> result = run_rtl(Image(ChipConfig(cores=1, neurons=4, weight_bytes=4, imem_depth=2, event_depth=1,
...                                   fanout_depth=1)), steps=2)
>>> result.step_starts, len(result.trace)    # HALT (1 cycle) + barrier (1 cycle) per step, no records
([0, 2], 0)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.rtl.array import SpikeCoreArray
from spikecore.rtl.layout import (
    EVENT_COUNTERS,
    MAGIC_WORD,
    PARAM_STRIDE,
    PARAM_WORDS,
    ArrayRegister,
    ConfigSpace,
    CoreStatus,
    config_address,
)
from spikecore.signature import HISTORY_DEPTH
from spikecore.trace import TRACE_DTYPE
from spikecore.verif.config_bus import (
    core_memory_words,
    fanout_from_word,
    neuron_from_words,
    signed,
    weight_from_word,
)
from spikecore.verif.trace_decode import TraceDecoder, decode_history

#: Simulated clock period (only matters for waveform files).
CLOCK_PERIOD = 1e-6
#: Cycles a step may run before the driver gives up (a program without HALT never ends).
DEFAULT_STEP_TIMEOUT = 1_000_000

_CONFIG_REGISTERS = {
    "cores": ArrayRegister.CORES,
    "neurons": ArrayRegister.NEURONS,
    "weight_bytes": ArrayRegister.WEIGHT_BYTES,
    "imem_depth": ArrayRegister.IMEM_DEPTH,
    "event_depth": ArrayRegister.EVENT_DEPTH,
    "fanout_depth": ArrayRegister.FANOUT_DEPTH,
}


class SimHost:
    """The host side of one :class:`~spikecore.rtl.array.SpikeCoreArray` in an Amaranth testbench.

    Every method is a coroutine that advances the simulation; call them from the ``async def``
    passed to :func:`simulate`. State the host observed is kept here: ``trace`` (every record of
    every step run so far), ``outputs`` (``(step, core, axon, payload)`` delivered to the host),
    ``step_starts``, and ``signatures`` (cycle -> ``(signature, record count)`` from the ``sig_*``
    ports).
    """

    def __init__(self, ctx, dut: SpikeCoreArray) -> None:
        self.ctx = ctx
        self.dut = dut
        self.config = dut.config
        self.decoder = TraceDecoder(self.config.cores)
        self.trace_chunks: list[np.ndarray] = []
        self.outputs: list[tuple[int, int, int, int]] = []
        self.step_starts: list[int] = []
        self.step_index = 0
        self.signatures: dict[int, tuple[int, int]] = {}
        self._trace_signal = dut.trace_port.as_value()

    # --- configuration bus ---------------------------------------------------------------------

    async def write_words(self, writes: list[tuple[int, int]]) -> None:
        """Write ``(address, word)`` pairs, one per cycle."""
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.cfg_write, 1)
        for address, word in writes:
            ctx.set(dut.cfg_addr, address)
            ctx.set(dut.cfg_wdata, word & 0xFFFF_FFFF)
            await ctx.tick()
        ctx.set(dut.cfg_write, 0)

    async def read_words(self, addresses: list[int]) -> list[int]:
        """Read the words at ``addresses``, pipelined one per cycle (data one cycle after the strobe)."""
        ctx, dut = self.ctx, self.dut
        words = []
        ctx.set(dut.cfg_read, 1)
        for address in addresses:
            ctx.set(dut.cfg_addr, address)
            await ctx.tick()
            if not ctx.get(dut.cfg_rvalid):
                raise SpikeCoreError("config bus: cfg_rvalid did not rise one cycle after cfg_read")
            words.append(ctx.get(dut.cfg_rdata))
        ctx.set(dut.cfg_read, 0)
        return words

    async def write(self, core: int, space: ConfigSpace, index: int, word: int) -> None:
        await self.write_words([(config_address(core, space, index), word)])

    async def read(self, core: int, space: ConfigSpace, index: int) -> int:
        return (await self.read_words([config_address(core, space, index)]))[0]

    async def read_array_register(self, register: ArrayRegister) -> int:
        return await self.read(isa.HOST_CORE, ConfigSpace.IMEM, int(register))

    async def check_config(self, config: ChipConfig) -> None:
        """Raise :class:`SpikeCoreError` unless the RTL was built for ``config``."""
        if config.chips != 1:   # chips is no RTL register: the array is one chip (docs/spec.md §13)
            raise SpikeCoreError(f"image: a board of {config.chips} chips, the RTL array is one chip")
        registers = [ArrayRegister.MAGIC, *_CONFIG_REGISTERS.values()]
        words = await self.read_words([config_address(isa.HOST_CORE, ConfigSpace.IMEM, int(r)) for r in registers])
        if words[0] != MAGIC_WORD:
            raise SpikeCoreError(f"RTL: array register MAGIC reads 0x{words[0]:08x}, expected 0x{MAGIC_WORD:08x}")
        built = dict(zip(_CONFIG_REGISTERS, words[1:], strict=True))
        wanted = config.as_dict()
        if built != wanted:
            raise SpikeCoreError(f"image: chip config {wanted} does not match the RTL's {built}")

    async def load(self, image: Image) -> None:
        """Write every memory of every core from ``image`` (defaults where it lists nothing), then reset
        state so that membranes hold ``init`` and every buffer and counter is empty."""
        await self.check_config(image.config)
        writes = []
        for core_id in range(self.config.cores):
            for space, words in core_memory_words(self.config, image.core(core_id)).items():
                writes += [(config_address(core_id, space, index), word) for index, word in enumerate(words)]
        await self.write_words(writes)
        await self.reset_state()

    async def read_core_memories(self, core: int) -> dict[ConfigSpace, list[int]]:
        """Every word of IMEM, WEIGHT (as int8), PARAM and FANOUT of ``core``."""
        depths = {ConfigSpace.IMEM: self.config.imem_depth, ConfigSpace.WEIGHT: self.config.weight_bytes,
                  ConfigSpace.PARAM: self.config.neurons * PARAM_STRIDE, ConfigSpace.FANOUT: self.config.fanout_depth,
                  ConfigSpace.PERIOD: 1}
        result = {}
        for space, depth in depths.items():
            result[space] = await self.read_words([config_address(core, space, i) for i in range(depth)])
        result[ConfigSpace.WEIGHT] = [weight_from_word(w) for w in result[ConfigSpace.WEIGHT]]
        return result

    async def read_image(self) -> Image:
        """The image the memories hold: every core with its full program, weights, neurons and fan-out."""
        cores = {}
        for core_id in range(self.config.cores):
            words = await self.read_core_memories(core_id)
            params = words[ConfigSpace.PARAM]
            cores[core_id] = isa.CoreImage(
                program=words[ConfigSpace.IMEM],
                weights=words[ConfigSpace.WEIGHT],
                neurons=[neuron_from_words(params[n * PARAM_STRIDE:n * PARAM_STRIDE + PARAM_WORDS])
                         for n in range(self.config.neurons)],
                fanout=[fanout_from_word(w) for w in words[ConfigSpace.FANOUT]],
                period=(words[ConfigSpace.PERIOD][0] >> 4) + 1,
                phase=words[ConfigSpace.PERIOD][0] & 0xF,
            )
        return Image(self.config, cores)

    # --- state read-out ------------------------------------------------------------------------------

    async def membranes(self) -> np.ndarray:
        """Every membrane, ``int64[cores, neurons]``."""
        addresses = [config_address(c, ConfigSpace.MEMBRANE, n)
                     for c in range(self.config.cores) for n in range(self.config.neurons)]
        words = await self.read_words(addresses)
        values = [signed(w, isa.ACC_BITS) for w in words]
        return np.array(values, dtype=np.int64).reshape(self.config.cores, self.config.neurons)

    async def status(self, which: CoreStatus) -> np.ndarray:
        """One STATUS register of every core, ``int64[cores]``."""
        words = await self.read_words([config_address(c, ConfigSpace.STATUS, int(which))
                                       for c in range(self.config.cores)])
        return np.array(words, dtype=np.int64)

    async def drops(self) -> np.ndarray:
        return await self.status(CoreStatus.DROP_COUNT)

    async def spike_counts(self) -> np.ndarray:
        return await self.status(CoreStatus.SPIKE_COUNT)

    async def event_counts(self) -> np.ndarray:
        """Every core's event counters, ``int64[cores, 5]`` in :data:`~spikecore.rtl.layout.EVENT_COUNTERS` order."""
        return np.stack([await self.status(which) for which in EVENT_COUNTERS], axis=1)

    async def events(self, core: int) -> list[tuple[int, int]]:
        """The ``(axon, payload)`` events in ``core``'s input buffer."""
        count = await self.read(core, ConfigSpace.STATUS, int(CoreStatus.EVENT_COUNT))
        words = await self.read_words([config_address(core, ConfigSpace.EVENT, i) for i in range(count)])
        return [(w & 0xFF, signed(w >> 8, isa.WIDE_PAYLOAD_BITS)) for w in words]

    async def cycle(self) -> int:
        lo, hi = await self.read_words([config_address(isa.HOST_CORE, ConfigSpace.IMEM, int(r))
                                        for r in (ArrayRegister.CYCLE_LO, ArrayRegister.CYCLE_HI)])
        return lo | hi << 32

    async def history(self) -> tuple[int, np.ndarray]:
        """``(cycles, signatures)``: signatures[k] is the signature of cycle ``cycles - 1 - k``."""
        ctx, dut = self.ctx, self.dut
        return ctx.get(dut.sig_cycles), decode_history(ctx.get(dut.sig_history.as_value()), HISTORY_DEPTH)

    # --- control -------------------------------------------------------------------------------------

    async def inject(self, core: int, axon: int, payload: int) -> None:
        """Append ``(axon, payload)`` to ``core``'s input buffer; a full buffer raises SpikeCoreError."""
        cores = self.config.board_cores   # the chip's cores (chips = 1), or a board's global core ids
        if isinstance(core, bool) or not isinstance(core, int) or not 0 <= core < cores:
            raise SpikeCoreError(f"inject: core must be 0..{cores - 1}, not {core!r}")
        if isinstance(axon, bool) or not isinstance(axon, int) or not 0 <= axon <= isa.AXON_MAX:
            raise SpikeCoreError(f"inject: axon must be 0..{isa.AXON_MAX}, not {axon!r}")
        if (isinstance(payload, bool) or not isinstance(payload, int)
                or not isa.PAYLOAD_MIN <= payload <= isa.PAYLOAD_MAX):
            raise SpikeCoreError(f"inject: payload must be {isa.PAYLOAD_MIN}..{isa.PAYLOAD_MAX}, not {payload!r}")
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.inj_valid, 1)
        self._drive_inject_core(core)
        ctx.set(dut.inj_axon, axon)
        ctx.set(dut.inj_payload, payload)
        await ctx.tick()
        ctx.set(dut.inj_valid, 0)
        if ctx.get(dut.inj_refused):
            raise SpikeCoreError(f"inject: core {core} input buffer is full ({self.config.event_depth} events)")

    def _drive_inject_core(self, core: int) -> None:
        """Drive the injection port's core select for ``core`` (a board drives chip and local core)."""
        self.ctx.set(self.dut.inj_core, core)

    async def reset_state(self) -> None:
        """Membranes := init; input buffers, out-queues and drop/spike counters emptied."""
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.reset_state, 1)
        await ctx.tick()
        ctx.set(dut.reset_state, 0)
        while ctx.get(dut.busy):
            await ctx.tick()

    async def step(self, timeout: int = DEFAULT_STEP_TIMEOUT) -> np.ndarray:
        """Run one timestep; return its records (sorted) and keep them, the outputs and signatures."""
        ctx, dut = self.ctx, self.dut
        decoder, trace_signal = self.decoder, self._trace_signal
        self.step_starts.append(ctx.get(dut.cycle))
        ctx.set(dut.step, 1)
        await ctx.tick()
        ctx.set(dut.step, 0)
        chunks = []
        for _ in range(timeout):
            raw = ctx.get(trace_signal)
            if decoder.active(raw):
                records = decoder.decode([raw])
                if len(records):
                    chunks.append(records)
            if ctx.get(dut.sig_valid):
                self.signatures[ctx.get(dut.sig_cycle)] = (ctx.get(dut.sig_value), ctx.get(dut.sig_count))
            if not ctx.get(dut.busy):
                break
            await ctx.tick()
        else:
            raise SpikeCoreError(f"step {self.step_index}: still busy after {timeout} cycles (a core without HALT?)")
        records = np.concatenate(chunks) if chunks else np.zeros(0, dtype=TRACE_DTYPE)
        for record in records[records["kind"] == int(isa.TraceKind.OUT)]:
            self.outputs.append((self.step_index, int(record["core"]), int(record["index"]), int(record["value"])))
        self.trace_chunks.append(records)
        self.step_index += 1
        return records

    @property
    def trace(self) -> np.ndarray:
        """Every record of every step run so far."""
        return np.concatenate(self.trace_chunks) if self.trace_chunks else np.zeros(0, dtype=TRACE_DTYPE)


def simulate(config: ChipConfig, scenario: Callable[[SimHost], Awaitable[None]], *, vcd: str | None = None) -> None:
    """Run ``await scenario(host)`` against a fresh :class:`SpikeCoreArray` for ``config``."""
    run_testbench(SpikeCoreArray(config), SimHost, scenario, vcd=vcd)


def run_testbench(dut, make_host: Callable, scenario: Callable[..., Awaitable[None]], *,
                  vcd: str | None = None) -> None:
    """Run ``await scenario(make_host(ctx, dut))`` on Amaranth's simulator (clock :data:`CLOCK_PERIOD`, a VCD
    to ``vcd`` when given): the one testbench of the array's and the board's hosts."""
    sim = Simulator(dut)
    sim.add_clock(CLOCK_PERIOD)

    async def testbench(ctx):
        await scenario(make_host(ctx, dut))

    sim.add_testbench(testbench)
    if vcd is None:
        sim.run()
    else:
        with sim.write_vcd(vcd):
            sim.run()


@dataclass
class RtlRun:
    """What :func:`run_rtl` observed; the fields mirror :class:`spikecore.golden.run.RunResult`."""

    steps: int
    cycles: int
    trace: np.ndarray
    membranes: np.ndarray
    drops: np.ndarray
    spike_counts: np.ndarray
    outputs: list[tuple[int, int, int, int]]
    step_starts: list[int]
    signatures: np.ndarray          # uint32[cycles]: the sig_value of every counted cycle
    record_counts: np.ndarray       # int64[cycles]: the sig_count of every counted cycle
    history_cycles: int             # sig_cycles at the end
    history: np.ndarray             # sig_history at the end (entry 0 = cycle history_cycles - 1)
    sig_records: int                # sig_records at the end
    event_counts: np.ndarray | None = None   # int64[cores, 5]: the STATUS event counters at the end


def check_steps(steps: object, who: str) -> None:
    """Raise :class:`SpikeCoreError` naming ``who`` unless ``steps`` is a non-negative int (not a bool)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise SpikeCoreError(f"{who}: steps must be a non-negative integer, not {steps!r}")


async def load_and_step(host, image: Image, stimulus, steps: int) -> None:
    """Load ``image`` through ``host`` (an array or a board host), then per step inject that step's events of
    ``stimulus`` (a :class:`spikecore.stimulus.Stimulus` or ``None``) and run the step."""
    await host.load(image)
    for step in range(steps):
        for core, axon, payload in (stimulus.at(step) if stimulus is not None else []):
            await host.inject(core, axon, payload)
        await host.step()


def signature_arrays(observed: dict[int, tuple[int, int]], cycles: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The signatures (uint32) and record counts (int64) of cycles ``0 .. cycles - 1`` from ``observed`` (cycle ->
    (signature, count)); raises :class:`SpikeCoreError` prefixed by ``where`` when a cycle has none."""
    missing = [c for c in range(cycles) if c not in observed]
    if missing:
        raise SpikeCoreError(f"{where}: no signature observed for cycle {missing[0]} (of {len(missing)} missing)")
    signatures = np.array([observed[c][0] for c in range(cycles)], dtype=np.uint32)
    counts = np.array([observed[c][1] for c in range(cycles)], dtype=np.int64)
    return signatures, counts


def run_rtl(image: Image, stimulus=None, steps: int = 1, *, vcd: str | None = None) -> RtlRun:
    """Load ``image``, then per step inject that step's stimulus and run it; return everything observed.

    ``stimulus`` is a :class:`spikecore.stimulus.Stimulus` (or ``None``). A board image (``chips > 1``) is
    refused (the array is one chip): run it with :func:`spikecore.verif.board_host.run_rtl_board`, or with
    :func:`spikecore.verif.crosscheck.crosscheck`, which picks the host by ``chips``.
    """
    check_steps(steps, "run_rtl")
    result: dict = {}

    async def scenario(host: SimHost) -> None:
        await load_and_step(host, image, stimulus, steps)
        result["membranes"] = await host.membranes()
        result["drops"] = await host.drops()
        result["spike_counts"] = await host.spike_counts()
        result["event_counts"] = await host.event_counts()
        result["cycles"] = await host.cycle()
        result["history_cycles"], result["history"] = await host.history()
        result["sig_records"] = host.ctx.get(host.dut.sig_records)
        result["host"] = host

    simulate(image.config, scenario, vcd=vcd)
    host = result.pop("host")
    cycles = result["cycles"]
    signatures, counts = signature_arrays(host.signatures, cycles, "RTL")
    return RtlRun(steps=steps, trace=host.trace, outputs=host.outputs, step_starts=host.step_starts,
                  signatures=signatures, record_counts=counts, **result)
