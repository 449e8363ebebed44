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
    assert "PASS: graded_mlp.bin, 3 cores, 2 steps checked, 30 cycles" in out


def test_sim_command_refuses_a_missing_image_in_one_line(tmp_path, capsys):
    assert main(["sim", str(tmp_path / "nothing.bin")]) == 2
    assert capsys.readouterr().err == f"spikecore: error: {tmp_path / 'nothing.bin'}: No such file or directory\n"
