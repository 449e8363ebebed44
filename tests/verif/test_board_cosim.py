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
    tmp_path.mkdir(parents=True, exist_ok=True)
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


def test_a_split_mlp_merges_its_partial_sums_across_a_link_on_the_rtl_board(tmp_path) -> None:
    # tests/verif/test_verif_fanin_cosim.py's 128 -> 4 -> 3 graded MLP on a board of two 2-core product chips:
    # partial-sum cores 0, 1 (chip 0) send their 2 x 4 partial sums over link 0 -> 1 to the merging core (global 2
    # = chip 1 core 0), the output layer is chip 1 core 1. Every record of every chip equals the golden board's.
    import numpy as np

    from spikecore.app.runtime import run_batch
    from spikecore.compiler.pipeline import _lay_out
    from spikecore.compiler.quantize import quantize
    from spikecore.compiler.report import link_traffic
    from tests.compiler.test_compiler_place import float_mlp

    config = ChipConfig(cores=2, chips=2)
    graph = float_mlp((128, 4, 3))
    rng = np.random.default_rng(1)
    compiled = _lay_out(graph, quantize(graph, rng.uniform(0, 1, (64, 128)), config=config), config, "split", {})
    assert [(pc.partial, pc.merge) for pc in compiled.placed.cores] == [(True, False), (True, False),
                                                                         (False, True), (False, False)]
    assert link_traffic(compiled.placed) == {(0, 1): 8}
    samples = rng.uniform(0, 1, (2, 128))
    q = compiled.quantize_input(samples)
    golden = run_batch(compiled, q, chip="cycle", quantized=True)
    np.testing.assert_array_equal(golden.logits, compiled.reference(q, quantized=True).logits)
    save_image(compiled.image, tmp_path / "image.bin")
    runs = []
    for i, sample in enumerate(samples):
        compiled.stimulus(sample).save(tmp_path / f"stim{i}.json")
        runs.append(RunSpec(image=str(tmp_path / "image.bin"), stimulus=str(tmp_path / f"stim{i}.json"),
                            steps=compiled.steps, result=str(tmp_path / f"result{i}.json"), seed=None,
                            check="full", reproduce="(compiled 128-4-3 split MLP on 2 chips)"))
    for result in cosimulate(runs, config, tmp_path / "run", build=build_array(config)):
        assert result["passed"], result["text"]
        assert result["mismatches"] == 0 and result["records_compared"] > 0
        assert result["link_coverage"]["0->1"] == 8 * compiled.steps


def test_reloading_a_board_image_writes_back_every_word_a_run_before_changed(tmp_path) -> None:
    # One simulator process: seed 0 with another weight on chip 1 (global core 2), then the same image clean.
    # The board driver writes only the words the memories do not already hold (make sim re-loads one image per
    # sample); the planted weight left in chip 1's memory would fail the clean run.
    wrong = _runs(tmp_path / "wrong", (0,), checks=("full",), fault="weight:2:0:77")
    clean = _runs(tmp_path / "clean", (0,), checks=("full",))
    results = cosimulate(wrong + clean, BOARD, tmp_path / "run", build=build_array(BOARD))
    assert not results[0]["passed"] and results[0]["first_mismatch"]["chip"] == 1
    assert results[1]["passed"] and results[1]["records_compared"] > 0, results[1]["text"]
