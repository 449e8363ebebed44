"""One chip-to-chip link of a board (docs/spec.md §13): a FIFO of ``LINK_QUEUE_DEPTH`` events with a latency.

The building block of the board top (:mod:`spikecore.rtl.board`): the sending chip's router pushes an out-queue entry
(``push``), the receiving chip's router takes the head once it is due (``due`` / ``take``). An event pushed in
cycle ``x`` is due from cycle ``x + LINK_LATENCY_CYCLES``. In one cycle a take happens before a push (spec: a
router takes arrivals first), so ``full`` already counts the slot a take frees in the same cycle.

>>> link = Link()
>>> link.signature.members["push"].shape
StructLayout({'core': unsigned(8), 'axon': unsigned(8), 'payload': signed(24)})
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikecore.isa import LINK_LATENCY_CYCLES, LINK_QUEUE_DEPTH
from spikecore.rtl.layout import LINK_EVENT


class Link(wiring.Component):
    """A link ``a -> b``: ``LINK_QUEUE_DEPTH`` slots, each with the event and its age in cycles.

    Members
    -------
    push_valid: In(1), push: In(LINK_EVENT)
        The sender pushes ``push`` this cycle (only while ``full = 0``); it becomes the tail at the clock edge.
    full: Out(1)
        The link holds ``LINK_QUEUE_DEPTH`` events after this cycle's take: a push now would stall (LINK_FULL).
    fill: Out
        Events held after this cycle's take and push (the LINK record's value when ``push_valid``).
    due: Out(1), head: Out(LINK_EVENT)
        The head was pushed at least ``LINK_LATENCY_CYCLES`` cycles ago; ``head`` is it.
    take: In(1)
        The receiver takes the head this cycle (only while ``due = 1``).
    """

    def __init__(self) -> None:
        super().__init__({
            "push_valid": In(1),
            "push": In(LINK_EVENT),
            "full": Out(1),
            "fill": Out(range(LINK_QUEUE_DEPTH + 1)),
            "due": Out(1),
            "head": Out(LINK_EVENT),
            "take": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        depth = LINK_QUEUE_DEPTH
        slots = Array(Signal(LINK_EVENT, name=f"slot{i}") for i in range(depth))
        # Age of each slot's event, saturating at the latency: 1 in the cycle after its push.
        ages = Array(Signal(range(LINK_LATENCY_CYCLES + 1), name=f"age{i}") for i in range(depth))
        head = Signal(range(depth))
        tail = Signal(range(depth))
        count = Signal(range(depth + 1))

        taken = Signal()
        pushed = Signal()
        m.d.comb += [
            self.head.eq(slots[head]),
            self.due.eq((count > 0) & (ages[head] >= LINK_LATENCY_CYCLES)),
            taken.eq(self.take & self.due),
            self.full.eq(count - taken >= depth),
            pushed.eq(self.push_valid & ~self.full),
            self.fill.eq(count - taken + pushed),
        ]
        for i in range(depth):
            with m.If(ages[i] < LINK_LATENCY_CYCLES):
                m.d.sync += ages[i].eq(ages[i] + 1)
        with m.If(taken):
            m.d.sync += head.eq(Mux(head == depth - 1, 0, head + 1))
        with m.If(pushed):
            m.d.sync += [
                slots[tail].eq(self.push),
                ages[tail].eq(1),
                tail.eq(Mux(tail == depth - 1, 0, tail + 1)),
            ]
        m.d.sync += count.eq(count - taken + pushed)
        return m

