"""The SpikeCore chip: ``cores`` neuron cores, the router, the host interface and the trace port.

This is the top level that ``spikecore.rtl.generate`` converts to Verilog. Every host and trace signal
is a top-level port (docs/spec.md §8 lists them with their timing), so a testbench never reaches into
the hierarchy:

- configuration bus ``cfg_*`` — loads and reads back every memory (address map in
  :mod:`spikecore.rtl.layout`), read data one cycle after the read strobe;
- input injection ``inj_*`` — appends an event to a core's input buffer between steps;
- control ``step``, ``reset_state``, ``busy``, ``done``, ``cycle``;
- host output ``out_*`` — the spikes delivered to ``HOST_CORE``;
- trace ``trace_port`` (not ``trace``: Verilator's model class has a ``trace()`` method) and signatures
  ``sig_*`` (see :mod:`spikecore.rtl.trace_port`).

>>> from spikecore.config import ChipConfig
>>> chip = SpikeCoreArray(ChipConfig(cores=4))
>>> chip.trace_port.shape().size          # 64 (cycle) + 1 (active) + 44 (router record) + 4 x 115 (cores)
569
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from spikecore import isa
from spikecore import signature as sigref
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.core import Core
from spikecore.rtl.layout import CHIP_BITS, CONFIG_ADDRESS, MAGIC_WORD, ArrayRegister
from spikecore.rtl.router import Router, link_ports
from spikecore.rtl.trace_port import (
    CORE_RECORD,
    CYCLE_BITS,
    RECORD_COUNT_BITS,
    ROUTE_RECORD,
    SignatureUnit,
    trace_layout,
)


class ArrayState(enum.Enum, shape=3):
    """Phase of the array (docs/spec.md §2); EXEC, BARRIER and DELIVER cycles are counted."""

    IDLE = 0
    EXEC = 1
    BARRIER = 2
    DELIVER = 3
    RESET = 4


def host_ports(chip_select: bool = False) -> dict[str, wiring.Member]:
    """The array's host inputs and its board-wide outputs (docs/spec.md §8), in port order: the configuration
    bus, the injection port, ``step``, ``reset_state``, ``busy``, ``done``, ``cycle``. ``chip_select`` adds a
    board's ``inj_chip`` (:data:`~spikecore.rtl.layout.CHIP_BITS` wide) beside ``inj_core``
    (:class:`spikecore.rtl.board.SpikeCoreBoard`, §13)."""
    return {
        "cfg_addr": In(isa.WORD_BITS),
        "cfg_wdata": In(isa.WORD_BITS),
        "cfg_write": In(1),
        "cfg_read": In(1),
        "cfg_rdata": Out(isa.WORD_BITS),
        "cfg_rvalid": Out(1),
        "inj_valid": In(1),
        **({"inj_chip": In(CHIP_BITS)} if chip_select else {}),
        "inj_core": In(isa.CORE_ID_BITS),
        "inj_axon": In(isa.AXON_BITS),
        "inj_payload": In(signed(isa.PAYLOAD_BITS)),
        "inj_accepted": Out(1),
        "inj_refused": Out(1),
        "step": In(1),
        "reset_state": In(1),
        "busy": Out(1),
        "done": Out(1),
        "cycle": Out(CYCLE_BITS),
    }


def chip_outputs(config: ChipConfig) -> dict[str, wiring.Member]:
    """The outputs one chip of ``config`` has of its own (docs/spec.md §8.4-§8.6), in port order: the host
    output port ``out_*``, the trace port and the signature ports ``sig_*``. A board has each of them once per
    chip (``member.array(chips)``, §13)."""
    return {
        "out_valid": Out(1),
        "out_core": Out(isa.CORE_ID_BITS),
        "out_axon": Out(isa.AXON_BITS),
        "out_payload": Out(signed(isa.WIDE_PAYLOAD_BITS)),
        "trace_port": Out(trace_layout(config.cores)),
        "sig_valid": Out(1),
        "sig_cycle": Out(CYCLE_BITS),
        "sig_value": Out(32),
        "sig_count": Out(RECORD_COUNT_BITS),
        "sig_history": Out(data.ArrayLayout(32, sigref.HISTORY_DEPTH)),
        "sig_cycles": Out(CYCLE_BITS),
        "sig_records": Out(CYCLE_BITS),
    }


class SpikeCoreArray(wiring.Component):
    """An array of ``config.cores`` SpikeCore cores with its router and host interface.

    Parameters
    ----------
    config:
        Chip sizes; the same :class:`~spikecore.config.ChipConfig` an image carries.
    chip:
        ``None`` (default): the one-chip array, ``config.chips`` must be 1. Else this array is chip ``chip``
        of a board (:class:`spikecore.rtl.board.SpikeCoreBoard`, docs/spec.md §13): it gains the board
        members below, its step sequencer follows the board's (every chip's phases in lock-step) and its
        router owns the ends of the chip's links.

    The ports are documented in docs/spec.md §8; all are synchronous to the one clock domain
    (``clk``, ``rst`` in Verilog).

    Board members (with ``chip``)
    -----------------------------
    exec_done: Out(1) / board_exec_done: In(1)
        This chip's cores / every chip's cores have halted (EXEC ends on the board's).
    has_work: Out(1) / board_has_work: In(1)
        In BARRIER: this chip's / some chip's router has an entry to send (else the step ends).
    idle_next: Out(1) / board_last: In(1)
        In DELIVER: this router has nothing left after this cycle / the board's last DELIVER cycle.
    link_*:
        The router's link ends (:class:`spikecore.rtl.router.Router`).
    """

    def __init__(self, config: ChipConfig, chip: int | None = None) -> None:
        if not isinstance(config, ChipConfig):
            raise SpikeCoreError(f"SpikeCoreArray: config must be a ChipConfig, not {config!r}")
        if chip is None and config.chips != 1:   # a board is rtl/board.py (docs/spec.md §13)
            raise SpikeCoreError(f"SpikeCoreArray: the array is one chip, not a board of {config.chips} chips")
        if chip is not None and (isinstance(chip, bool) or not isinstance(chip, int) or not 0 <= chip < config.chips):
            raise SpikeCoreError(f"SpikeCoreArray: chip must be 0..{config.chips - 1}, not {chip!r}")
        self.config = config
        self.chip = chip
        board = {}
        if chip is not None:
            chips = config.chips
            board = {
                "exec_done": Out(1),
                "board_exec_done": In(1),
                "has_work": Out(1),
                "board_has_work": In(1),
                "idle_next": Out(1),
                "board_last": In(1),
                **link_ports(chips),
            }
        super().__init__({**board, **host_ports(), **chip_outputs(config)})

    def make_core(self, core_id: int) -> wiring.Component:
        """Core ``core_id`` of the array: a :class:`~spikecore.rtl.core.Core`. The Verilog generator
        (:mod:`spikecore.rtl.instanced`) overrides this to instantiate one shared core module instead."""
        return Core(self.config, core_id)

    def elaborate(self, platform):
        """The step sequencer is a five-state machine: IDLE -> EXEC (until every core is done) ->
        BARRIER (one cycle: buffers emptied, router armed) -> DELIVER (one entry per cycle, skipped
        when nothing was queued) -> IDLE; RESET runs the cores' state-reset sequence. The ``step``
        strobe starts the cores in the same cycle, so their first issue is the first EXEC cycle.
        Records are registered once onto ``trace`` and signed one cycle later; ``busy`` stays high
        until the last counted cycle's records are on ``trace``, so ``sig_history`` holds the
        whole step when ``done`` pulses."""
        m = Module()
        cfg = self.config
        cores = [self.make_core(core_id) for core_id in range(cfg.cores)]
        for core_id, core in enumerate(cores):
            m.submodules[f"core{core_id}"] = core
        m.submodules.router = router = Router(cfg, self.chip)
        m.submodules.signature = signer = SignatureUnit(cfg.cores)

        state = Signal(ArrayState)
        running = Signal()
        running_d1 = Signal()
        busy_d1 = Signal()
        cycle = Signal(CYCLE_BITS)
        idle = state == ArrayState.IDLE
        m.d.comb += running.eq((state == ArrayState.EXEC) | (state == ArrayState.BARRIER)
                               | (state == ArrayState.DELIVER))
        with m.If(running):
            m.d.sync += cycle.eq(cycle + 1)
        m.d.sync += [running_d1.eq(running), busy_d1.eq(self.busy)]
        m.d.comb += [
            self.cycle.eq(cycle),
            self.busy.eq(~idle | running_d1),
            self.done.eq(busy_d1 & ~self.busy),
        ]

        # --- step sequencer --------------------------------------------------------------------------
        start = Signal()
        begin_reset = Signal()
        barrier = Signal()
        all_done = Signal()
        any_busy = Signal()
        m.d.comb += [
            all_done.eq(Cat(*(core.done for core in cores)).all()),
            any_busy.eq(Cat(*(core.busy for core in cores)).any()),
        ]
        # The phase ends: this chip's on one chip, the board's (every chip's) on a board.
        exec_end, has_work, deliver_end = all_done, router.has_work, router.last
        if self.chip is not None:
            m.d.comb += [self.exec_done.eq(all_done), self.has_work.eq(router.has_work),
                         self.idle_next.eq(router.idle_next)]
            exec_end, has_work, deliver_end = self.board_exec_done, self.board_has_work, self.board_last
            for name in ("link_full", "link_fill", "link_due", "link_head"):
                for mine, routers in zip(getattr(self, name), getattr(router, name), strict=True):
                    m.d.comb += routers.eq(mine)
            for mine, routers in zip(self.link_push_valid, router.link_push_valid, strict=True):
                m.d.comb += mine.eq(routers)
            for mine, routers in zip(self.link_take, router.link_take, strict=True):
                m.d.comb += mine.eq(routers)
            m.d.comb += self.link_push.eq(router.link_push)
        with m.Switch(state):
            with m.Case(ArrayState.IDLE):
                # Commands wait for ``busy`` to fall: the drain cycle after a step is IDLE but still busy.
                with m.If(self.step & ~self.busy):
                    m.d.comb += start.eq(1)
                    m.d.sync += state.eq(ArrayState.EXEC)
                with m.Elif(self.reset_state & ~self.busy):
                    m.d.comb += begin_reset.eq(1)
                    m.d.sync += state.eq(ArrayState.RESET)
            with m.Case(ArrayState.EXEC), m.If(exec_end):
                m.d.sync += state.eq(ArrayState.BARRIER)
            with m.Case(ArrayState.BARRIER):
                m.d.comb += [barrier.eq(1), router.arm.eq(1)]
                with m.If(has_work):
                    m.d.sync += state.eq(ArrayState.DELIVER)
                with m.Else():
                    m.d.sync += state.eq(ArrayState.IDLE)
            with m.Case(ArrayState.DELIVER), m.If(deliver_end):
                m.d.sync += state.eq(ArrayState.IDLE)
            with m.Case(ArrayState.RESET), m.If(~any_busy):
                m.d.sync += state.eq(ArrayState.IDLE)

        # --- host injection and configuration bus --------------------------------------------------
        addr = data.View(CONFIG_ADDRESS, self.cfg_addr)
        ev_full = Array(core.ev_full for core in cores)
        # One signal: as a Python expression, every core's use would build its own N-way multiplexer (N x N).
        inject_ok = Signal()
        m.d.comb += inject_ok.eq(~self.busy & (self.inj_core < cfg.cores) & ~ev_full[self.inj_core])
        m.d.sync += [
            self.inj_accepted.eq(self.inj_valid & inject_ok),
            self.inj_refused.eq(self.inj_valid & ~inject_ok),
        ]
        # s mod D for D = 1 .. 16 (docs/spec.md §2): 0 after a state reset, advanced by each barrier.
        step_mods = [Signal(4, name=f"step_mod{d}") for d in range(1, isa.PERIOD_MAX + 1)]
        for d, counter in enumerate(step_mods, start=1):
            with m.If(begin_reset):
                m.d.sync += counter.eq(0)
            with m.Elif(barrier):
                m.d.sync += counter.eq(Mux(counter == d - 1, 0, counter + 1))
        for core_id, core in enumerate(cores):
            delivered = router.deliver_valid & (router.deliver_core == core_id)
            injected = self.inj_valid & inject_ok & (self.inj_core == core_id)
            m.d.comb += [
                core.start.eq(start),
                core.step_mod.eq(Cat(*step_mods)),
                core.reset_state.eq(begin_reset),
                core.barrier.eq(barrier),
                core.ev_in_valid.eq(delivered | injected),
                core.cfg_space.eq(addr.space),
                core.cfg_index.eq(addr.index),
                core.cfg_wdata.eq(self.cfg_wdata),
                core.cfg_write.eq(self.cfg_write & ~self.busy & (addr.core == core_id)),
                core.outq_addr.eq(router.outq_addr),
                router.outq_count[core_id].eq(core.outq_count),
                router.outq_data[core_id].eq(core.outq_data),
                router.ev_full[core_id].eq(core.ev_full),
            ]
            with m.If(router.deliver_valid):
                m.d.comb += [core.ev_in.axon.eq(router.deliver_axon), core.ev_in.payload.eq(router.deliver_payload)]
            with m.Else():
                m.d.comb += [core.ev_in.axon.eq(self.inj_axon), core.ev_in.payload.eq(self.inj_payload)]
            with m.If(~router.active):
                m.d.comb += core.outq_addr.eq(addr.index)

        # Reads: every core's ports follow the index; the core (or the array registers) is chosen a
        # cycle later, when the data is there.
        rd_core = Signal(isa.CORE_ID_BITS)
        rd_array = Signal(isa.WORD_BITS)
        m.d.sync += [rd_core.eq(addr.core), self.cfg_rvalid.eq(self.cfg_read)]
        registers = {
            ArrayRegister.MAGIC: MAGIC_WORD,
            ArrayRegister.VERSION: isa.IMAGE_VERSION,
            ArrayRegister.CORES: cfg.cores,
            ArrayRegister.NEURONS: cfg.neurons,
            ArrayRegister.WEIGHT_BYTES: cfg.weight_bytes,
            ArrayRegister.IMEM_DEPTH: cfg.imem_depth,
            ArrayRegister.EVENT_DEPTH: cfg.event_depth,
            ArrayRegister.FANOUT_DEPTH: cfg.fanout_depth,
            ArrayRegister.CYCLE_LO: cycle[:32],
            ArrayRegister.CYCLE_HI: cycle[32:],
            ArrayRegister.BUSY: self.busy,
            ArrayRegister.CHIPS: cfg.chips,
            ArrayRegister.CHIP: self.chip or 0,
        }
        with m.Switch(addr.index):
            for register, value in registers.items():
                with m.Case(int(register)):
                    m.d.sync += rd_array.eq(value)
            with m.Default():
                m.d.sync += rd_array.eq(0)
        core_rdata = Array(core.cfg_rdata for core in cores)
        with m.If(rd_core == isa.HOST_CORE):
            m.d.comb += self.cfg_rdata.eq(rd_array)
        with m.Elif(rd_core < cfg.cores):
            m.d.comb += self.cfg_rdata.eq(core_rdata[rd_core])

        # --- trace port: this cycle's records, registered once; then signed --------------------------
        # The port is one wide vector; it is assembled with a single Cat from narrow registers, because
        # every reference to a slice of a 7,500-bit signal costs Amaranth time and memory in its width.
        trace_cycle = Signal(CYCLE_BITS)
        trace_active = Signal()
        trace_route = Signal(ROUTE_RECORD)
        trace_cores = [Signal(CORE_RECORD, name=f"trace_core{core_id}") for core_id in range(cfg.cores)]
        m.d.sync += [trace_cycle.eq(cycle), trace_active.eq(running), trace_route.eq(router.record)]
        m.d.sync += [record.eq(core.trace) for record, core in zip(trace_cores, cores, strict=True)]
        m.d.comb += self.trace_port.eq(Cat(trace_cycle, trace_active, trace_route, *trace_cores))
        m.d.comb += [
            self.out_valid.eq(trace_route.valid & (trace_route.kind == int(isa.TraceKind.OUT))),
            self.out_core.eq(trace_route.core),
            self.out_axon.eq(trace_route.axon),
            self.out_payload.eq(trace_route.payload),
            signer.trace.eq(self.trace_port),
            self.sig_valid.eq(signer.valid),
            self.sig_cycle.eq(signer.cycle),
            self.sig_value.eq(signer.value),
            self.sig_count.eq(signer.count),
            self.sig_history.eq(signer.history),
            self.sig_cycles.eq(signer.cycles),
            self.sig_records.eq(signer.records),
        ]
        return m

