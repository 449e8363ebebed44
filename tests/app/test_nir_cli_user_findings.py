"""A fresh user's findings on ``spikecore compile`` / ``compare`` of NIR graphs: each wrong input is refused in
one stderr line naming it, exit 2, and no output file is written."""

from __future__ import annotations

import os

import nir
import numpy as np
import pytest

from spikecore.app.cli import main


def one_line(capsys, status: int, message: str) -> None:
    err = capsys.readouterr().err
    assert status == 2 and err == f"spikecore: error: {message}\n", err
    assert not any(name.endswith(".bin") for name in os.listdir("."))


@pytest.fixture
def files(tmp_path, monkeypatch):
    """g.nir: Linear 'fc' (3 <- 20) into IF 'if'; good.npy (60, 20) and bad.npy (60, 21) calibration data."""
    monkeypatch.chdir(tmp_path)
    nodes = {"input": nir.Input(input_type={"input": np.array([20])}), "fc": nir.Linear(np.full((3, 20), 0.125)),
             "if": nir.IF(r=np.ones(3), v_threshold=np.ones(3), v_reset=np.zeros(3)),
             "output": nir.Output(output_type={"output": np.array([3])})}
    nir.write("g.nir", nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "if"), ("if", "output")],
                                    type_check=False))
    rng = np.random.default_rng(0)
    np.save("good.npy", rng.random((60, 20)).astype(np.float32))
    np.save("bad.npy", rng.random((60, 21)).astype(np.float32))
    return tmp_path


def test_calib_of_the_graph_shape_compiles(files):
    assert main(["compile", "g.nir", "--dt", "1", "--chip", "cores=4", "--calib", "good.npy"]) == 0
    assert os.path.exists("g.bin")


def test_calib_of_another_shape_is_refused_on_compile_and_compare(files, capsys):
    message = "calibration file bad.npy: shape (60, 21), expected (N, 20) (the input of g.nir)"
    one_line(capsys, main(["compile", "g.nir", "--dt", "1", "--chip", "cores=4", "--calib", "bad.npy"]), message)
    one_line(capsys, main(["compare", "g.nir", "--dt", "1", "--chip", "cores=4", "--calib", "bad.npy",
                           "--steps", "5"]), message)


@pytest.mark.parametrize("command", ["compile", "compare"])
@pytest.mark.parametrize("flags, message", [
    (["--fine-inputs", "--fine-weights"], "--fine-inputs and --fine-weights exclude each other (fine weights include "
                                          "the first layer's); pass one of them"),
    (["--calib", "good.npy", "--input-max", "2"], "--calib and --input-max exclude each other (each sets the input "
                                                  "range); pass one of them"),
])
def test_exclusive_flags_together_are_refused(files, capsys, command, flags, message):
    one_line(capsys, main([command, "g.nir", "--dt", "1", "--chip", "cores=4", "--steps" if command == "compare"
                           else "--report", *(["5"] if command == "compare" else []), *flags]), message)


def test_each_exclusive_flag_alone_works(files):
    for flags in (["--fine-inputs"], ["--fine-weights"], ["--calib", "good.npy"], ["--input-max", "2"]):
        assert main(["compile", "g.nir", "--dt", "1", "--chip", "cores=4", *flags]) == 0
