"""The scoreboard of a board (docs/spec.md §13): the golden :class:`~spikecore.golden.board.CycleBoard` in
lock-step with the RTL board, every record of every chip compared cycle by cycle.

A :class:`BoardScoreboard` keeps one :class:`~spikecore.verif.scoreboard.Scoreboard` per chip whose golden
model is that chip of the board (its state, its issue log), so everything a one-chip scoreboard does — FULL
record comparison, FAST signatures with the first bad cycle, the final membranes, drops, event counters and
input buffers, the mismatch report naming the instruction — is done chip by chip, and the mismatches name
their chip (``chip 1 EVENT mismatch, ...``). The host outputs are the board's (global core ids), compared
once.

>>> from spikecore.config import ChipConfig
>>> from spikecore.image import Image
>>> sb = BoardScoreboard(Image(ChipConfig(cores=1, chips=2)))
>>> exp = sb.expect_step()
>>> [len(e.records) for e in exp], exp[0].cycles
([0, 0], 2)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from spikecore.golden.board import CycleBoard
from spikecore.image import Image
from spikecore.stimulus import Stimulus
from spikecore.trace import chip_records
from spikecore.verif.scoreboard import ExpectedStep, Mismatch, Scoreboard, ScoreboardResult, golden_issue_log


class BoardScoreboard:
    """The board's golden model and one per-chip :class:`Scoreboard` (``chips[c]``) fed from it."""

    def __init__(self, image: Image, stimulus: Stimulus | None = None, *, seed: int | None = None) -> None:
        self.image = image
        self.config = image.config
        self.stimulus = stimulus or Stimulus()
        self.seed = seed
        self.golden = CycleBoard(image)
        self.chips: list[Scoreboard] = []
        for c, chip in enumerate(self.golden.chips):
            # An empty one-chip image: a chip's sections name other chips, which only the board validates.
            board = Scoreboard(Image(self.config.one_chip), seed=seed)
            board.image = Image(self.config.one_chip, image.chip_sections(c))
            board.golden = chip            # the board's chip: its state and issue log are the reference
            self.chips.append(board)
        self.outputs_compared = 0
        self.output_mismatches: list[Mismatch] = []

    def injections(self, step: int) -> list[tuple[int, int, int]]:
        """The host events of ``step`` as ``(global core, axon, payload)``."""
        return [tuple(int(v) for v in ev) for ev in self.stimulus.at(step)]

    def expect_step(self) -> list[ExpectedStep]:
        """Inject this step's stimulus into the golden board and run it; returns each chip's expected step
        (its records with the chip column dropped, its own injections with local core ids)."""
        board = self.golden
        step = board.step_index
        injections = self.injections(step)
        for core, axon, payload in injections:
            board.inject(core, axon, payload)
        start = board.cycle
        before = [(np.array(chip.membranes, dtype=np.int64),
                   [chip.buffered_events(core) for core in range(self.config.cores)],
                   np.array(chip.currents, dtype=np.int64),
                   chip.loaded.runs(chip.schedule_step)) for chip in board.chips]   # (period/phase, spec §2)
        trace = board.step()
        expected = []
        for c, (scoreboard, chip) in enumerate(zip(self.chips, board.chips, strict=True)):
            membranes, buffers, currents, runs = before[c]
            low = c * self.config.cores
            mine = [(core - low, axon, payload) for core, axon, payload in injections
                    if low <= core < low + self.config.cores]
            exp = ExpectedStep(step, start, board.cycle, chip_records(trace, c), mine, golden_issue_log(chip),
                               membranes, buffers, currents_before=currents, runs=runs)
            scoreboard.current = exp
            scoreboard.issue_logs[step] = exp.issue_log
            scoreboard.step_windows.append((start, board.cycle))
            expected.append(exp)
        return expected

    def check_outputs(self, actual: list[tuple[int, int, int, int]]) -> list[Mismatch]:
        """The host outputs ``(step, global core, axon, payload)`` in delivery order against the board's."""
        expected = [(o.step, o.core, o.axon, o.payload) for o in self.golden.outputs]
        found = self.chips[0]._compare_outputs([tuple(int(v) for v in o) for o in actual], expected)
        self.output_mismatches += found
        return found

    def note(self, chip: int, found: list[Mismatch]) -> None:
        self.chips[chip].note(found)

    def mismatches(self) -> list[tuple[int | None, Mismatch]]:
        """Every kept mismatch as ``(chip, mismatch)`` with the chip in its text (chip ``None``: the board's)."""
        out: list[tuple[int | None, Mismatch]] = []
        for c, board in enumerate(self.chips):
            out += [(c, replace(m, what=f"chip {c} {m.what}")) for m in board.mismatches]
        out += [(None, m) for m in self.output_mismatches]
        return sorted(out, key=lambda cm: (cm[1].cycle is None, cm[1].cycle or 0))

    def finish(self) -> ScoreboardResult:
        """The board's verdict: fails on any mismatch of any chip, and on a run that compared zero records."""
        results = [board.finish() for board in self.chips]
        matched = sum(r.matched for r in results)
        count = sum(board.mismatch_count for board in self.chips) + len(self.output_mismatches)
        kept = [m for _, m in self.mismatches()]
        if count:
            reason = f"{count} mismatches, first: {kept[0].message}"
        elif matched == 0:
            reason = "zero trace records were compared (an empty comparison proves nothing)"
        else:
            reason = ""
        return ScoreboardResult(passed=not reason, matched=matched, mismatch_count=count, mismatches=kept,
                                steps=min(r.steps for r in results), cycles=results[0].cycles,
                                final_compared=sum(r.final_compared for r in results) + self.outputs_compared,
                                reason=reason)
