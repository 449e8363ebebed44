"""The spike router: delivers the out-queues of all cores after the barrier (docs/spec.md §2).

Delivery is serial, one entry per cycle over the whole array: source cores in ascending id, each core's
out-queue in push order. Empty out-queues cost no cycle, so a step with ``D`` queued spikes delivers
in exactly ``D`` cycles.

>>> from spikecore.config import ChipConfig
>>> router = Router(ChipConfig(cores=4))
>>> len(router.outq_count)
4
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.layout import OUTQ_ENTRY
from spikecore.rtl.trace_port import ROUTE_RECORD


class Router(wiring.Component):
    """Serial router of an array of ``config.cores`` cores.

    Members
    -------
    arm: In(1)
        The barrier cycle. The router picks the lowest core with a non-empty out-queue and addresses
        its entry 0, or reports ``has_work = 0``.
    has_work: Out(1)
        In the barrier cycle: at least one entry will be delivered (the next cycle is a delivery).
    last: Out(1)
        In a delivery cycle: this is the step's last delivery.
    active: Out(1)
        The out-queue read address belongs to the router (barrier and delivery cycles).
    outq_addr: Out
        Out-queue read address, broadcast to every core (each core's data arrives one cycle later).
    outq_count, outq_data, ev_full: In, one per core
        Each core's out-queue length, out-queue read data and input-buffer-full flag.
    deliver_valid, deliver_core, deliver_axon, deliver_payload: Out
        An event for core ``deliver_core`` (never HOST_CORE) this cycle.
    record: Out(ROUTE_RECORD)
        This cycle's EVENT, DROP or OUT record.
    """

    def __init__(self, config: ChipConfig) -> None:
        if not isinstance(config, ChipConfig):
            raise SpikeCoreError(f"Router: config must be a ChipConfig, not {config!r}")
        self.config = config
        super().__init__({
            "arm": In(1),
            "has_work": Out(1),
            "last": Out(1),
            "active": Out(1),
            "outq_addr": Out(range(config.fanout_depth)),
            "outq_count": In(range(config.fanout_depth + 1)).array(config.cores),
            "outq_data": In(OUTQ_ENTRY).array(config.cores),
            "ev_full": In(1).array(config.cores),
            "deliver_valid": Out(1),
            "deliver_core": Out(isa.CORE_ID_BITS),
            "deliver_axon": Out(isa.AXON_BITS),
            "deliver_payload": Out(OUTQ_ENTRY["payload"].shape),
            "record": Out(ROUTE_RECORD),
        })

    def elaborate(self, platform):
        """A cursor ``(source, index)`` walks the out-queues. The next cursor is computed in the cycle
        before it is used, so the out-queues' synchronous read ports deliver the entry on time: the
        next index of the same core, or entry 0 of the lowest non-empty core above the current one
        (a priority encoder), or nothing."""
        m = Module()
        cores = self.config.cores
        delivering = Signal()
        core_index = range(max(cores, 2))  # never zero bits wide (Verilog has no empty vectors)
        source = Signal(core_index)
        index = Signal(range(self.config.fanout_depth + 1))

        nonempty = Signal(cores)     # core c has something to deliver
        above = Signal(cores)        # ... and c is above the current source (core 0 never is)
        m.d.comb += [
            nonempty.eq(Cat(*(count != 0 for count in self.outq_count))),
            above.eq(Cat(Const(0, 1), *(nonempty[core_id] & (source < core_id) for core_id in range(1, cores)))),
        ]

        def lowest(mask, name):
            """The lowest set bit of ``mask``: later assignments win, so scan from the top down."""
            found, which = Signal(name=f"{name}_found"), Signal(core_index, name=f"{name}_core")
            for core_id in reversed(range(cores)):
                with m.If(mask[core_id]):
                    m.d.comb += [found.eq(1), which.eq(core_id)]
            return found, which

        first_found, first_core = lowest(nonempty, "first")
        next_found, next_core = lowest(above, "next")

        m.d.comb += self.active.eq(self.arm | delivering)
        with m.If(self.arm):
            m.d.comb += [self.has_work.eq(first_found), self.outq_addr.eq(0)]
            m.d.sync += [delivering.eq(first_found), source.eq(first_core), index.eq(0)]

        # Each selection is materialised once, so the N-way multiplexers are built once (an Array indexed
        # by another Array's output would be N x N).
        entry = Signal(OUTQ_ENTRY)
        count = Signal.like(self.outq_count[0])
        full = Signal()
        m.d.comb += [
            entry.eq(Array(self.outq_data)[source]),
            count.eq(Array(self.outq_count)[source]),
            full.eq(Array(self.ev_full)[entry.core]),
        ]
        with m.If(delivering):
            with m.If(index + 1 < count):
                m.d.comb += self.outq_addr.eq(index + 1)
                m.d.sync += index.eq(index + 1)
            with m.Elif(next_found):
                m.d.comb += self.outq_addr.eq(0)
                m.d.sync += [source.eq(next_core), index.eq(0)]
            with m.Else():
                m.d.comb += self.last.eq(1)
                m.d.sync += delivering.eq(0)

            to_host = entry.core == isa.HOST_CORE
            # A fan-out entry naming a core outside the array (the loader rejects it) is reported as dropped.
            exists = entry.core < cores
            m.d.comb += [
                self.deliver_valid.eq(~to_host & exists),
                self.deliver_core.eq(entry.core),
                self.deliver_axon.eq(entry.axon),
                self.deliver_payload.eq(entry.payload),
                self.record.valid.eq(1),
                self.record.axon.eq(entry.axon),
                self.record.payload.eq(entry.payload),
            ]
            with m.If(to_host):
                m.d.comb += [self.record.kind.eq(int(isa.TraceKind.OUT)), self.record.core.eq(source)]
            with m.Else():
                m.d.comb += self.record.core.eq(entry.core)
                with m.If(full | ~exists):
                    m.d.comb += self.record.kind.eq(int(isa.TraceKind.DROP))
                with m.Else():
                    m.d.comb += self.record.kind.eq(int(isa.TraceKind.EVENT))
        return m
