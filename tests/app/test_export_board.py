"""``spikecore export`` of a board image (chips > 1) is refused in one line that says so."""

from __future__ import annotations

import nir
import numpy as np

from spikecore.app.cli import main
from spikecore.image import load_image


def _lif(n: int) -> nir.LIF:
    return nir.LIF(tau=np.full(n, 5e-3), r=np.full(n, 5.0), v_leak=np.zeros(n), v_threshold=np.ones(n),
                   v_reset=np.zeros(n))


def test_export_refuses_a_board_image_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    graph = nir.NIRGraph.from_list(nir.Affine(rng.normal(0.2, 0.5, (12, 8)), np.zeros(12)), _lif(12),
                                   nir.Affine(rng.normal(0.2, 0.5, (6, 12)), np.zeros(6)), _lif(6),
                                   nir.Affine(rng.normal(0.2, 0.5, (4, 6)), np.zeros(4)), _lif(4))
    nir.write("model.nir", graph)
    assert main(["compile", "model.nir", "--dt", "1e-4", "--chip", "chips=2 cores=2", "--out", "board.bin"]) == 0
    assert load_image("board.bin").config.chips == 2      # a board image indeed
    capsys.readouterr()
    assert main(["export", "board.bin", "--nir", "back.nir", "--dt", "1e-4"]) == 2
    assert capsys.readouterr().err == ("spikecore: error: program file board.bin: the image is a board of 2 chips: "
                                       "NIR export of a board image (chips > 1) is not supported\n")
    assert not (tmp_path / "back.nir").exists()
