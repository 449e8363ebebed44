"""The event counters in verification: the scoreboard's end-of-run comparison, and the RTL's STATUS counters
against the golden model's counts on random programs (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.golden.counters import EVENT_KINDS
from spikecore.stimulus import Stimulus
from spikecore.verif.random_program import random_image
from spikecore.verif.scoreboard import Scoreboard
from tests.helpers import EXAMPLES


def example(name: str):
    image = assemble((EXAMPLES / f"{name}.s").read_text(), f"{name}.s")
    return image, Stimulus.load(EXAMPLES / f"{name}.stim.csv")


# --- the scoreboard compares the DUT's counters with the golden model's ------------------------------------------


def test_scoreboard_counter_comparison_names_core_and_kind():
    image, stimulus = example("if_neuron")
    board = Scoreboard(image, stimulus)
    for _ in range(4):                      # steps 0..3: 4 MACs, 4 FIRE evaluations, one spike (step 3)
        board.expect_step()
    assert board.check_counters(np.array([[4, 4, 1, 1, 0]])) == []
    assert board.final_compared == 5
    found = board.check_counters(np.array([[4, 5, 1, 0, 0]]))
    assert [m.message for m in found] == [
        "neuron_updates counter mismatch, DUT: core 0 neuron_updates=5 expected: core 0 neuron_updates=4",
        "deliveries counter mismatch, DUT: core 0 deliveries=0 expected: core 0 deliveries=1",
    ]
    assert board.mismatch_count == 2
    assert board.check_counters(np.zeros((2, 5), dtype=np.int64))[0].what == "event counters"


# --- the RTL's counters ----------------------------------------------------------------------------------------


@pytest.mark.rtl
def test_rtl_event_counters_equal_the_golden_counts_on_random_programs():
    from spikecore.verif.crosscheck import RtlMismatch, compare_runs, crosscheck

    config = ChipConfig(cores=3, neurons=8, weight_bytes=32, imem_depth=12, event_depth=4, fanout_depth=8)
    checked = None
    for seed in range(4):
        image, stimulus, steps = random_image(seed, config)
        checked = crosscheck(image, stimulus, steps)     # compares every counter among everything else
        assert checked.rtl.event_counts.tolist() == checked.golden.event_counts.tolist()
        assert checked.rtl.event_counts[:, :2].sum() > 0   # synaptic ops and neuron updates were counted
    checked.rtl.event_counts[0, EVENT_KINDS.index("synaptic_ops")] += 1
    with pytest.raises(RtlMismatch, match="event counters mismatch"):
        compare_runs(checked.golden, checked.rtl)
