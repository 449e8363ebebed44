"""``spikecore compile --percentile`` end to end, on the hand-worked network of test_compiler_quantize_options.

Linear(1, 1) weight 1, ReLU, Linear(1, 1) weight 1, no biases; calibration inputs 1, 8, 8, 127. The hidden
core runs ``acc; fire; halt``. Its FIRE word by hand (§4): opcode 3 << 28, neuron 0, count 1 (stored 0),
shift << 7, reset always (3) << 5, graded 1 << 4:
  --percentile 50  (lambda 8, shift 3):   0x30000000 | 3 << 7 | 0x60 | 0x10 = 0x300001F0, threshold 2**2 = 4
  default 100      (lambda 127, shift 7): 0x30000000 | 7 << 7 | 0x60 | 0x10 = 0x300003F0, threshold 2**6 = 64
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.app import cli_compile
from spikecore.image import load_image


def compile_with(tmp_path, *extra: str):
    model = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1))
    with torch.no_grad():
        for layer in (model[0], model[2]):
            layer.weight.fill_(1.0)
            layer.bias.zero_()
    torch.save(model, tmp_path / "m.pt")
    np.save(tmp_path / "calib.npy", np.array([[1.0], [8.0], [8.0], [127.0]], np.float32))
    parser = argparse.ArgumentParser(prog="spikecore")
    cli_compile.register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "m.bin"
    args = parser.parse_args(["compile", str(tmp_path / "m.pt"), "--calib", str(tmp_path / "calib.npy"),
                              "--out", str(out), "--chip", "cores=2", *extra])
    assert args.handler(args) == 0
    return load_image(out).cores[0]


@pytest.mark.parametrize(("extra", "fire", "threshold"), [
    ((), 0x300003F0, 64),
    (("--percentile", "100"), 0x300003F0, 64),
    (("--percentile", "50"), 0x300001F0, 4),
])
def test_percentile_reaches_the_image(tmp_path, extra, fire, threshold) -> None:
    hidden = compile_with(tmp_path, *extra)
    assert hidden.program[1] == fire
    assert hidden.neurons[0].threshold == threshold
