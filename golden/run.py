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

#: The golden models :func:`run` can drive (the ``chip`` argument, as in the model runtimes of spikecore.app).
CHIPS = ("cycle", "functional")


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
    #: (cores, 5) event counters in ``spikecore.golden.counters.EVENT_KINDS`` order, and the (cores, cores + 1)
    #: delivery matrix (column ``cores`` = the host); both since the chip was loaded.
    event_counts: np.ndarray | None = None
    routes: np.ndarray | None = None


def run(image: Image, stimulus: Stimulus | None = None, steps: int = 1, chip: str = "cycle") -> RunResult:
    """Load ``image``, then for each step inject that step's stimulus events and run the step.

    ``chip`` is ``"cycle"`` (:class:`CycleChip`, with the trace) or ``"functional"`` (:class:`FunctionalChip`).
    Stimulus events for steps at or after ``steps`` are not injected.
    """
    if chip not in CHIPS:
        raise SpikeCoreError(f"run: chip must be one of {', '.join(CHIPS)}, not {chip!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise SpikeCoreError(f"run: steps must be a non-negative integer, not {steps!r}")
    stimulus = stimulus if stimulus is not None else Stimulus()
    stimulus.validate()
    model = CycleChip(image) if chip == "cycle" else FunctionalChip(image)
    traces = []
    for step in range(steps):
        for core, axon, payload in stimulus.at(step):
            model.inject(core, axon, payload)
        records = model.step()
        if records is not None and len(records):
            traces.append(records)
    trace = None if chip == "functional" else (np.concatenate(traces) if traces else empty_trace())
    return RunResult(steps=steps, cycles=model.cycle, trace=trace, membranes=model.membranes.copy(),
                     drops=model.drops.copy(), outputs=list(model.outputs), spike_counts=model.spike_counts.copy(),
                     step_starts=list(model.step_starts), event_counts=model.event_counts(),
                     routes=model.routes.copy())
