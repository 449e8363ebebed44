"""``spikecore sim`` checks the stimulus against the image before it starts a simulator, with ``run``'s words.

Each refusal: exit 2, exactly one stderr line naming the stimulus file and the problem, no output folder.
The simulator is replaced by a stand-in that fails the test if reached, so these tests build nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spikecore.app.cli import main
from spikecore.compiler.asm import assemble
from spikecore.image import save_image
from spikecore.verif import sim as sim_lib

# a board of 2 chips x 2 cores (4 global cores) and a one-chip image of 6 cores, both with event_depth 2
BOARD = ".chip chips=2 cores=2 event_depth=2\n.core 0\nhalt\n"
CHIP6 = ".chip cores=6 event_depth=2\n.core 0\nhalt\n"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    save_image(assemble(BOARD), tmp_path / "board.bin")
    save_image(assemble(CHIP6), tmp_path / "chip6.bin")
    (tmp_path / "stim4.csv").write_text("step,core,axon,payload\n0,4,0,1\n")
    (tmp_path / "stim7.csv").write_text("step,core,axon,payload\n0,1,0,1\n1,7,0,1\n")
    # three host events into core 1 in step 0: one more than event_depth=2
    (tmp_path / "full.csv").write_text("step,core,axon,payload\n0,1,0,1\n0,1,1,1\n0,1,2,1\n")
    (tmp_path / "late.csv").write_text("step,core,axon,payload\n5,0,0,1\n")

    def no_simulator(*args, **kwargs):
        raise AssertionError("the simulator was started for a stimulus the golden model refuses")

    monkeypatch.setattr(sim_lib, "cosimulate", no_simulator)
    monkeypatch.setattr("spikecore.app.sim.cosimulate", no_simulator)
    return tmp_path


@pytest.mark.parametrize(("image", "stim", "steps", "expected"), [
    ("board.bin", "stim4.csv", "1", "stimulus file stim4.csv:2: core 4 out of range 0..3 "
                                    "(the image's board of 2 chips has 4 cores)"),
    ("chip6.bin", "stim7.csv", "2", "stimulus file stim7.csv:3: core 7 out of range 0..5 "
                                    "(the image's chip has 6 cores)"),
    ("chip6.bin", "full.csv", "1", "stimulus file full.csv:4: inject: core 1 input buffer is full (2 events)"),
    ("chip6.bin", "late.csv", "2", "stimulus file late.csv:2: event at step 5, but the run has only 2 steps (0..1); "
                                   "give --steps 6 or more"),
])
def test_sim_refuses_a_stimulus_run_refuses_in_one_line(capsys, work, image, stim, steps, expected):
    status = main(["sim", image, "--inputs", stim, "--steps", steps, "--out", "out"])
    err = capsys.readouterr().err
    assert (status, err) == (2, f"spikecore: error: {expected}\n")
    assert not (work / "out").exists()
    # the same words as `spikecore run` on the same files (run over a board image too)
    assert main(["run", image, "--inputs", stim, "--steps", steps]) == 2
    assert capsys.readouterr().err == f"spikecore: error: {expected}\n"
