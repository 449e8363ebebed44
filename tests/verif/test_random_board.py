"""Random multi-chip programs (2-4 chips of 3 cores) on the golden board: the cycle-accurate board equals the
functional one on every program, and the programs plus one link-flood edge program per link cover every bin of
the link coverpoint (docs/spec.md §13; verif/random_board.py)."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.config import ChipConfig
from spikecore.isa import TraceKind
from spikecore.trace import BOARD_TRACE_DTYPE
from spikecore.verif.random_board import link_bins, link_coverage, link_flood, random_board, run_random

LINK, LINK_FULL, EVENT = int(TraceKind.LINK), int(TraceKind.LINK_FULL), int(TraceKind.EVENT)


def board(chips: int) -> ChipConfig:
    return ChipConfig(cores=3, neurons=8, weight_bytes=64, imem_depth=16, event_depth=16, fanout_depth=16,
                      chips=chips)


def test_link_bins_by_hand() -> None:
    assert link_bins(board(1)) == []
    assert link_bins(board(2)) == ["idle", "busy", "0->1", "1->0"]
    assert len(link_bins(board(3))) == 2 + 6 + 6 and "2->1/full" in link_bins(board(3))


def test_link_coverage_of_a_hand_made_trace() -> None:
    # steps start on 0, 10, 20. Step 0: links 0->1 and 2->1 push on cycle 5 (busy), 2->1 stalls on 6; step 1 uses
    # no link (idle); step 2: 1->0 on 22. An EVENT record is no link traffic.
    trace = np.array([(5, 0, 0, LINK, 1, 1), (5, 2, 1, LINK, 1, 4), (6, 2, 1, LINK_FULL, 1, 4),
                      (13, 1, 0, EVENT, 3, 1), (22, 1, 2, LINK, 0, 1)], dtype=BOARD_TRACE_DTYPE)
    hits = link_coverage(trace, [0, 10, 20], board(3))
    assert {k: v for k, v in hits.items() if v} == {"idle": 1, "busy": 1, "0->1": 1, "2->1": 1, "1->0": 1,
                                                    "2->1/full": 1}


def _same_state(cycle, functional) -> None:
    assert cycle.cycle == functional.cycle and cycle.step_starts == functional.step_starts
    for name in ("membranes", "currents", "drops", "spike_counts", "link_events", "link_stalls"):
        assert np.array_equal(getattr(cycle, name), getattr(functional, name)), name
    assert np.array_equal(cycle.event_counts(), functional.event_counts())
    assert cycle.outputs == functional.outputs


@pytest.mark.parametrize("chips", [2, 3, 4])
def test_random_boards_agree_and_cover_every_link_bin(chips: int) -> None:
    config = board(chips)
    total = dict.fromkeys(link_bins(config), 0)
    records = 0
    programs = [random_board(seed, config, density=0.8) for seed in range(25)]
    if chips >= 3:
        programs += [(link_flood(config, a, b), {}, 2) for a in range(chips) for b in range(chips) if a != b]
    for image, events, steps in programs:
        cycle, trace, skipped = run_random(image, events, steps)
        functional, _, skipped_too = run_random(image, events, steps, cycle_accurate=False)
        assert skipped == skipped_too
        _same_state(cycle, functional)
        assert (trace["kind"] == LINK).sum() == cycle.link_events.sum()
        assert (trace["kind"] == LINK_FULL).sum() == cycle.link_stalls.sum()
        records += len(trace)
        for name, hits in link_coverage(trace, cycle.step_starts, config).items():
            total[name] += hits
    assert records > 0
    assert [name for name, hits in total.items() if not hits] == []
