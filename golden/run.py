"""Drive a golden model over a stimulus: the one call the CLI, the scoreboards and the benchmarks use.

>>> from spikecore.config import ChipConfig
>>> from spikecore.image import Image
>>> result = run(Image(ChipConfig(cores=2)), steps=3)
>>> result.cycles, result.step_starts, len(result.trace)
(6, [0, 2, 4], 0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikecore.errors import SpikeCoreError
from spikecore.golden.cycle import CycleChip, OutSpike
from spikecore.golden.functional import FunctionalChip
from spikecore.image import Image
from spikecore.stimulus import Stimulus
from spikecore.trace import empty_trace

MODES = ("cycle", "functional")


@dataclass
class RunResult:
    """The outcome of :func:`run`: the whole trace (``None`` in functional mode) and the final host view."""

    steps: int
    cycles: int
    trace: np.ndarray | None
    membranes: np.ndarray
    drops: np.ndarray
    outputs: list[OutSpike]
    spike_counts: np.ndarray
    step_starts: list[int]


def run(image: Image, stimulus: Stimulus | None = None, steps: int = 1, mode: str = "cycle") -> RunResult:
    """Load ``image``, then for each step inject that step's stimulus events and run the step.

    ``mode`` is ``"cycle"`` (:class:`CycleChip`, with the trace) or ``"functional"`` (:class:`FunctionalChip`).
    Stimulus events for steps at or after ``steps`` are not injected.
    """
    if mode not in MODES:
        raise SpikeCoreError(f"run: mode must be one of {', '.join(MODES)}, not {mode!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise SpikeCoreError(f"run: steps must be a non-negative integer, not {steps!r}")
    stimulus = stimulus if stimulus is not None else Stimulus()
    stimulus.validate()
    chip = CycleChip(image) if mode == "cycle" else FunctionalChip(image)
    traces = []
    for step in range(steps):
        for core, axon, payload in stimulus.at(step):
            chip.inject(core, axon, payload)
        records = chip.step()
        if records is not None and len(records):
            traces.append(records)
    trace = None if mode == "functional" else (np.concatenate(traces) if traces else empty_trace())
    return RunResult(steps=steps, cycles=chip.cycle, trace=trace, membranes=chip.membranes.copy(),
                     drops=chip.drops.copy(), outputs=list(chip.outputs), spike_counts=chip.spike_counts.copy(),
                     step_starts=list(chip.step_starts))
