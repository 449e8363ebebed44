"""The spike router: delivers the out-queues of all cores after the barrier (docs/spec.md §2).

Delivery is serial, one entry per cycle over the whole array: source cores in ascending id, each core's
out-queue in push order. Empty out-queues cost no cycle, so a step with ``D`` queued spikes delivers
in exactly ``D`` cycles.

On a board (``chip`` given, docs/spec.md §13) the router of chip ``chip`` also owns the ends of its links:
in a cycle it first takes one due arrival (round robin over the source chips), else sends its next entry,
onto a link when the entry names another chip, or stalls (``LINK_FULL``) when that link is full.

>>> from spikecore.config import ChipConfig
>>> router = Router(ChipConfig(cores=4))
>>> len(router.outq_count)
4
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikecore import isa
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.rtl.layout import LINK_EVENT, OUTQ_ENTRY
from spikecore.rtl.trace_port import ROUTE_RECORD


def _lowest(m: Module, mask: Value, width: int, shape: range, name: str) -> tuple[Signal, Signal]:
    """The lowest set bit of ``mask`` (``width`` bits): later assignments win, so scan from the top down."""
    found, which = Signal(name=f"{name}_found"), Signal(shape, name=f"{name}_core")
    for bit in reversed(range(width)):
        with m.If(mask[bit]):
            m.d.comb += [found.eq(1), which.eq(bit)]
    return found, which


def link_ports(chips: int) -> dict:
    """The router's side of the chip-to-chip links of a board of ``chips`` chips (docs/spec.md §13), one entry per
    destination chip: the out-link's full flag, fill level and push, and the in-link's due head and take. The
    array passes the same ports through to the board."""
    return {
        "link_full": In(1).array(chips),
        "link_fill": In(range(isa.LINK_QUEUE_DEPTH + 1)).array(chips),
        "link_push_valid": Out(1).array(chips),
        "link_push": Out(LINK_EVENT),
        "link_due": In(1).array(chips),
        "link_head": In(LINK_EVENT).array(chips),
        "link_take": Out(1).array(chips),
    }


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
        This cycle's EVENT, DROP or OUT record (on a board also LINK and LINK_FULL).

    Board members (only with ``chip``; index = the other chip, the own index unused)
    --------------------------------------------------------------------------------
    link_full, link_fill: In, per destination chip
        The outgoing link's ``full`` and ``fill`` (:class:`spikecore.rtl.link.Link`).
    link_push_valid: Out, per destination chip; link_push: Out(LINK_EVENT)
        Push ``link_push`` on the link to that chip (the link ignores it while full).
    link_due, link_head: In, per source chip; link_take: Out, per source chip
        The incoming links' due heads; the one taken this cycle.
    idle_next: Out(1)
        After this cycle the router has no out-queue entry left to send (the board ends DELIVER when every
        router says so and every link is empty).
    """

    def __init__(self, config: ChipConfig, chip: int | None = None) -> None:
        if not isinstance(config, ChipConfig):
            raise SpikeCoreError(f"Router: config must be a ChipConfig, not {config!r}")
        if chip is not None and (isinstance(chip, bool) or not isinstance(chip, int) or not 0 <= chip < config.chips):
            raise SpikeCoreError(f"Router: chip must be 0..{config.chips - 1}, not {chip!r}")
        self.config = config
        self.chip = chip
        board = {}
        if chip is not None:
            board = {**link_ports(config.chips), "idle_next": Out(1)}
        super().__init__({
            **board,
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

        first_found, first_core = _lowest(m, nonempty, cores, core_index, "first")
        next_found, next_core = _lowest(m, above, cores, core_index, "next")

        m.d.comb += self.active.eq(self.arm | delivering)
        # --- board: take one due arrival (round robin over the source chips, §13) ----------------------
        board = self.chip is not None
        take = Signal()                       # this cycle the router takes an arrival (and sends nothing)
        head = Signal(LINK_EVENT)
        if board:
            chips = self.config.chips
            chip_index = range(max(chips, 2))
            served = Signal(chip_index)       # the source chip taken from last ...
            served_none = Signal()            # ... or none yet in this DELIVER (chip 0 comes first)
            due = Signal(chips)
            after = Signal(chips)
            m.d.comb += [
                due.eq(Cat(*(self.link_due[a] if a != self.chip else Const(0, 1) for a in range(chips)))),
                # chip 0 is never after the one served last, only first when none was (a lint-clean constant)
                after.eq(Cat(due[0] & served_none, *(due[a] & (served_none | (served < a)) for a in range(1, chips)))),
            ]
            after_found, after_chip = _lowest(m, after, chips, chip_index, "after")
            any_found, any_chip = _lowest(m, due, chips, chip_index, "due")
            source_chip = Signal(chip_index)
            m.d.comb += [
                take.eq(any_found),
                source_chip.eq(Mux(after_found, after_chip, any_chip)),
                head.eq(Array(self.link_head)[source_chip]),
            ]
            for a in range(chips):
                if a != self.chip:
                    m.d.comb += self.link_take[a].eq(take & (source_chip == a))
            with m.If(self.arm):
                m.d.sync += served_none.eq(1)
            with m.Elif(take):
                m.d.sync += [served.eq(source_chip), served_none.eq(0)]

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
        ]
        to_host = entry.core == isa.HOST_CORE
        remote = Signal()    # the entry names another chip of the board: it goes on a link
        stall = Signal()     # ... whose link is full: the entry stays, the cycle is spent (LINK_FULL)
        if board:
            m.d.comb += [
                remote.eq(~to_host & (entry.chip != self.chip) & (entry.chip < self.config.chips)),
                stall.eq(remote & Array(self.link_full)[entry.chip]),
            ]
        sending = Signal()   # the router sends (or stalls on) its current entry this cycle
        advance = Signal()   # ... and the entry leaves the out-queue
        m.d.comb += [sending.eq(delivering & ~take), advance.eq(sending & ~stall)]

        last_entry = Signal()
        with m.If(delivering):
            with m.If(~advance):
                m.d.comb += self.outq_addr.eq(index)      # hold: read the same entry again
            with m.Elif(index + 1 < count):
                m.d.comb += self.outq_addr.eq(index + 1)
                m.d.sync += index.eq(index + 1)
            with m.Elif(next_found):
                m.d.comb += self.outq_addr.eq(0)
                m.d.sync += [source.eq(next_core), index.eq(0)]
            with m.Else():
                m.d.comb += last_entry.eq(1)
                m.d.sync += delivering.eq(0)
        m.d.comb += self.last.eq(last_entry)
        if board:
            m.d.comb += self.idle_next.eq(~delivering | last_entry)

        # What reaches a core of this chip: the arrival taken, else the entry sent to a local core.
        ev_core = Signal(isa.CORE_ID_BITS)
        ev_axon = Signal(isa.AXON_BITS)
        ev_payload = Signal(OUTQ_ENTRY["payload"].shape)
        m.d.comb += [
            ev_core.eq(Mux(take, head.core, entry.core)),
            ev_axon.eq(Mux(take, head.axon, entry.axon)),
            ev_payload.eq(Mux(take, head.payload, entry.payload)),
            full.eq(Array(self.ev_full)[ev_core]),
        ]
        # A fan-out entry naming a core outside the array (the loader rejects it) is reported as dropped.
        exists = ev_core < cores
        if board:   # ... and so is one naming a chip outside the board (neither remote nor local)
            exists = exists & (take | (entry.chip == self.chip))

        def to_core() -> None:
            m.d.comb += [
                self.deliver_valid.eq(exists),
                self.deliver_core.eq(ev_core),
                self.deliver_axon.eq(ev_axon),
                self.deliver_payload.eq(ev_payload),
                self.record.valid.eq(1),
                self.record.core.eq(ev_core),
                self.record.axon.eq(ev_axon),
                self.record.payload.eq(ev_payload),
            ]
            with m.If(full | ~exists):
                m.d.comb += self.record.kind.eq(int(isa.TraceKind.DROP))
            with m.Else():
                m.d.comb += self.record.kind.eq(int(isa.TraceKind.EVENT))

        with m.If(take):
            to_core()
        with m.Elif(sending):
            with m.If(to_host):
                m.d.comb += [
                    self.record.valid.eq(1),
                    self.record.kind.eq(int(isa.TraceKind.OUT)),
                    self.record.core.eq(source),
                    self.record.axon.eq(entry.axon),
                    self.record.payload.eq(entry.payload),
                ]
            if board:
                with m.Elif(remote):
                    # LINK / LINK_FULL (§13): source core, index = destination chip, value = fill / depth.
                    m.d.comb += [
                        self.record.valid.eq(1),
                        self.record.core.eq(source),
                        self.record.axon.eq(entry.chip),
                    ]
                    with m.If(stall):
                        m.d.comb += [self.record.kind.eq(int(isa.TraceKind.LINK_FULL)),
                                     self.record.payload.eq(isa.LINK_QUEUE_DEPTH)]
                    with m.Else():
                        m.d.comb += [self.record.kind.eq(int(isa.TraceKind.LINK)),
                                     self.record.payload.eq(Array(self.link_fill)[entry.chip])]
                    m.d.comb += [
                        self.link_push.core.eq(entry.core),
                        self.link_push.axon.eq(entry.axon),
                        self.link_push.payload.eq(entry.payload),
                    ]
                    for b in range(self.config.chips):
                        if b != self.chip:
                            m.d.comb += self.link_push_valid[b].eq(entry.chip == b)
            with m.Else():
                to_core()
        return m
