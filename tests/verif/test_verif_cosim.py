"""Lock-step co-simulation of the Verilator-built array against the golden model (cocotb + Verilator).

Two builds, made once and reused by every later run (build/verilator/): a 1-core array with VCD tracing
compiled in (tracing is switched on per run), and a 4-core array. Random seeds must match with zero
mismatches in both FULL and FAST mode; a fault planted in what the DUT is loaded with, or in one golden
record, must be caught and explained; a VCD recorded by a real run must check clean offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikecore.compiler.asm import assemble
from spikecore.config import ChipConfig
from spikecore.image import load_image, save_image
from spikecore.stimulus import Stimulus
from spikecore.verif.build import build_array
from spikecore.verif.cocotb_array import RunSpec
from spikecore.verif.regress import run_regression
from spikecore.verif.scoreboard import Scoreboard
from spikecore.verif.sim import cosimulate, prepare_seed
from spikecore.verif.vcd_check import check_vcd
from tests.helpers import EXAMPLES

pytestmark = [pytest.mark.rtl, pytest.mark.slow, pytest.mark.xdist_group("verilator")]

ONE, FOUR = ChipConfig(cores=1), ChipConfig(cores=4)


@pytest.fixture(scope="module")
def build1():
    return build_array(ONE, waves=True)


@pytest.fixture(scope="module")
def build4():
    return build_array(FOUR)


def if_neuron_run(directory: Path, mode: str, fault: str = "") -> RunSpec:
    """examples/if_neuron.s for 4 steps, one host event (axon 0, payload 1) per step."""
    directory.mkdir(parents=True, exist_ok=True)
    save_image(assemble((EXAMPLES / "if_neuron.s").read_text(), "if_neuron.s"), directory / "image.bin")
    Stimulus({s: [(0, 0, 1)] for s in range(4)}).save(directory / "stimulus.json")
    return RunSpec(image=str(directory / "image.bin"), stimulus=str(directory / "stimulus.json"), steps=4,
                   result=str(directory / "result.json"), seed=None, check=mode, fault=fault,
                   reproduce="python -m spikecore.app.sim --image image.bin --stimulus stimulus.json --steps 4")


def assert_clean(results: list[dict]) -> None:
    for result in results:
        assert result["passed"], result["text"]
        assert result["mismatches"] == 0 and result["records_compared"] > 0


def test_one_core_random_seeds_full_and_fast(build1, tmp_path):
    specs = [prepare_seed(seed, ONE, tmp_path / f"seed{seed}", check=("full", "fast")[seed % 2]) for seed in range(8)]
    results = cosimulate(specs, ONE, tmp_path / "batch", build=build1)
    assert_clean(results)
    assert {r["check"] for r in results} == {"full", "fast"}


def test_four_core_random_seeds(build4, tmp_path):
    specs = [prepare_seed(seed, FOUR, tmp_path / f"seed{seed}", check="fast") for seed in range(12)]
    specs += [prepare_seed(seed, FOUR, tmp_path / f"full{seed}", check="full") for seed in (3, 9)]
    results = cosimulate(specs, FOUR, tmp_path / "batch", build=build4)
    assert_clean(results)
    assert sum(r["cycles"] for r in results) > 5000


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_weight_fault_in_dut_image_is_caught_and_explained(build1, tmp_path, mode):
    # The DUT gets weight 31 at core 0 address 0 instead of 30: its first MAC (step 0, cycle 1: the ACC
    # issued on cycle 0 adds 1 x weight) writes 31 where the golden model writes 0 + 1 x 30 = 30.
    spec = if_neuron_run(tmp_path, mode, fault="weight:0:0:31")
    (result,) = cosimulate([spec], ONE, tmp_path, build=build1)
    assert not result["passed"]
    first = result["first_mismatch"]
    assert first["message"] == ("ACC mismatch, DUT: cycle 1 core 0 ACC n=0 value=31 "
                                "expected: cycle 1 core 0 ACC n=0 value=30")
    assert (first["cycle"], first["step"], first["core"], first["index"]) == (1, 0, 0, 0)
    assert (first["expected"], first["actual"]) == (30, 31)
    assert first["instruction"].startswith("pc 0: acc neuron=0, count=1, wbase=0")
    assert first["sim_time_ns"] is not None and first["reproduce"].startswith("python -m spikecore.app.sim")
    assert "FIRST MISMATCH: ACC mismatch" in result["text"] and "instruction: pc 0: acc" in result["text"]


def test_reloading_an_image_writes_back_every_word_a_run_before_changed(build1, tmp_path):
    # One simulator process: the if_neuron image with a planted weight (31 instead of 30), the same image
    # clean, a random program, the if_neuron image again. The driver writes only the words the memories do
    # not already hold; a word left over from the run before would fail the clean runs (the first MAC
    # would read 31, or the random program's weight).
    faulty = if_neuron_run(tmp_path / "faulty", "full", fault="weight:0:0:31")
    clean = [if_neuron_run(tmp_path / name, "full") for name in ("clean", "again")]
    other = prepare_seed(5, ONE, tmp_path / "other", check="full")
    results = cosimulate([faulty, clean[0], other, clean[1]], ONE, tmp_path / "batch", build=build1)
    assert not results[0]["passed"] and results[0]["first_mismatch"]["actual"] == 31
    assert_clean(results[1:])


def test_fast_rerun_after_a_reset_keeps_each_cores_period(build4, tmp_path):
    # Seed 17 gives cores periods 3 and 4 (docs/spec.md §2). A corrupted golden record makes FAST re-run the
    # run from reset in FULL; the reset clears the PERIOD registers, so the re-load must write them again
    # (the memories keep their words, a register does not). Otherwise every core runs every step and the
    # re-run reports records long before the planted one.
    spec = prepare_seed(17, FOUR, tmp_path, check="fast", fault="golden:40:3")
    image, stimulus = load_image(spec.image), Stimulus.load(spec.stimulus)
    assert any(core.period > 1 for core in image.cores.values())
    board = Scoreboard(image, stimulus)
    planted = np.concatenate([board.expect_step().records for _ in range(spec.steps)])[40]
    (result,) = cosimulate([spec], FOUR, tmp_path, build=build4)
    assert not result["passed"] and result["mismatches"] == 1
    assert result["first_mismatch"]["cycle"] == int(planted["cycle"])


def test_corrupted_golden_record_is_caught(build4, tmp_path):
    spec = prepare_seed(0, FOUR, tmp_path, check="fast", fault="golden:3:1")
    (result,) = cosimulate([spec], FOUR, tmp_path, build=build4)
    assert not result["passed"] and result["mismatches"] == 1
    first = result["first_mismatch"]
    assert first["expected"] == first["actual"] + 1          # golden value raised by one, DUT unchanged
    assert first["message"].split()[0] in ("ACC", "SPIKE", "EVENT", "DROP", "OUT")


def test_recorded_vcd_checks_clean_offline(build1, tmp_path):
    spec = prepare_seed(9, ONE, tmp_path, check="fast")
    (result,) = cosimulate([spec], ONE, tmp_path, build=build1, waves=True)
    assert_clean([result])
    check = check_vcd(tmp_path / "dump.vcd", *_program(spec))
    assert check.passed and check.matched == result["records_compared"]
    gtkw = (tmp_path / "waves.gtkw").read_text()
    assert "-core 0" in gtkw and "instructions.filter" in gtkw


def _program(spec: RunSpec):
    from spikecore.image import load_image

    return load_image(spec.image), Stimulus.load(spec.stimulus), spec.steps


def test_regression_writes_summary(build4, tmp_path):
    summary = run_regression(list(range(20, 26)), FOUR, tmp_path, jobs=2, batch=3, log=lambda line: None)
    assert summary["passed"] and summary["programs"] == 6 and summary["mismatches"] == 0
    assert summary["records_compared"] > 0 and summary["array_cycles"] > 0
    assert summary["coverage"]["coverpoints"]["opcode_core"]["bins"]["HALT@core0"] > 0
    assert (tmp_path / "summary.json").exists() and (tmp_path / "junit.xml").exists()
    assert (tmp_path / "coverage.xml").exists()
