"""Host injection (docs/spec.md §1.2, §2 "Host") at the bounds of every argument, with Python and numpy integers;
the host loop's default of one step."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip
from spikecore.golden.functional import FunctionalChip
from spikecore.golden.run import run
from spikecore.image import Image

CFG = ChipConfig(cores=4, neurons=4, weight_bytes=4, imem_depth=2, event_depth=4, fanout_depth=1)


@pytest.mark.parametrize("chip_class", [CycleChip, FunctionalChip])
@pytest.mark.parametrize("kind", [int, np.int64, np.uint8])
def test_every_bound_is_accepted(chip_class, kind) -> None:
    chip = chip_class(Image(CFG))
    low_payload = -128 if kind is not np.uint8 else 0
    for core, axon, payload in ((0, 0, low_payload), (3, 255, 127)):
        chip.inject(kind(core), kind(axon), kind(payload))
    assert chip.buffered_events(0) == [(0, low_payload)] and chip.buffered_events(3) == [(255, 127)]
    assert all(type(v) is int for v in chip.buffered_events(0)[0])


@pytest.mark.parametrize("chip_class", [CycleChip, FunctionalChip])
@pytest.mark.parametrize(("args", "message"), [
    ((np.int64(-1), 0, 0), "inject: core must be an integer 0..3, not np.int64(-1)"),
    ((np.int64(4), 0, 0), "inject: core must be an integer 0..3, not np.int64(4)"),
    ((0, np.int64(-1), 0), "inject into core 0: axon must be an integer 0..255, not np.int64(-1)"),
    ((0, np.int64(256), 0), "inject into core 0: axon must be an integer 0..255, not np.int64(256)"),
    ((1, 0, np.int64(-129)), "inject into core 1: payload must be an integer -128..127, not np.int64(-129)"),
    ((1, 0, np.int64(128)), "inject into core 1: payload must be an integer -128..127, not np.int64(128)"),
    ((1, 0, True), "inject into core 1: payload must be an integer -128..127, not True"),
    ((1, 0, 1.0), "inject into core 1: payload must be an integer -128..127, not 1.0"),
])
def test_one_past_a_bound_is_refused(chip_class, args, message) -> None:
    chip = chip_class(Image(CFG))
    with pytest.raises(SpikeCoreError) as info:
        chip.inject(*args)
    assert str(info.value) == message
    assert all(chip.buffered_events(c) == [] for c in range(CFG.cores))


@pytest.mark.parametrize("chip", ["cycle", "functional"])
def test_run_defaults_to_one_step(chip) -> None:
    # An image without sections: every core runs HALT (1 cycle), then the barrier (1): C_1 = 2 (§2, §5).
    result = run(Image(CFG), chip=chip)
    assert (result.steps, result.cycles, result.step_starts) == (1, 2, [0])
