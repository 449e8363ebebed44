"""``spikecore compile``: files written, listing = image, IR dumps and report printed, clear errors."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.app import cli_compile
from spikecore.compiler.asm import assemble
from spikecore.errors import SpikeCoreError
from spikecore.image import encode_image, load_image


def run_compile(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="spikecore")
    cli_compile.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["compile", *argv])
    return args.handler(args)


@pytest.fixture
def saved_model(tmp_path):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    path = tmp_path / "model.pt"
    torch.save(model, path)
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((32, 12)).astype(np.float32))
    return model, path, calib


def test_compile_writes_image_listing_report_and_dumps(saved_model, tmp_path, capsys):
    _, path, calib = saved_model
    out, listing = tmp_path / "prog.bin", tmp_path / "prog.s"
    status = run_compile([str(path), "--out", str(out), "--listing", str(listing), "--report", "--dump-ir", "all",
                          "--calib", str(calib), "--chip", "cores=8"])
    assert status == 0
    printed = capsys.readouterr().out
    for heading in ("float graph: input", "quant graph (graded", "placed program:", "utilisation on 8 cores",
                    "quantisation (graded", f"{out}: "):
        assert heading in printed
    image = load_image(out)
    assert image.config.cores == 8 and len(image.cores) == 2
    assert encode_image(assemble(listing.read_text())) == out.read_bytes()


def test_compile_rate_exported_program_without_calibration(saved_model, tmp_path, capsys):
    model, _, _ = saved_model
    pt2 = tmp_path / "model.pt2"
    torch.export.save(torch.export.export(model, (torch.rand(1, 12),)), pt2)
    assert run_compile([str(pt2), "--mode", "rate", "--T", "4", "--dump-ir", "quant"]) == 0
    captured = capsys.readouterr()
    assert "no --calib given" in captured.err
    assert "quant graph (rate, T=4, 5 steps per inference" in captured.out
    assert load_image(pt2.with_suffix(".bin")).config.cores == 128


def test_compile_errors_are_one_line(saved_model, tmp_path):
    _, path, calib = saved_model
    with pytest.raises(SpikeCoreError, match="--T applies to --encoding rate only"):
        run_compile([str(path), "--T", "4"])
    with pytest.raises(SpikeCoreError, match=r"model file .*missing.pt: not found"):
        run_compile([str(tmp_path / "missing.pt"), "--calib", str(calib)])
    with pytest.raises(SpikeCoreError, match="--chip: expected key=value"):
        run_compile([str(path), "--chip", "corez=4"])
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 5), dtype=np.float32))
    wrong_shape = r"calibration file .*bad.npy: samples of shape \(5,\) do not match the model input \(12,\)$"
    with pytest.raises(SpikeCoreError, match=wrong_shape):
        run_compile([str(path), "--calib", str(bad), "--out", str(tmp_path / "x.bin")])
    with pytest.raises(SpikeCoreError, match=r"model needs 2 cores .* the chip has 1"):
        run_compile([str(path), "--calib", str(calib), "--chip", "cores=1", "--out", str(tmp_path / "y.bin")])


def test_compile_for_a_board_reports_chips_and_links_and_runs(saved_model, tmp_path, capsys):
    # 12 -> 8 -> 3 needs 2 cores; on 2 chips of 1 core, layer 0 is chip 0 core 0 and layer 1 chip 1 core 0, so each
    # of the 8 hidden neurons has one fan-out entry over link 0->1.
    from spikecore.app import cli

    _, path, calib = saved_model
    out, listing = tmp_path / "board.bin", tmp_path / "board.s"
    assert run_compile([str(path), "--out", str(out), "--listing", str(listing), "--report", "--calib", str(calib),
                        "--chip", "cores=1 chips=2"]) == 0
    printed = capsys.readouterr().out
    assert "links used      1 of 2" in printed and "link 0->1       8 fan-out entries" in printed
    image = load_image(out)
    assert image.config.chips == 2 and sorted(image.cores) == [0, 1]
    assert {e.chip for e in image.cores[0].fanout} == {1}
    assert encode_image(assemble(listing.read_text())) == out.read_bytes()
    stim = tmp_path / "s.csv"
    stim.write_text("step,core,axon,payload\n0,0,0,127\n")
    assert cli.main(["run", str(out), "--steps", "2", "--inputs", str(stim), "--trace", str(tmp_path / "t.csv")]) == 0
    header, *records = (tmp_path / "t.csv").read_text().splitlines()
    assert header == "cycle,chip,core,kind,index,value"
    assert any(",LINK," in r for r in records) and any(r.split(",")[1] == "1" for r in records)


def test_compile_layer_map_names_each_layer_and_its_cores_for_profile(saved_model, tmp_path):
    from spikecore.app.profile import load_layer_map

    _, path, calib = saved_model
    out, layer_map = tmp_path / "prog.bin", tmp_path / "map.json"
    assert run_compile([str(path), "--out", str(out), "--calib", str(calib), "--chip", "cores=8",
                        "--layer-map", str(layer_map)]) == 0
    layers = load_layer_map(layer_map, cores=8)
    image = load_image(out)
    # 12 -> 8 -> 3 fits one core per layer: the two sections of the image are the two layers' cores.
    assert sorted(layers) == sorted(image.cores) and len(set(layers.values())) == 2


def test_compile_784_64_10_splits_its_fan_in_or_says_what_it_needs(tmp_path, capsys):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    path, calib = tmp_path / "mlp.pt", tmp_path / "calib.npy"
    torch.save(model, path)
    np.save(calib, np.random.default_rng(0).random((16, 784)).astype(np.float32))
    # weight_bytes 4096, event_depth 256: 7 groups of 112 inputs x 32 neurons, 14 partial-sum + 2 merging + 1
    # output core (tests/compiler/test_compiler_fanin.py derives it)
    out = tmp_path / "mlp.bin"
    assert run_compile([str(path), "--calib", str(calib), "--out", str(out), "--report",
                        "--chip", "cores=32 weight_bytes=4096 event_depth=256"]) == 0
    assert "(merging)" in capsys.readouterr().out
    assert len(load_image(out).cores) == 17
    # the product chip's 256-byte cores: 784 x 64 + 64 x 10 = 50,816 weight bytes on 128 cores cannot fit
    with pytest.raises(SpikeCoreError, match=r"mlp.pt: model needs \d+ cores \(linear: \d+ partial-sum \+ \d+ merging, "
                                             r"linear_1: \d+\) and 50816 weight bytes, the chip has 128 cores of "
                                             r'256 bytes; a board of 2 chips holds it: pass --chip "chips=2"$'):
        run_compile([str(path), "--calib", str(calib), "--out", str(tmp_path / "no.bin")])
    assert not (tmp_path / "no.bin").exists()
