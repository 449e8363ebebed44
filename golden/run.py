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
from spikecore.golden.board import CycleBoard, FunctionalBoard
from spikecore.golden.cycle import CycleChip, OutSpike
from spikecore.golden.functional import FunctionalChip
from spikecore.image import Image
from spikecore.stimulus import Stimulus
from spikecore.trace import BOARD_TRACE_DTYPE, empty_trace

#: The golden models :func:`run` can drive (the ``chip`` argument, as in the model runtimes of spikecore.app).
CHIPS = ("cycle", "functional")


def check_reached(stimulus: Stimulus, steps: int) -> None:
    """Raise :class:`SpikeCoreError` if ``stimulus`` has an event at or after step ``steps`` (never injected).

    The message names the first such event's origin: ``stimulus file s.csv:3: event at step 5, but the run
    has only 2 steps (0..1); give --steps 6 or more``.
    """
    late = stimulus.first_event_from(steps)
    if late is not None:
        step, origin = late
        have = f"{steps} step{'s' if steps != 1 else ''}" + (f" (0..{steps - 1})" if steps else "")
        raise SpikeCoreError(f"{origin}: event at step {step}, but the run has only {have}; "
                             f"give --steps {step + 1} or more")


def check_stimulus(image: Image, stimulus: Stimulus, steps: int) -> None:
    """Raise :class:`SpikeCoreError` if ``spikecore run`` would refuse ``stimulus`` on ``image`` over ``steps``.

    The words of :func:`check_reached` (an event never injected) and of :func:`run` (a core outside the image's
    chip or board, a full input buffer: found by a functional run, as the buffer fill depends on routed events),
    each naming the event's origin, so a host that is not the golden model (``spikecore sim``) refuses a
    stimulus before it starts, in the same line as ``spikecore run``.
    """
    check_reached(stimulus, steps)
    run(image, stimulus, steps=steps, chip="functional")


@dataclass
class RunResult:
    """The outcome of :func:`run`: the whole trace (``None`` in functional mode) and the final host view.

    On a board (``chips > 1``, docs/spec.md §13) the trace is a board trace (``BOARD_TRACE_DTYPE``), per-core
    arrays are indexed by global core id, and ``routes`` is ``None``."""

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
    #: Chips that ran (the image's ``config.chips``): 1 for one chip; on a board ``cycles`` counts board cycles.
    chips: int = 1


def run(image: Image, stimulus: Stimulus | None = None, steps: int = 1, chip: str = "cycle") -> RunResult:
    """Load ``image``, then for each step inject that step's stimulus events and run the step.

    ``chip`` is ``"cycle"`` (:class:`CycleChip`, with the trace) or ``"functional"`` (:class:`FunctionalChip`).
    Stimulus events for steps at or after ``steps`` are not injected (the command line refuses them:
    :func:`check_reached`). An event the chip cannot take (a core outside the image's chip, a full input
    buffer) raises :class:`SpikeCoreError` naming where the event came from (``stimulus file s.csv:7: ...``).
    """
    if chip not in CHIPS:
        raise SpikeCoreError(f"run: chip must be one of {', '.join(CHIPS)}, not {chip!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise SpikeCoreError(f"run: steps must be a non-negative integer, not {steps!r}")
    stimulus = stimulus if stimulus is not None else Stimulus()
    stimulus.validate()
    cores = image.config.board_cores
    for step, evs in stimulus.events.items():
        for index, (core, _, _) in enumerate(evs):
            if core >= cores:
                holder = "chip" if image.config.chips == 1 else f"board of {image.config.chips} chips"
                raise SpikeCoreError(f"{stimulus.origin(step, index)}: core {core} out of range 0..{cores - 1} "
                                     f"(the image's {holder} has {cores} core{'s' if cores > 1 else ''})")
    if image.config.chips > 1:   # a board (docs/spec.md §13): global core ids, a board trace
        model = CycleBoard(image) if chip == "cycle" else FunctionalBoard(image)
    else:
        model = CycleChip(image) if chip == "cycle" else FunctionalChip(image)
    traces = []
    for step in range(steps):
        for index, (core, axon, payload) in enumerate(stimulus.at(step)):
            try:
                model.inject(core, axon, payload)
            except SpikeCoreError as err:
                raise SpikeCoreError(f"{stimulus.origin(step, index)}: {err}") from None
        records = model.step()
        if records is not None and len(records):
            traces.append(records)
    if isinstance(model, CycleBoard | FunctionalBoard):
        trace = None if chip == "functional" else (np.concatenate(traces) if traces else
                                                   np.zeros(0, dtype=BOARD_TRACE_DTYPE))
        return RunResult(steps=steps, cycles=model.cycle, trace=trace, membranes=model.membranes, drops=model.drops,
                         outputs=list(model.outputs), spike_counts=model.spike_counts,
                         step_starts=list(model.step_starts), event_counts=model.event_counts(),
                         chips=image.config.chips)
    trace = None if chip == "functional" else (np.concatenate(traces) if traces else empty_trace())
    return RunResult(steps=steps, cycles=model.cycle, trace=trace, membranes=model.membranes.copy(),
                     drops=model.drops.copy(), outputs=list(model.outputs), spike_counts=model.spike_counts.copy(),
                     step_starts=list(model.step_starts), event_counts=model.event_counts(),
                     routes=model.routes.copy())
