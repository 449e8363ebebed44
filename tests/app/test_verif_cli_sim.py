"""``spikecore sim``: an assembled example on the Verilator RTL, scoreboarded; and its one-line errors."""


import pytest

from spikecore.app.cli import main
from tests.helpers import EXAMPLES

pytestmark = [pytest.mark.rtl, pytest.mark.xdist_group("verilator")]


def test_sim_command_scoreboards_the_graded_example(tmp_path, capsys):
    image = tmp_path / "graded_mlp.bin"
    assert main(["asm", str(EXAMPLES / "graded_mlp.s"), "-o", str(image)]) == 0
    status = main(["sim", str(image), "--inputs", str(EXAMPLES / "graded_mlp.stim.csv"), "--steps", "2",
                   "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert status == 0, out
    # by hand from docs/examples.md: step 0 has 14 ACC + 3 SPIKE + 3 EVENT records, step 1 12 ACC + 3 SPIKE + 3 EVENT
    assert "matched 38 records" in out
    assert "PASS: graded_mlp.bin, 3 cores, 2 steps checked, 30 array cycles" in out


def test_sim_command_refuses_a_missing_image_in_one_line(tmp_path, capsys):
    assert main(["sim", str(tmp_path / "nothing.bin")]) == 2
    assert capsys.readouterr().err == f"spikecore: error: {tmp_path / 'nothing.bin'}: No such file or directory\n"


def test_sim_command_names_chips_and_cores_of_a_board(tmp_path, capsys):
    # A fresh user's fault: the PASS line of a 2 x 2 board said "2 cores" (one chip's cores).
    from tests.app.test_profile import BOARD

    source, image, stim = tmp_path / "board.s", tmp_path / "board.bin", tmp_path / "stim.csv"
    source.write_text(BOARD)
    stim.write_text("step,core,axon,payload\n0,0,0,10\n1,0,0,20\n")
    assert main(["asm", str(source), "-o", str(image)]) == 0
    status = main(["sim", str(image), "--inputs", str(stim), "--steps", "4", "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "PASS: board.bin, 2 chips x 2 cores, 4 steps checked, " in out and " board cycles, " in out
