"""Host driver of the RTL board (:class:`~spikecore.rtl.board.SpikeCoreBoard`) in Amaranth's simulator.

:class:`BoardSimHost` is :class:`~spikecore.verif.sim_host.SimHost` for a board (docs/spec.md §13): the host
view uses global core ids (``chip * cores + core``) as the golden :class:`~spikecore.golden.board.CycleBoard`
does; a configuration address carries the chip in bits 31..28 and an injection sets ``inj_chip``. A step
collects every chip's records from its ``trace_port[c]`` and returns the board trace
(:data:`~spikecore.trace.BOARD_TRACE_DTYPE`), sorted by cycle, chip, core, kind; each chip's per-cycle
signatures are kept apart (``signatures[c]``). :func:`run_rtl_board` is :func:`~spikecore.verif.sim_host.run_rtl`
for a board image.

>>> from spikecore.config import ChipConfig
>>> from spikecore.image import Image
>>> result = run_rtl_board(Image(ChipConfig(cores=1, chips=2, neurons=4, weight_bytes=4, imem_depth=2,
...                                         event_depth=1, fanout_depth=1)), steps=2)
>>> result.step_starts, len(result.trace), result.membranes.shape
([0, 2], 0, (2, 4))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.rtl.board import SpikeCoreBoard
from spikecore.rtl.layout import (
    EVENT_COUNTERS,
    MAGIC_WORD,
    ArrayRegister,
    ConfigSpace,
    CoreStatus,
    config_address,
)
from spikecore.signature import HISTORY_DEPTH
from spikecore.trace import BOARD_TRACE_DTYPE, board_records
from spikecore.verif.config_bus import core_memory_words, signed
from spikecore.verif.sim_host import (
    _CONFIG_REGISTERS,
    DEFAULT_STEP_TIMEOUT,
    SimHost,
    check_steps,
    load_and_step,
    run_testbench,
    signature_arrays,
)
from spikecore.verif.trace_decode import TraceDecoder, decode_history


def _sorted(records: np.ndarray) -> np.ndarray:
    return records[np.lexsort((records["kind"], records["core"], records["chip"], records["cycle"]))]


class BoardSimHost(SimHost):
    """The host side of one :class:`SpikeCoreBoard` in an Amaranth testbench (global core ids).

    State kept: ``trace`` (board records of every step so far), ``outputs`` (``(step, global core, axon,
    payload)``), ``step_starts``, ``signatures[c]`` (cycle -> ``(signature, record count)`` of chip ``c``).
    """

    def __init__(self, ctx, dut: SpikeCoreBoard) -> None:   # SimHost's fields, per chip
        self.ctx = ctx
        self.dut = dut
        self.config = dut.config
        self.chips = dut.config.chips
        self.decoder = TraceDecoder(self.config.cores)
        self.trace_chunks: list[np.ndarray] = []
        self.outputs: list[tuple[int, int, int, int]] = []
        self.step_starts: list[int] = []
        self.step_index = 0
        self.signatures: list[dict[int, tuple[int, int]]] = [{} for _ in range(self.chips)]
        self._trace_signals = [port.as_value() for port in dut.trace_port]

    def _address(self, core: int, space: ConfigSpace, index: int) -> int:
        chip, local = divmod(core, self.config.cores)
        return config_address(local, space, index, chip)

    async def write(self, core: int, space: ConfigSpace, index: int, word: int) -> None:
        await self.write_words([(self._address(core, space, index), word)])

    async def read(self, core: int, space: ConfigSpace, index: int) -> int:
        return (await self.read_words([self._address(core, space, index)]))[0]

    async def check_config(self, config: ChipConfig) -> None:
        """Raise :class:`SpikeCoreError` unless every chip of the RTL board was built for ``config``."""
        registers = [ArrayRegister.MAGIC, ArrayRegister.CHIPS, ArrayRegister.CHIP, *_CONFIG_REGISTERS.values()]
        for chip in range(self.chips):
            words = await self.read_words([config_address(isa.HOST_CORE, ConfigSpace.IMEM, int(r), chip)
                                           for r in registers])
            if words[0] != MAGIC_WORD:
                raise SpikeCoreError(f"RTL: chip {chip} register MAGIC reads 0x{words[0]:08x}, "
                                     f"expected 0x{MAGIC_WORD:08x}")
            if words[1] != config.chips or words[2] != chip:
                raise SpikeCoreError(f"image: a board of {config.chips} chips, the RTL board has {words[1]} "
                                     f"(chip {chip} reads CHIP = {words[2]})")
            built = dict(zip(_CONFIG_REGISTERS, words[3:], strict=True))
            wanted = {key: value for key, value in config.as_dict().items() if key in built}
            if built != wanted:
                raise SpikeCoreError(f"image: chip config {wanted} does not match the RTL's {built}")

    async def load(self, image: Image) -> None:
        """Write every memory of every core of every chip from ``image``, then reset state."""
        await self.check_config(image.config)
        writes = []
        for core in range(self.config.board_cores):
            for space, words in core_memory_words(self.config, image.core(core)).items():
                writes += [(self._address(core, space, index), word) for index, word in enumerate(words)]
        await self.write_words(writes)
        await self.reset_state()

    async def read_image(self) -> Image:
        raise SpikeCoreError("read_image: not implemented for a board (read each chip's memories with read)")

    async def membranes(self) -> np.ndarray:
        """Every membrane, ``int64[chips * cores, neurons]`` (row = global core id)."""
        cores, neurons = self.config.board_cores, self.config.neurons
        words = await self.read_words([self._address(c, ConfigSpace.MEMBRANE, n)
                                       for c in range(cores) for n in range(neurons)])
        return np.array([signed(w, isa.ACC_BITS) for w in words], dtype=np.int64).reshape(cores, neurons)

    async def status(self, which: CoreStatus) -> np.ndarray:
        """One STATUS register of every core of the board, ``int64[chips * cores]``."""
        words = await self.read_words([self._address(c, ConfigSpace.STATUS, int(which))
                                       for c in range(self.config.board_cores)])
        return np.array(words, dtype=np.int64)

    async def events(self, core: int) -> list[tuple[int, int]]:
        """The ``(axon, payload)`` events in global core ``core``'s input buffer."""
        count = await self.read(core, ConfigSpace.STATUS, int(CoreStatus.EVENT_COUNT))
        words = await self.read_words([self._address(core, ConfigSpace.EVENT, i) for i in range(count)])
        return [(w & 0xFF, signed(w >> 8, isa.WIDE_PAYLOAD_BITS)) for w in words]

    async def event_counts(self) -> np.ndarray:
        return np.stack([await self.status(which) for which in EVENT_COUNTERS], axis=1)

    async def cycle(self) -> int:
        lo, hi = await self.read_words([config_address(isa.HOST_CORE, ConfigSpace.IMEM, int(r))
                                        for r in (ArrayRegister.CYCLE_LO, ArrayRegister.CYCLE_HI)])
        return lo | hi << 32

    async def history(self, chip: int = 0) -> tuple[int, np.ndarray]:
        """``(cycles, signatures)`` of chip ``chip``: signatures[k] is the signature of cycle ``cycles - 1 - k``."""
        ctx, dut = self.ctx, self.dut
        return (ctx.get(dut.sig_cycles[chip]),
                decode_history(ctx.get(dut.sig_history[chip].as_value()), HISTORY_DEPTH))

    def _drive_inject_core(self, core: int) -> None:
        """Global core ``core`` (``SimHost.inject`` checked it against the board's cores) as chip and local core."""
        chip, local = divmod(core, self.config.cores)
        self.ctx.set(self.dut.inj_chip, chip)
        self.ctx.set(self.dut.inj_core, local)

    async def step(self, timeout: int = DEFAULT_STEP_TIMEOUT) -> np.ndarray:
        """Run one timestep on every chip; return its board records (sorted) and keep them."""
        ctx, dut = self.ctx, self.dut
        decoder = self.decoder
        self.step_starts.append(ctx.get(dut.cycle))
        ctx.set(dut.step, 1)
        await ctx.tick()
        ctx.set(dut.step, 0)
        chunks = []
        for _ in range(timeout):
            for chip, signal in enumerate(self._trace_signals):
                raw = ctx.get(signal)
                if decoder.active(raw):
                    records = decoder.decode([raw])
                    if len(records):
                        chunks.append(board_records(records, chip))
                if ctx.get(dut.sig_valid[chip]):
                    self.signatures[chip][ctx.get(dut.sig_cycle[chip])] = (ctx.get(dut.sig_value[chip]),
                                                                           ctx.get(dut.sig_count[chip]))
            if not ctx.get(dut.busy):
                break
            await ctx.tick()
        else:
            raise SpikeCoreError(f"step {self.step_index}: still busy after {timeout} cycles (a core without HALT?)")
        records = _sorted(np.concatenate(chunks)) if chunks else np.zeros(0, dtype=BOARD_TRACE_DTYPE)
        for record in records[records["kind"] == int(isa.TraceKind.OUT)]:
            core = int(record["chip"]) * self.config.cores + int(record["core"])
            self.outputs.append((self.step_index, core, int(record["index"]), int(record["value"])))
        self.trace_chunks.append(records)
        self.step_index += 1
        return records

    @property
    def trace(self) -> np.ndarray:
        return np.concatenate(self.trace_chunks) if self.trace_chunks else np.zeros(0, dtype=BOARD_TRACE_DTYPE)


