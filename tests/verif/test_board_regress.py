"""The regression's multi-chip seeds (verif/board_regress.py): which seeds run on which board, the summary's
sums (by hand from made-up results), and a regression whose board seed runs on the Verilator RTL board."""

from __future__ import annotations

import pytest

from spikecore.config import ChipConfig
from spikecore.verif.board_regress import board_of_seed, board_seeds, board_summary
from spikecore.verif.regress import run_regression


def test_every_nth_seed_runs_on_boards_of_2_3_4_chips_in_turn() -> None:
    assert board_seeds(range(40), 8) == [7, 15, 23, 31, 39]
    assert [board_of_seed(s, 8).chips for s in (7, 15, 23, 31)] == [2, 3, 4, 2]
    assert board_of_seed(7, 8).cores == 2
    assert board_seeds(range(40), None) == [] and board_seeds(range(40), 0) == []


def test_board_summary_sums_by_hand() -> None:
    def result(seed, chips, records, links, merges, passed=True):
        return {"seed": seed, "chips": chips, "passed": passed, "records_compared": records,
                "mismatches": 0 if passed else 2, "reason": "" if passed else "2 mismatches",
                "link_coverage": links,
                "coverage": {"coverpoints": {"fan_in_split": {"bins": {"merge_add": merges, "wide_fits": 1}}}}}

    summary = board_summary([result(7, 2, 100, {"0->1": 3, "busy": 1}, 2),
                             result(31, 2, 50, {"1->0": 1}, 0),
                             result(15, 3, 10, {"2->0/full": 4}, 5, passed=False)], 8)
    assert summary["programs"] == 3 and summary["records_compared"] == 160 and summary["mismatches"] == 2
    assert summary["boards"] == [2, 3] and summary["failed_programs"] == 1 and summary["failures"][0]["seed"] == 15
    assert summary["link_coverage"]["chips2"] == {"idle": 0, "busy": 1, "0->1": 3, "1->0": 1}
    assert summary["link_coverage"]["chips3"]["2->0/full"] == 4 and summary["link_coverage"]["chips3"]["0->1"] == 0
    assert "chips2:idle" in summary["links_missed"] and "chips2:busy" not in summary["links_missed"]
    # every bin of the coverpoint (docs/spec.md §10) is listed, a bin no seed hit as 0 and in split_missed
    assert summary["fan_in_split"] == {"wide_fits": 3, "wide_clip_high": 0, "wide_clip_low": 0, "merge_no_events": 0,
                                       "merge_add": 7, "merge_outside": 0, "merge_wide_payload": 0,
                                       "merge_clip_high": 0, "merge_clip_low": 0}
    assert summary["split_missed"] == ["wide_clip_high", "wide_clip_low", "merge_no_events", "merge_outside",
                                       "merge_wide_payload", "merge_clip_high", "merge_clip_low"]


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.xdist_group("verilator")
def test_a_regression_runs_its_board_seed_on_the_rtl_board(tmp_path) -> None:
    summary = run_regression([6, 7], ChipConfig(cores=1), tmp_path, jobs=1, board_every=8, log=lambda *_: None)
    assert summary["passed"] and summary["programs"] == 2
    board = summary["board"]
    assert board["programs"] == 1 and board["boards"] == [2] and board["mismatches"] == 0
    assert board["records_compared"] > 0 and board["failed_programs"] == 0
    assert set(board["link_coverage"]["chips2"]) == {"idle", "busy", "0->1", "1->0"}
    assert sum(board["link_coverage"]["chips2"].values()) > 0
