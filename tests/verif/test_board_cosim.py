"""The Verilator-built 2-chip board under the cocotb board scoreboard (verif/cocotb_board.py, docs/spec.md §13):
random multi-chip programs match the golden CycleBoard record for record (FULL) and by signature (FAST); a
corrupted golden record and a wrong weight on chip 1 are caught and reported with cycle, chip, core, the
instruction, expected/actual and the seed; ``spikecore sim --image`` runs a board image."""

from __future__ import annotations

from pathlib import Path

import pytest

from spikecore.app.sim import main as sim_main
from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.image import save_image
from spikecore.verif.build import build_array, build_name
from spikecore.verif.cocotb_array import RunSpec
from spikecore.verif.random_board import injectable, random_board
from spikecore.verif.sim import cosimulate

pytestmark = [pytest.mark.rtl, pytest.mark.slow, pytest.mark.xdist_group("verilator")]

BOARD = ChipConfig(cores=2, neurons=8, weight_bytes=64, imem_depth=16, event_depth=16, fanout_depth=16, chips=2)


def _runs(tmp_path: Path, seeds, checks=("full", "fast"), fault: str = "") -> list[RunSpec]:
    runs = []
    for seed in seeds:
        image, events, steps = random_board(seed, BOARD, density=0.8)
        save_image(image, tmp_path / f"image{seed}.bin")
        injectable(image, events, steps).save(tmp_path / f"stim{seed}.json")
        runs += [RunSpec(image=str(tmp_path / f"image{seed}.bin"), stimulus=str(tmp_path / f"stim{seed}.json"),
                         steps=steps, result=str(tmp_path / f"result{seed}{check}.json"), seed=seed, check=check,
                         fault=fault, reproduce=f"(random_board seed {seed})") for check in checks]
    return runs


def test_the_board_build_is_keyed_by_its_chips() -> None:
    assert build_name(BOARD, True).endswith("-chips2")
    assert "chips" not in build_name(BOARD.one_chip, True)


def test_random_board_programs_match_the_golden_board_full_and_fast(tmp_path) -> None:
    results = cosimulate(_runs(tmp_path, (0, 3)), BOARD, tmp_path / "run", build=build_array(BOARD))
    for result in results:
        assert result["passed"], result["text"]
        assert result["mismatches"] == 0 and result["records_compared"] > 0 and result["chips"] == 2
    # seed 0 sends 64 events over 0 -> 1 (tests/verif/test_random_board.py draws it); both modes see the same
    assert results[0]["link_coverage"]["0->1"] > 0
    assert results[0]["records_compared"] == results[1]["records_compared"]


def test_a_corrupted_golden_record_and_a_wrong_weight_on_chip_1_are_reported(tmp_path) -> None:
    runs = _runs(tmp_path, (0,), checks=("fast",), fault="golden:40:1")
    runs[0].result = str(tmp_path / "golden_fault.json")
    # chip 1 core 0 (global core 2) gets another weight at address 0: seed 0's chip 1 program reads it
    weight = _runs(tmp_path, (0,), checks=("full",), fault="weight:2:0:77")
    results = cosimulate(runs + weight, BOARD, tmp_path / "run", build=build_array(BOARD))
    golden, wrong = results
    assert not golden["passed"] and golden["mismatches"] >= 1
    text = golden["text"]
    assert "FIRST MISMATCH: chip " in text and "seed: 0" in text and "instruction:" in text
    first = golden["first_mismatch"]
    assert first["chip"] in (0, 1) and first["cycle"] is not None and first["expected"] == first["actual"] + 1
    assert not wrong["passed"] and wrong["first_mismatch"]["chip"] == 1, wrong["text"]


def test_spikecore_sim_runs_a_board_image(tmp_path, capsys) -> None:
    source = (".chip cores=2 neurons=8 weight_bytes=64 imem_depth=16 event_depth=16 fanout_depth=16 chips=2\n"
              ".core 0:0\nfire neuron=0, count=1, shift=0, reset=none, graded=0\nhalt\n"
              ".neuron 0 threshold=1 init=1 fanout_count=2\n.fanout 0: 1:1:3 host:5\n")
    save_image(assemble(source, "b.s"), tmp_path / "board.bin")
    build_array(BOARD)
    code = sim_main(["--image", str(tmp_path / "board.bin"), "--steps", "3", "--check", "full",
                     "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0, out
    # per step: SPIKE, LINK, OUT (chip 0) and EVENT (chip 1): 4 records x 3 steps
    assert "PASS" in out and "12 records compared" in out
