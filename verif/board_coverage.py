"""The coverage of a board program on the golden board alone (docs/spec.md §10, §13): the link bins and every
chip's functional coverage, sampled exactly as the board scoreboard samples them in a co-simulation
(:mod:`spikecore.verif.cocotb_board`), without a simulator — so a quick test can show which bins a set of
regression seeds reaches before any RTL is built.

>>> from spikecore.config import ChipConfig
>>> from spikecore.verif.random_board import link_flood
>>> from spikecore.stimulus import Stimulus
>>> config = ChipConfig(cores=1, neurons=8, event_depth=16, fanout_depth=16, chips=3)
>>> links, cov = golden_board_coverage(link_flood(config, 0, 2), Stimulus(), 2)
>>> links["0->2/full"] > 0, links["0->1"]
(True, 0)
"""

from __future__ import annotations

import numpy as np

from spikecore.image import Image
from spikecore.stimulus import Stimulus
from spikecore.trace import BOARD_TRACE_DTYPE, board_records
from spikecore.verif.board_scoreboard import BoardScoreboard
from spikecore.verif.coverage import FunctionalCoverage
from spikecore.verif.random_board import link_coverage
from spikecore.verif.scoreboard import ExpectedStep


def sample_board_steps(steps: list[list[ExpectedStep]], scoreboard: BoardScoreboard,
                       coverage: FunctionalCoverage) -> dict[str, int]:
    """Sample the expected steps of a board run (``steps[t][c]``: chip ``c``'s step ``t``, from
    :meth:`BoardScoreboard.expect_step`) into ``coverage`` (every chip into one :class:`FunctionalCoverage` of
    the one-chip configuration); returns the run's link bins
    (:func:`~spikecore.verif.random_board.link_coverage`, empty when no step ran)."""
    for expected in steps:
        for c, exp in enumerate(expected):
            coverage.sample_step(exp, scoreboard.golden.chips[c].loaded)
    if not steps:
        return {}
    trace = np.concatenate([board_records(e.records, c) for expected in steps for c, e in enumerate(expected)]
                           or [np.zeros(0, dtype=BOARD_TRACE_DTYPE)])
    return link_coverage(trace, [expected[0].start_cycle for expected in steps], scoreboard.config)


def golden_board_coverage(image: Image, stimulus: Stimulus, steps: int) -> tuple[dict[str, int], FunctionalCoverage]:
    """Run ``image`` for ``steps`` steps with ``stimulus`` (global core ids; a host of the RTL must be able to
    inject it, e.g. :func:`~spikecore.verif.random_board.injectable`) on the golden cycle-accurate board; returns
    its link bins (hits per bin name) and the functional coverage of every chip together."""
    scoreboard = BoardScoreboard(image, stimulus)
    coverage = FunctionalCoverage(image.config.one_chip)
    expected = [scoreboard.expect_step() for _ in range(steps)]
    return sample_board_steps(expected, scoreboard, coverage), coverage