@dataclass
class BoardRtlRun:
    """What :func:`run_rtl_board` observed; per-core arrays by global core id, signatures per chip."""

    steps: int
    cycles: int
    trace: np.ndarray                   # BOARD_TRACE_DTYPE
    membranes: np.ndarray
    drops: np.ndarray
    spike_counts: np.ndarray
    outputs: list[tuple[int, int, int, int]]
    step_starts: list[int]
    signatures: np.ndarray              # uint32[chips, cycles]
    record_counts: np.ndarray           # int64[chips, cycles]
    history_cycles: list[int]           # per chip
    history: list[np.ndarray]           # per chip
    sig_records: list[int]              # per chip
    event_counts: np.ndarray | None = None


def simulate_board(config: ChipConfig, scenario, *, vcd: str | None = None) -> None:
    """Run ``await scenario(host)`` against a fresh :class:`SpikeCoreBoard` for ``config``."""
    run_testbench(SpikeCoreBoard(config), BoardSimHost, scenario, vcd=vcd)


def run_rtl_board(image: Image, stimulus=None, steps: int = 1, *, vcd: str | None = None) -> BoardRtlRun:
    """Load a board ``image``, then per step inject that step's stimulus (global core ids) and run it."""
    check_steps(steps, "run_rtl_board")
    result: dict = {}

    async def scenario(host: BoardSimHost) -> None:
        await load_and_step(host, image, stimulus, steps)
        result["membranes"] = await host.membranes()
        result["drops"] = await host.status(CoreStatus.DROP_COUNT)
        result["spike_counts"] = await host.status(CoreStatus.SPIKE_COUNT)
        result["event_counts"] = await host.event_counts()
        result["cycles"] = await host.cycle()
        histories = [await host.history(chip) for chip in range(host.chips)]
        result["history_cycles"] = [h[0] for h in histories]
        result["history"] = [h[1] for h in histories]
        result["sig_records"] = [host.ctx.get(host.dut.sig_records[chip]) for chip in range(host.chips)]
        result["host"] = host

    simulate_board(image.config, scenario, vcd=vcd)
    host = result.pop("host")
    cycles = result["cycles"]
    per_chip = [signature_arrays(observed, cycles, f"RTL: chip {chip}")
                for chip, observed in enumerate(host.signatures)]
    signatures = np.stack([sig for sig, _ in per_chip]).reshape(host.chips, cycles)
    counts = np.stack([count for _, count in per_chip]).reshape(host.chips, cycles)
    return BoardRtlRun(steps=steps, trace=host.trace, outputs=host.outputs, step_starts=host.step_starts,
                       signatures=signatures, record_counts=counts, **result)
