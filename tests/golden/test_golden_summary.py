"""The run summary's exact text, the stimulus files' exact refusals, signature argument bounds.

Every expected string is written out here from a run worked by hand: an image without sections runs
HALT (1 cycle) and the barrier (1) per step, so step t starts on cycle 2t and nothing else happens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.run import run
from spikecore.golden.summary import summarize
from spikecore.image import Image
from spikecore.signature import cycle_signatures
from spikecore.stimulus import Stimulus
from spikecore.trace import TRACE_DTYPE

IDLE = Image(ChipConfig(cores=2))


def test_summary_of_an_idle_run_by_hand() -> None:
    assert summarize(run(IDLE, steps=3)).splitlines() == [
        "3 steps, 6 array cycles; step starts 0 2 4",
        "trace: 0 records (ACC 0, SPIKE 0, EVENT 0, DROP 0, OUT 0)",
        "spikes per core: none (total 0)",
        "drops per core: none (total 0)",
        "non-zero membranes: none",
        "outputs (0): none",
    ]
    assert "trace:" not in summarize(run(IDLE, steps=1, chip="functional"))


def test_summary_lists_are_cut_after_the_limit_with_the_count() -> None:
    # default limit 12: 12 step starts are shown whole, 13 show 12 and "(+1 more)"
    twelve = summarize(run(IDLE, steps=12)).splitlines()[0]
    assert twelve == "12 steps, 24 array cycles; step starts " + " ".join(str(2 * t) for t in range(12))
    thirteen = summarize(run(IDLE, steps=13)).splitlines()[0]
    assert thirteen == ("13 steps, 26 array cycles; step starts " + " ".join(str(2 * t) for t in range(12))
                        + " (+1 more)")
    cut = summarize(run(IDLE, steps=3), limit=2).splitlines()[0]
    assert cut == "3 steps, 6 array cycles; step starts 0 2 (+1 more)"


def test_stimulus_header_and_format_refusals(tmp_path: Path) -> None:
    empty, wrong = tmp_path / "empty.csv", tmp_path / "wrong.csv"
    empty.write_text("")
    wrong.write_text("step,core,axon\n")
    with pytest.raises(SpikeCoreError) as info:
        Stimulus.load(empty)
    assert str(info.value) == f"stimulus file {empty}: header must be step,core,axon,payload, not an empty file"
    with pytest.raises(SpikeCoreError) as info:
        Stimulus.load(wrong)
    assert str(info.value) == f"stimulus file {wrong}: header must be step,core,axon,payload, not 'step,core,axon'"
    for name, shown in (("stim", "'(none)'"), ("stim.txt", "'.txt'")):
        with pytest.raises(SpikeCoreError) as info:
            Stimulus({0: [(0, 0, 1)]}).save(tmp_path / name)
        assert str(info.value) == f"stimulus file {tmp_path / name}: unknown format {shown}, expected .csv or .json"
        assert not (tmp_path / name).exists()
        (tmp_path / name).write_text("step,core,axon,payload\n")
        with pytest.raises(SpikeCoreError) as info:
            Stimulus.load(tmp_path / name)
        assert str(info.value) == f"stimulus file {tmp_path / name}: unknown format {shown}, expected .csv or .json"


@pytest.mark.parametrize(("first", "n", "message"), [
    (0, -1, "cycle_signatures: n_cycles must be a non-negative integer, not -1"),
    (-1, 0, "cycle_signatures: first_cycle must be a non-negative integer, not -1"),
    (0, True, "cycle_signatures: n_cycles must be a non-negative integer, not True"),
])
def test_signature_window_bounds(first, n, message) -> None:
    with pytest.raises(SpikeCoreError) as info:
        cycle_signatures(np.zeros(0, dtype=TRACE_DTYPE), first, n)
    assert str(info.value) == message
    assert cycle_signatures(np.zeros(0, dtype=TRACE_DTYPE), 0, 0).tolist() == []
