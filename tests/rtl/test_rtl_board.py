"""The RTL board (rtl/board.py, docs/spec.md §13) in Amaranth's simulator against hand-derived records and the
golden CycleBoard: links with their latency, FIFO order, a full link's stall (LINK_FULL), a fan-in split across
chips (partial sums over a link into a MERGE), host outputs from any chip, random multi-chip programs.

The hand-derived traces are those of tests/golden/test_board.py (derivations there, from the spec); the RTL's
trace ports must produce exactly them, and :func:`crosscheck` compares the whole run (every record of every chip,
per-chip signatures, membranes, counters, host outputs) with the golden board.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.image import Image
from spikecore.isa import FanoutEntry, TraceKind
from spikecore.rtl.array import SpikeCoreArray
from spikecore.rtl.board import SpikeCoreBoard
from spikecore.rtl.layout import CoreStatus
from spikecore.stimulus import Stimulus
from spikecore.verif.board_host import run_rtl_board, simulate_board
from spikecore.verif.crosscheck import RtlMismatch, compare_runs, crosscheck
from spikecore.verif.random_board import injectable, link_coverage, link_flood, random_board
from tests.golden.test_board import FIRE1, chip_text
from tests.golden.test_golden_merge import _split_neuron_image
from tests.helpers import SMALL_CHIP

pytestmark = pytest.mark.rtl

ACC, SPIKE, EVENT, OUT, LINK, LINK_FULL = (int(TraceKind[k]) for k in ("ACC", "SPIKE", "EVENT", "OUT", "LINK",
                                                                         "LINK_FULL"))


def rows(trace: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in r) for r in trace.tolist()]


def test_one_event_over_a_link_arrives_after_the_latency() -> None:
    image = assemble(chip_text(2, 2) + ".core 0:0\n" + FIRE1.format(count=1)
                     + ".neuron 0 threshold=1 init=1 fanout_count=1\n.fanout 0: 1:0:3\n", "b.s")
    result = crosscheck(image, steps=1)
    assert rows(result.rtl.trace) == [(1, 0, 0, SPIKE, 0, 1), (5, 0, 0, LINK, 1, 1), (8, 1, 0, EVENT, 3, 1)]
    assert result.rtl.cycles == 9 and result.records == 3


def test_local_delivery_between_link_pushes_and_fifo_order_on_one_link() -> None:
    image = assemble(chip_text(2, 2) + ".core 0:0\n" + FIRE1.format(count=2)
                     + ".neuron 0 threshold=1 init=1 fanout_start=0 fanout_count=2\n"
                       ".neuron 1 threshold=1 init=1 fanout_start=2 fanout_count=1\n"
                       ".fanout 0: 1:0:0 0:1:5 1:0:1\n", "b.s")
    result = crosscheck(image, steps=2)
    step0 = [(1, 0, 0, SPIKE, 0, 1), (4, 0, 0, SPIKE, 1, 1), (8, 0, 0, LINK, 1, 1), (9, 0, 1, EVENT, 5, 1),
             (10, 0, 0, LINK, 1, 2), (11, 1, 0, EVENT, 0, 1), (13, 1, 0, EVENT, 1, 1)]
    assert rows(result.rtl.trace) == step0 + [(c + 14, *rest) for c, *rest in step0]


def test_a_full_link_stalls_its_router_with_a_link_full_record() -> None:
    # three one-core chips: chips 1 and 2 each send 6 events to chip 0 core 0 (derivation: tests/golden/test_board.py)
    sender = ".core {chip}:0\n" + FIRE1.format(count=1) + ".neuron 0 threshold=1 init=1 fanout_count=6\n.fanout 0:"
    image = assemble(chip_text(1, 3, event_depth=16)
                     + sender.format(chip=1) + "".join(f" 0:0:{a}" for a in range(6)) + "\n"
                     + sender.format(chip=2) + "".join(f" 0:0:{a}" for a in range(10, 16)) + "\n", "b.s")
    result = crosscheck(image, steps=2)
    trace = rows(result.rtl.trace)
    step0 = [r for r in trace if r[0] < 25]
    links = [(r[0] - 10, r[1], r[3], r[5]) for r in step0 if r[3] in (LINK, LINK_FULL)]
    assert links == [(0, 1, LINK, 1), (0, 2, LINK, 1), (1, 1, LINK, 2), (1, 2, LINK, 2), (2, 1, LINK, 3),
                     (2, 2, LINK, 3), (3, 1, LINK, 3), (3, 2, LINK, 4), (4, 1, LINK, 4), (4, 2, LINK, 4),
                     (5, 1, LINK, 4), (5, 2, LINK_FULL, 4), (6, 2, LINK, 4)]
    assert [(r[0] - 10, r[4]) for r in step0 if r[3] == EVENT] == [
        (3, 0), (4, 10), (5, 1), (6, 11), (7, 2), (8, 12), (9, 3), (10, 13), (11, 4), (12, 14), (13, 5), (14, 15)]
    assert [r for r in trace if r[0] >= 25] == [(r[0] + 25, *r[1:]) for r in step0]   # round robin restarts
    assert result.rtl.cycles == 50 and result.rtl.drops.sum() == 0


def test_partial_sums_cross_a_link_into_a_merging_core_on_another_chip() -> None:
    # tests/golden/test_golden_merge.py's split neuron with its partial-sum core on chip 0 and its merging core on
    # chip 1 (fan-out entries (chip 1, core 0)). EXEC as on one chip (E = 11, then 8); DELIVER: chip 0 pushes both
    # partial sums on d0, d1 (LINK fill 1, 2) while chip 1 sends its host spike on d0; chip 1 takes them on d3, d4
    # (latency 3): D = 5, so step 1 starts on 11 + 1 + 5 = 17 and its records are one-chip step 1's + 2.
    partial, merge = _split_neuron_image().values()
    partial = replace(partial, fanout=[FanoutEntry(0, 1, 1), FanoutEntry(0, 2, 1)])
    image = Image(replace(SMALL_CHIP, cores=1, chips=2), {0: partial, 1: merge})
    stimulus = Stimulus()
    stimulus.add(0, 0, 0, 127)
    stimulus.add(0, 0, 1, 127)
    result = crosscheck(image, stimulus, steps=2)
    assert rows(result.rtl.trace) == [
        (1, 0, 0, ACC, 0, 12700), (2, 0, 0, ACC, 1, -15240), (2, 1, 0, ACC, 1, 1000), (2, 1, 0, SPIKE, 1, 4),
        (3, 0, 0, ACC, 0, 28829), (4, 0, 0, ACC, 1, -8890), (4, 1, 0, ACC, 2, -5),
        (6, 0, 0, ACC, 0, 0), (6, 0, 0, SPIKE, 0, 28829), (8, 0, 0, ACC, 1, 0), (8, 0, 0, SPIKE, 1, -8890),
        (12, 0, 0, LINK, 1, 1), (12, 1, 0, OUT, 7, 4), (13, 0, 0, LINK, 1, 2),
        (15, 1, 0, EVENT, 1, 28829), (16, 1, 0, EVENT, 2, -8890),
        (18, 1, 0, ACC, 1, 29829), (19, 0, 0, ACC, 0, 0), (19, 0, 0, SPIKE, 0, 0), (19, 1, 0, ACC, 2, -8895),
        (21, 0, 0, ACC, 1, 0), (21, 0, 0, SPIKE, 1, 0), (21, 1, 0, ACC, 1, 1000), (21, 1, 0, SPIKE, 1, 117),
        (23, 1, 0, ACC, 2, -5),
        (26, 0, 0, LINK, 1, 1), (26, 1, 0, OUT, 7, 117), (27, 0, 0, LINK, 1, 2),
        (29, 1, 0, EVENT, 1, 0), (30, 1, 0, EVENT, 2, 0),
    ]
    assert result.rtl.outputs == [(0, 1, 7, 4), (1, 1, 7, 117)]
    assert result.rtl.cycles == 31
    assert result.rtl.event_counts[1, 0] == 2    # the merging core's two MERGE adds (synaptic ops), step 1


def _board(chips: int, cores: int) -> ChipConfig:
    return ChipConfig(cores=cores, neurons=8, weight_bytes=64, imem_depth=16, event_depth=16, fanout_depth=16,
                      chips=chips)


@pytest.mark.parametrize(("chips", "cores", "seeds"), [(2, 2, range(3)), (3, 1, range(2)), (3, 2, (4,)),
                                                       (4, 1, (4,))])
def test_random_boards_match_the_golden_board(chips: int, cores: int, seeds) -> None:
    config = _board(chips, cores)
    records = 0
    for seed in seeds:
        image, events, steps = random_board(seed, config, density=0.8)
        records += crosscheck(image, injectable(image, events, steps), steps, allow_empty=True).records
    assert records > 0


def test_a_link_flood_fills_the_link_on_the_rtl() -> None:
    config = _board(3, 1)
    result = crosscheck(link_flood(config, 1, 0), steps=2)
    hits = link_coverage(result.rtl.trace, result.rtl.step_starts, config)
    assert hits["1->0/full"] > 0 and hits["busy"] > 0


def test_the_board_comparison_fails_on_a_changed_record_of_one_chip() -> None:
    image = assemble(chip_text(2, 2) + ".core 0:0\n" + FIRE1.format(count=1)
                     + ".neuron 0 threshold=1 init=1 fanout_count=1\n.fanout 0: 1:0:3\n", "b.s")
    result = crosscheck(image)
    result.rtl.trace["value"][2] = 2       # chip 1's EVENT record
    with pytest.raises(RtlMismatch, match=r"^chip 1 EVENT mismatch"):
        compare_runs(result.golden, result.rtl)


def test_board_host_addresses_chips_and_refuses_a_chip_outside_the_board() -> None:
    config = replace(SMALL_CHIP, cores=2, chips=2)

    async def scenario(host) -> None:
        await host.inject(3, 4, -9)                       # global core 3 = chip 1 core 1
        assert (await host.status(CoreStatus.EVENT_COUNT)).tolist() == [0, 0, 0, 1]
        assert await host.events(3) == [(4, -9)]
        assert await host.events(1) == []
        ctx, dut = host.ctx, host.dut
        ctx.set(dut.inj_valid, 1)
        ctx.set(dut.inj_chip, 2)
        await ctx.tick()
        ctx.set(dut.inj_valid, 0)
        assert ctx.get(dut.inj_refused) == 1 and ctx.get(dut.inj_accepted) == 0
        with pytest.raises(SpikeCoreError, match=r"^image: a board of 3 chips, the RTL board has 2"):
            await host.check_config(replace(config, chips=3))

    simulate_board(config, scenario)


def test_the_array_alone_still_refuses_a_board_and_the_board_has_every_link() -> None:
    config = replace(SMALL_CHIP, chips=3)
    with pytest.raises(SpikeCoreError, match=r"^SpikeCoreArray: the array is one chip, not a board of 3 chips$"):
        SpikeCoreArray(config)
    assert SpikeCoreBoard(config).links == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]


def test_run_rtl_board_reads_global_membranes() -> None:
    image = assemble(chip_text(1, 2) + ".core 1:0\nhalt\n.neuron 2 init=-77\n", "b.s")
    result = run_rtl_board(image, steps=1)
    assert result.membranes.shape == (2, 4) and result.membranes[1, 2] == -77 and result.membranes[0, 2] == 0
