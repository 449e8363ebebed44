# amaranth: UnusedElaboratable=no
"""The RTL link (rtl/link.py) in Amaranth's simulator: hand-derived fills and stall, and cycle by cycle against
the link of the golden board's DELIVER (docs/spec.md §13: due ``LINK_LATENCY_CYCLES`` after the push, FIFO,
``LINK_QUEUE_DEPTH`` deep, a take frees its slot for a push in the same cycle)."""

from __future__ import annotations

import random
from collections import deque

import pytest
from amaranth.sim import Simulator

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.isa import LINK_LATENCY_CYCLES, LINK_QUEUE_DEPTH
from spikecore.rtl.array import SpikeCoreArray
from spikecore.rtl.link import Link


def simulate(plan: list[tuple[tuple[int, int, int] | None, bool]]) -> list[tuple[int, int, int, tuple | None]]:
    """Drive ``plan[c] = (event to push or None, take when due)`` on cycle c; per cycle (due, full, fill, taken)."""
    dut = Link()
    seen: list[tuple[int, int, int, tuple | None]] = []

    async def bench(ctx) -> None:
        for push, want in plan:
            ctx.set(dut.push_valid, push is not None)
            if push is not None:
                ctx.set(dut.push, {"core": push[0], "axon": push[1], "payload": push[2]})
            due = ctx.get(dut.due)
            ctx.set(dut.take, want and due)
            head = ctx.get(dut.head)
            taken = (head.core, head.axon, head.payload) if want and due else None
            seen.append((due, ctx.get(dut.full), ctx.get(dut.fill), taken))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def test_the_array_is_one_chip() -> None:
    with pytest.raises(SpikeCoreError, match=r"^SpikeCoreArray: the array is one chip, not a board of 2 chips$"):
        SpikeCoreArray(ChipConfig(cores=2, chips=2))


def test_constants_the_hand_derivation_assumes() -> None:
    assert (LINK_LATENCY_CYCLES, LINK_QUEUE_DEPTH) == (3, 4)


def test_pushes_without_takes_fill_the_link_then_it_is_full() -> None:
    # pushes on cycles 0..4, nobody takes: fills 1, 2, 3, 4, then full (the push on 4 does not enter); the head
    # (pushed on 0) is due from cycle 3.
    seen = simulate([((1, k, k), False) for k in range(5)])
    assert [(due, full, fill) for due, full, fill, _ in seen] == [
        (0, 0, 1), (0, 0, 2), (0, 0, 3), (1, 0, 4), (1, 1, 4)]


def test_a_take_frees_a_slot_for_a_push_in_the_same_cycle() -> None:
    # 4 pushes on 0..3, a take wanted from cycle 3: cycle 3 takes event 0 (due: 0 + 3) and pushes event 3 into
    # the slot it freed, fill 3 - 1 + 1 = 3 (the link is never full); event k is then taken on cycle 3 + k.
    plan = [((0, k, -k), k >= 3) for k in range(4)] + [(None, True)] * 4
    seen = simulate(plan)
    assert [fill for _, _, fill, _ in seen] == [1, 2, 3, 3, 2, 1, 0, 0]
    assert [taken for *_, taken in seen] == [None, None, None, (0, 0, 0), (0, 1, -1), (0, 2, -2), (0, 3, -3), None]
    assert not any(full for _, full, _, _ in seen)


def _model(plan: list[tuple[tuple[int, int, int] | None, bool]]) -> list[tuple[int, int, int, tuple | None]]:
    """The link as golden/board.py's DELIVER runs it, written out here."""
    link: deque[tuple[int, tuple[int, int, int]]] = deque()
    out = []
    for cycle, (push, want) in enumerate(plan):
        due = bool(link) and link[0][0] <= cycle - LINK_LATENCY_CYCLES
        taken = link.popleft()[1] if want and due else None
        full = len(link) >= LINK_QUEUE_DEPTH
        if push is not None and not full:
            link.append((cycle, push))
        out.append((int(due), int(full), len(link), taken))
    return out


def test_random_traffic_matches_the_golden_link() -> None:
    rng = random.Random(5)
    plan = [((rng.randrange(4), rng.randrange(256), rng.randrange(-128, 128)) if rng.random() < 0.7 else None,
             rng.random() < 0.4) for _ in range(400)]
    seen = simulate(plan)
    assert sum(1 for *_, taken in seen if taken) > 50 and sum(full for _, full, _, _ in seen) > 10
    assert seen == _model(plan)
