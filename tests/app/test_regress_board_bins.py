"""``make regress`` prints the board seeds' link and split-neuron bins and names every bin no board seed hit
(spikecore/app/regress.py), from a made-up summary: no simulator."""

from __future__ import annotations

from spikecore.app import regress
from spikecore.config import ChipConfig
from spikecore.verif.board_regress import board_summary
from spikecore.verif.coverage import FunctionalCoverage


def _regression_returns(monkeypatch, programs: int, board: dict) -> None:
    """Make ``regress.main`` print a made-up summary of ``programs`` array programs (one FULL, none filling) and
    the ``board`` seeds' summary, instead of running a regression."""
    summary = {"passed": True, "programs": programs, "array_cycles": 10, "records_compared": 5, "mismatches": 0,
               "failed_programs": 0, "failures": [], "active_cores": {str(k): 1 for k in range(programs)},
               "fill_programs": 0, "fill_min_active_share": None, "full_programs": 1, "records_per_second": 1.0,
               "wall_seconds": 1.0,
               "coverage": FunctionalCoverage(ChipConfig(cores=1)).to_dict() | {"average_percent": 0.0},
               "board": board}
    monkeypatch.setattr(regress, "run_regression", lambda *args, **kwargs: summary)


def test_the_bins_no_board_seed_hit_are_printed(monkeypatch, capsys) -> None:
    # one 2-chip board seed that used link 0->1 in a busy cycle and merged, but never idled, never used 1->0,
    # and hit no other split-neuron bin than merge_add
    result = {"seed": 7, "chips": 2, "passed": True, "records_compared": 40, "mismatches": 0,
              "link_coverage": {"idle": 0, "busy": 1, "0->1": 3, "1->0": 0},
              "coverage": {"coverpoints": {"fan_in_split": {"bins": {"merge_add": 2}}}}}
    _regression_returns(monkeypatch, programs=1, board=board_summary([result], 8))
    assert regress.main(["--seeds", "1", "--cores", "1", "--scheduler", "threads"]) == 0
    out = capsys.readouterr().out
    assert "  links chips2: idle=0 busy=1 0->1=3 1->0=0" in out
    never = next(line for line in out.splitlines() if "board bins never hit" in line)
    named = never.split(": ", 1)[1].split(", ")
    assert named[:2] == ["chips2:1->0", "chips2:idle"]
    # the boards of 3 and 4 chips did not run at all (a short run): named, not left out as if covered
    assert named[-2:] == ["chips3:* (not run)", "chips4:* (not run)"]
    assert sorted(named[2:-2]) == sorted(f"fan_in_split:{b}" for b in (
        "wide_fits", "wide_clip_high", "wide_clip_low", "merge_no_events", "merge_outside", "merge_wide_payload",
        "merge_clip_high", "merge_clip_low"))                 # spec §10's bins but merge_add


def test_the_summary_words_are_plain_english(monkeypatch, capsys) -> None:
    # A fresh user's finding: "every 2th", "1 programs", "fewest active None of the cores"
    result = {"seed": 1, "chips": 2, "passed": True, "records_compared": 40, "mismatches": 0,
              "link_coverage": {}, "coverage": {}}
    _regression_returns(monkeypatch, programs=2, board=board_summary([result], 2))
    assert regress.main(["--seeds", "2", "--cores", "2", "--scheduler", "threads"]) == 0
    out = capsys.readouterr().out
    assert "board seeds (every 2nd): 1 program on boards of 2 chips" in out
    assert "None" not in out
    assert "no fill program;" in out and "1 program with the FULL check" in out
    assert "1 programs" not in out
