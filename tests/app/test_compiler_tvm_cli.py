"""``spikecore compile --frontend tvm``: report with host work, ``--dump-ir partition``, same bytes, clear errors."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.app import cli_compile
from spikecore.compiler.frontends import tvm as tvm_frontend
from spikecore.errors import SpikeCoreError

TVM_MISSING = tvm_frontend.tvm_missing()
needs_tvm = pytest.mark.skipif(TVM_MISSING is not None, reason=f"TVM frontend not testable: {TVM_MISSING}")
pytestmark = pytest.mark.xdist_group("tvm")


def run_compile(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="spikecore")
    cli_compile.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["compile", *argv])
    return args.handler(args)


@needs_tvm
def test_cli_frontend_tvm_report_and_partition_dump(tmp_path, capsys):
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(dim=1))
    path, calib = tmp_path / "model.pt", tmp_path / "calib.npy"
    torch.save(model, path)
    np.save(calib, np.random.default_rng(0).random((32, 12)).astype(np.float32))
    out_tvm, out_default = tmp_path / "tvm.bin", tmp_path / "default.bin"
    assert run_compile([str(path), "--frontend", "tvm", "--report", "--dump-ir", "partition", "--calib", str(calib),
                        "--out", str(out_tvm)]) == 0
    printed = capsys.readouterr().out
    assert '"Codegen": "spikecore"' in printed and "def main(" in printed
    assert "host  nn.softmax(axis=1)" in printed
    assert "host work after the chip: nn.softmax(axis=1)" in printed
    torch.save(model[:-1], path)
    assert run_compile([str(path), "--calib", str(calib), "--out", str(out_default)]) == 0
    assert out_tvm.read_bytes() == out_default.read_bytes()


def test_cli_partition_dump_needs_the_tvm_frontend(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(nn.Sequential(nn.Linear(3, 2)), path)
    with pytest.raises(SpikeCoreError, match="--dump-ir partition: the partitioned Relax module exists only with "
                                             "--frontend tvm"):
        run_compile([str(path), "--dump-ir", "partition"])
    with pytest.raises(SpikeCoreError, match="--frontend applies to PyTorch models only"):
        run_compile([str(tmp_path / "graph.nir"), "--frontend", "tvm"])
