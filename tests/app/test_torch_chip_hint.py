"""A fresh user's fault: a PyTorch model a chip cannot hold was refused with no ``--chip`` hint, although the
NIR path names one (docs/compiler.md, "Board"). Both frontends now refuse through
:func:`~spikecore.compiler.pipeline.lay_out_or_hint`: the one stderr line ends in a ``--chip`` and compiling with
that ``--chip`` succeeds, so the hint is proven to hold; a model nothing within the limits holds gets no hint."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from spikecore.app.cli import main
from spikecore.image import load_image

HINT = re.compile(r'; (?:a chip|a board of \d+ chips)(?: with deeper buffers)? holds it: pass --chip "([^"]*)"\n$')


@pytest.fixture(scope="module")
def mlp784(tmp_path_factory):
    """The 784 -> 64 -> 10 torch MLP saved with torch.save, and 16 calibration samples (every weight non-zero)."""
    folder = tmp_path_factory.mktemp("mlp784")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    path, calib = folder / "mlp784.pt", folder / "c784.npy"
    torch.save(model, path)
    np.save(calib, np.random.default_rng(0).random((16, 784)).astype(np.float32))
    return path, calib


def _compile(mlp784, chip: str, out):
    path, calib = mlp784
    return main(["compile", str(path), "--calib", str(calib), "--out", str(out), "--chip", chip])


@pytest.mark.parametrize("chip", ["cores=8 weight_bytes=4096 event_depth=64 chips=3",
                                  "cores=64 weight_bytes=1024 event_depth=64",
                                  # one chip: a board of (17 cores / 8) = 3 such chips holds it
                                  "cores=8 weight_bytes=4096", "cores=8 weight_bytes=4096 event_depth=64"])
def test_a_torch_refusal_names_a_chip_that_compiles_the_model(mlp784, chip, tmp_path, capsys):
    refused = tmp_path / "no.bin"
    assert _compile(mlp784, chip, refused) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"spikecore: error: model file {mlp784[0]}: model needs ")
    assert not refused.exists()
    hint = HINT.search(err)
    assert hint is not None, err
    # the hint keeps the user's shallow event buffers out: 64 events cannot hold the 784 inputs' split groups
    assert "event_depth=64" not in hint.group(1)

    out = tmp_path / "yes.bin"
    assert _compile(mlp784, hint.group(1), out) == 0, capsys.readouterr().err
    image = load_image(out)
    # every weight of the model on some core: 784 x 64 + 64 x 10 bytes
    assert sum(len(core.weights) for core in image.cores.values()) == 784 * 64 + 64 * 10
    assert len(image.cores) <= image.config.chips * image.config.cores


def test_no_hint_when_no_board_within_the_limits_holds_the_torch_model(mlp784, tmp_path, capsys):
    # 2 cores of 256 bytes: 784 x 64 + 640 weight bytes need >= 199 cores, 16 chips x 2 cores = 32 cannot hold it
    assert _compile(mlp784, "cores=2 chips=16", tmp_path / "no.bin") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model needs " in err and "pass --chip" not in err


def test_with_fit_chips_the_hint_names_the_fewest_chips_that_hold_the_model(mlp784):
    # make sim NET=mnist compiles with fit_chips and up to 16 chips: the hint names the fewest such chips
    # (17 cores with 1024-deep buffers: ceil(17 / 8) = 3 chips), not the 16 allowed
    from spikecore.compiler.pipeline import compile_model
    from spikecore.config import parse_chip
    from spikecore.errors import SpikeCoreError

    model = torch.load(mlp784[0], weights_only=False)
    calib = np.load(mlp784[1])
    x = torch.from_numpy(calib[:1])
    with pytest.raises(SpikeCoreError) as info:
        compile_model(model, x, calib, config=parse_chip("cores=8 weight_bytes=4096 event_depth=64 chips=16"),
                      fit_chips=True)
    hint = HINT.search(str(info.value) + "\n")
    assert hint is not None and hint.group(1).endswith(" chips=3"), str(info.value)
    compiled = compile_model(model, x, calib, config=parse_chip(hint.group(1)))
    assert 16 < len(compiled.image.cores) <= 24 and compiled.image.config.chips == 3
