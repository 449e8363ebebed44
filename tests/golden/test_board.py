"""The golden board (docs/spec.md §13): link latency, FIFO order, a full link queue, against hand-derived
records; the functional board against the cycle-accurate one; a one-chip board against CycleChip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikecore.compiler.asm import assemble
from spikecore.errors import SpikeCoreError
from spikecore.golden.board import CycleBoard, FunctionalBoard, run_board
from spikecore.golden.cycle import CycleChip
from spikecore.image import Image
from spikecore.isa import LINK_LATENCY_CYCLES, LINK_QUEUE_DEPTH, TraceKind
from spikecore.trace import chip_records, read_trace, write_trace
from tests.ground.test_image import images

SPIKE, EVENT, OUT, LINK, LINK_FULL = (int(TraceKind[k]) for k in ("SPIKE", "EVENT", "OUT", "LINK", "LINK_FULL"))
FIRE1 = "fire neuron=0, count={count}, shift=0, reset=none, graded=0\nhalt\n"


def chip_text(cores: int, chips: int, event_depth: int = 8) -> str:
    return (f".chip cores={cores} neurons=4 weight_bytes=16 imem_depth=8 event_depth={event_depth} fanout_depth=8 "
            f"chips={chips}\n")


def rows(trace: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in r) for r in trace.tolist()]


def test_constants_the_hand_derivations_below_assume() -> None:
    assert (LINK_LATENCY_CYCLES, LINK_QUEUE_DEPTH) == (3, 4)


def test_one_event_over_a_link_arrives_after_the_latency() -> None:
    # chip 0 core 0 neuron 0 (init 1 >= threshold 1) fires every step; its one fan-out entry is chip 1 core 0 axon 3.
    # EXEC: FIRE issues on 0, neuron 0 on 1 (SPIKE), its push on 2, HALT on 3: E = 4; barrier 4; DELIVER from 5:
    # d=0 (cycle 5) the router pushes onto link 0->1 (LINK, fill 1); chip 1 takes it on d=3 (cycle 8): EVENT.
    # D = 4, so the next step starts on 4 + 1 + 4 = 9.
    image = assemble(chip_text(2, 2) + ".core 0:0\n" + FIRE1.format(count=1)
                     + ".neuron 0 threshold=1 init=1 fanout_count=1\n.fanout 0: 1:0:3\n", "b.s")
    board = CycleBoard(image)
    trace = board.step()
    assert rows(trace) == [(1, 0, 0, SPIKE, 0, 1), (5, 0, 0, LINK, 1, 1), (8, 1, 0, EVENT, 3, 1)]
    assert board.cycle == 9 and board.step_starts == [0]
    assert board.chips[1].buffered_events(0) == [(3, 1)]
    assert board.link_events.tolist() == [[0, 1], [0, 0]]


def test_local_delivery_goes_between_link_pushes_and_one_link_keeps_fifo_order() -> None:
    # Neuron 0 -> (chip 1 core 0 axon 0), (chip 0 core 1 axon 5); neuron 1 -> (chip 1 core 0 axon 1).
    # EXEC: FIRE issue 0; neuron 0 on 1, pushes 2, 3; neuron 1 on 1 + 1 + 2 = 4, push 5; HALT on 6: E = 7.
    # DELIVER from 8: d0 push e0 (fill 1); d1 local EVENT core 1 axon 5; d2 push e2 (fill 2); d3 chip 1 takes e0;
    # d4 nothing is due (e2 was pushed on d2); d5 takes e2. D = 6: next step on 7 + 1 + 6 = 14.
    image = assemble(chip_text(2, 2) + ".core 0:0\n" + FIRE1.format(count=2)
                     + ".neuron 0 threshold=1 init=1 fanout_start=0 fanout_count=2\n"
                       ".neuron 1 threshold=1 init=1 fanout_start=2 fanout_count=1\n"
                       ".fanout 0: 1:0:0 0:1:5 1:0:1\n", "b.s")
    board = CycleBoard(image)
    trace = board.step()
    assert rows(trace) == [(1, 0, 0, SPIKE, 0, 1), (4, 0, 0, SPIKE, 1, 1),
                           (8, 0, 0, LINK, 1, 1), (9, 0, 1, EVENT, 5, 1), (10, 0, 0, LINK, 1, 2),
                           (11, 1, 0, EVENT, 0, 1), (13, 1, 0, EVENT, 1, 1)]
    assert board.cycle == 14
    assert board.chips[1].buffered_events(0) == [(0, 1), (1, 1)]


def test_a_full_link_stalls_its_router_with_a_link_full_record() -> None:
    # Chips 1 and 2 each send 6 events to chip 0 core 0 (axons 0..5 and 10..15). E = 9 (FIRE: issue, neuron,
    # 6 pushes; HALT), DELIVER from 10. Both routers push on d0, d1, d2 (fills 1, 2, 3). Chip 0 takes round robin
    # from d3 on, link 1->0 first: d3 a0 (1->0 back to 2, push a3: 3; 2->0 takes b3: 4), d4 b0 (2->0: 3, push b4:
    # 4; 1->0 takes a4: 4), d5 a1 (1->0: 3, push a5: 4) while 2->0 is full: chip 2 stalls (LINK_FULL), d6 b1
    # (push b5: 4), then a2, b2, a3, b3, a4, b4, a5, b5 alternate on d7..d14. D = 15: next step on 9 + 1 + 15 = 25.
    sender = ".core {chip}:0\n" + FIRE1.format(count=1) + ".neuron 0 threshold=1 init=1 fanout_count=6\n.fanout 0:"
    image = assemble(chip_text(1, 3, event_depth=16)
                     + sender.format(chip=1) + "".join(f" 0:0:{a}" for a in range(6)) + "\n"
                     + sender.format(chip=2) + "".join(f" 0:0:{a}" for a in range(10, 16)) + "\n", "b.s")
    board = CycleBoard(image)
    trace = board.step()
    links = [(r[0] - 10, r[1], r[3], r[5]) for r in rows(trace) if r[3] in (LINK, LINK_FULL)]
    assert links == [(0, 1, LINK, 1), (0, 2, LINK, 1), (1, 1, LINK, 2), (1, 2, LINK, 2), (2, 1, LINK, 3),
                     (2, 2, LINK, 3), (3, 1, LINK, 3), (3, 2, LINK, 4), (4, 1, LINK, 4), (4, 2, LINK, 4),
                     (5, 1, LINK, 4), (5, 2, LINK_FULL, 4), (6, 2, LINK, 4)]
    arrivals = [(r[0] - 10, r[4]) for r in rows(trace) if r[3] == EVENT]
    assert arrivals == [(3, 0), (4, 10), (5, 1), (6, 11), (7, 2), (8, 12), (9, 3), (10, 13), (11, 4), (12, 14),
                        (13, 5), (14, 15)]
    assert board.cycle == 25
    assert board.link_stalls[2, 0] == 1 and board.link_events[1, 0] == board.link_events[2, 0] == 6
    assert board.drops.sum() == 0
    # the next step: the round robin starts again from chip 0, so the same records 25 cycles later
    again = board.step()
    assert rows(again) == [(r[0] + 25, *r[1:]) for r in rows(trace)]


def test_host_outputs_come_from_any_chip_without_a_link() -> None:
    # chip 1 core 1 (global core 3) fires to the host, axon 9: OUT on d0 of DELIVER (E = 4, so cycle 5).
    image = assemble(chip_text(2, 2) + ".core 1:1\n" + FIRE1.format(count=1)
                     + ".neuron 0 threshold=1 init=1 fanout_count=1\n.fanout 0: host:9\n", "b.s")
    board, trace = run_board(image, steps=2)
    assert [(o.step, o.core, o.axon, o.payload) for o in board.outputs] == [(0, 3, 9, 1), (1, 3, 9, 1)]
    assert rows(trace)[:2] == [(1, 1, 1, SPIKE, 0, 1), (5, 1, 1, OUT, 9, 1)]
    assert board.link_events.sum() == 0


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_board_trace_file_round_trips_with_its_chip_column(tmp_path, suffix: str) -> None:
    image = assemble(chip_text(2, 2) + ".core 0:0\n" + FIRE1.format(count=1)
                     + ".neuron 0 threshold=1 init=1 fanout_count=1\n.fanout 0: 1:0:3\n", "b.s")
    _, trace = run_board(image, steps=2)
    path = tmp_path / f"t{suffix}"
    write_trace(path, trace)
    first = path.read_text().splitlines()[:2]
    assert first[0 if suffix == ".jsonl" else 1].count("SPIKE") == 1
    if suffix == ".csv":
        assert first == ["cycle,chip,core,kind,index,value", "1,0,0,SPIKE,0,1"]
    back = read_trace(path)
    assert back.dtype == trace.dtype and len(back) == 6 and np.array_equal(back, trace)


def test_host_view_uses_global_core_ids() -> None:
    board = FunctionalBoard(assemble(chip_text(2, 3) + ".core 0\nhalt\n", "b.s"))
    board.inject(5, 2, -7)                      # chip 2, core 1
    assert board.chips[2].buffered_events(1) == [(2, -7)]
    assert board.membranes.shape == (6, 4)
    with pytest.raises(SpikeCoreError, match=r"^inject: core must be a board core 0\.\.5, not 6$"):
        board.inject(6, 0, 1)


def test_single_chip_models_refuse_a_board_image() -> None:
    image = assemble(chip_text(2, 2) + ".core 0\nhalt\n", "b.s")
    with pytest.raises(SpikeCoreError, match=r"^image is a board of 2 chips; the single-chip models run one chip"):
        CycleChip(image)


def _stimulus(draw: st.DrawFn, image: Image, steps: int) -> dict[int, list[tuple[int, int, int]]]:
    config = image.config
    room = min(config.event_depth, 3)
    return {step: [(core, draw(st.integers(0, 15)), draw(st.integers(-128, 127)))
                   for core in draw(st.lists(st.integers(0, config.board_cores - 1), max_size=room, unique=True))
                   for _ in range(1)]
            for step in range(steps)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(image=images(max_chips=3), data=st.data())
def test_functional_board_equals_the_cycle_board(image: Image, data: st.DataObject) -> None:
    events = _stimulus(data.draw, image, 3)
    cycle, trace = run_board(image, events, steps=3)
    functional, _ = run_board(image, events, steps=3, cycle_accurate=False)
    assert cycle.cycle == functional.cycle and cycle.step_starts == functional.step_starts
    for name in ("membranes", "currents", "drops", "spike_counts", "link_events", "link_stalls"):
        assert np.array_equal(getattr(cycle, name), getattr(functional, name)), name
    assert np.array_equal(cycle.event_counts(), functional.event_counts())
    assert cycle.outputs == functional.outputs
    # the trace accounts for every link push and stall the counters saw
    assert (trace["kind"] == LINK).sum() == cycle.link_events.sum()
    assert (trace["kind"] == LINK_FULL).sum() == cycle.link_stalls.sum()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=images(), data=st.data())
def test_a_one_chip_board_is_the_chip(image: Image, data: st.DataObject) -> None:
    events = _stimulus(data.draw, image, 3)
    board, trace = run_board(image, events, steps=3)
    chip = CycleChip(image)
    expected = []
    for step in range(3):
        for core, axon, payload in events[step]:
            chip.inject(core, axon, payload)
        expected.append(chip.step())
    expected = np.concatenate(expected)
    assert np.array_equal(chip_records(trace, 0), expected)
    assert board.cycle == chip.cycle and np.array_equal(board.membranes, chip.membranes)
    assert board.outputs == chip.outputs
