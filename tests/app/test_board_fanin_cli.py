"""The command line on a board with split layers (issue 13's done-when): a 784 -> 100 -> 10 MLP compiles for
``--chip "chips=4"`` and is refused for ``chips=2`` in one stderr line naming the weight bytes needed and
available, with exit status 2 and no output file."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from spikecore.app.cli import main
from spikecore.image import load_image


def test_784_100_10_compiles_for_four_chips_and_is_refused_for_two(tmp_path, capsys):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    path, calib = tmp_path / "mlp.pt", tmp_path / "calib.npy"
    torch.save(model, path)
    np.save(calib, np.random.default_rng(0).random((16, 784)).astype(np.float32))

    out = tmp_path / "mlp.bin"
    assert main(["compile", str(path), "--calib", str(calib), "--out", str(out), "--chip", "chips=4"]) == 0
    image = load_image(out)
    # 256 product cores (2 chips) cannot hold it, 512 can: more than 256 sections, chips 2 and 3 unused or not
    assert image.config.chips == 4 and 256 < len(image.cores) <= 512
    # every weight of the model on some core: 784 x 100 + 100 x 10 bytes (the refusal below counts the same)
    weight_bytes = sum(len(core.weights) for core in image.cores.values())
    assert weight_bytes == 79_400
    capsys.readouterr()

    refused = tmp_path / "no.bin"
    assert main(["compile", str(path), "--calib", str(calib), "--out", str(refused), "--chip", "chips=2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"spikecore: error: model file {path}: model needs 354 cores ")
    # 2 chips x 128 cores x 256 B = 65,536 bytes available; 784 x 100 + 100 x 10 = 79,400 needed. Cores: 25 hidden
    # slices of 4 neurons x (13 groups of <= 61 inputs + 1 merging core) = 350 (tests/compiler/test_board_fanin.py),
    # plus 4 output cores
    assert "the board has 256 (2 chips x 128); weight bytes: needs 79400, 65536 available; chips: needs 3" in err
    assert not refused.exists()
