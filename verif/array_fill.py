"""Programs that fill the array, FULL-mode share of a regression, and how busy a program keeps the cores.

A regression runs most seeds as drawn by :func:`spikecore.verif.edge_programs.program_for_seed` (a few cores
busy) and, for a stated share of seeds (:data:`FILL_EVERY`), a **fill** program: every core gets a random
program (``active_cores`` = all cores) with a FIRE over neurons at threshold ``ACC_MIN`` in front (the
``all_fire`` transformation), so every core has ACC or SPIKE records in every step. A stated share of seeds
(:data:`FULL_EVERY`) runs in FULL mode, so the trace decoder is exercised by every regression. Which seeds
is a pure function of the seed, so a seed still names its whole run.
"""

from __future__ import annotations

import random

import numpy as np

from spikecore.config import ChipConfig
from spikecore.golden.run import run
from spikecore.image import Image
from spikecore.isa import TraceKind
from spikecore.stimulus import Stimulus

#: One seed in FULL_EVERY runs in FULL mode (drawn per seed, independent of the variant cycle of 10).
FULL_EVERY = 8
#: One seed in FILL_EVERY gets a fill program (every core busy every step).
FILL_EVERY = 4
#: Static worst-case cycle budget of a fill program, per core (random_image's default is 2500 for the chip).
FILL_BUDGET_PER_CORE = 600


def _draw(kind: str, seed: int, every: int) -> bool:
    return random.Random(f"{kind}:{seed}").randrange(every) == 0


def check_of_seed(seed: int) -> str:
    """``"full"`` for about one seed in :data:`FULL_EVERY`, else ``"fast"``."""
    return "full" if _draw("full", seed, FULL_EVERY) else "fast"


def fill_of_seed(seed: int) -> bool:
    """Whether the regression gives ``seed`` a fill program (about one seed in :data:`FILL_EVERY`)."""
    return _draw("fill", seed, FILL_EVERY)


def fill_knobs(config: ChipConfig) -> dict[str, int]:
    """The ``random_image`` knobs of a fill program: a program on every core, budget scaled with the cores."""
    return {"active_cores": config.cores, "cycle_budget": max(2500, FILL_BUDGET_PER_CORE * config.cores)}


def active_cores_per_step(image: Image, stimulus: Stimulus, steps: int) -> list[int]:
    """Per step, how many cores emit an ACC or SPIKE record (their own work) in the golden run; ``int`` each."""
    result = run(image, stimulus, steps)
    trace, starts = result.trace, [*result.step_starts, result.cycles]
    own = trace[(trace["kind"] == int(TraceKind.ACC)) | (trace["kind"] == int(TraceKind.SPIKE))]
    counts = []
    for step in range(steps):
        window = own[(own["cycle"] >= starts[step]) & (own["cycle"] < starts[step + 1])]
        counts.append(int(np.unique(window["core"]).size))
    return counts
