"""A compiled graded MLP whose hidden layer is split over partial-sum cores (docs/spec.md §4.8) on the
Verilator-built 4-core array: every record of every sample equals the golden model's (which equals the
compiler's integer reference, tests/compiler/test_compiler_fanin.py).

128 -> 4 -> 3 on the product 4-core chip: a hidden neuron reads 128 inputs, more than event_depth 64, so it is
split in 2 groups of 64 (64 rows x 4 neurons = 256 weight bytes per partial-sum core), one merging core, and
the output layer on the fourth core.
"""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.compiler.pipeline import _lay_out
from spikecore.compiler.quantize import quantize
from spikecore.config import ChipConfig
from spikecore.image import save_image
from spikecore.verif.build import build_array
from spikecore.verif.cocotb_array import RunSpec
from spikecore.verif.sim import cosimulate
from tests.compiler.test_compiler_place import float_mlp

pytestmark = [pytest.mark.rtl, pytest.mark.slow, pytest.mark.xdist_group("verilator")]

FOUR = ChipConfig(cores=4)


def test_split_mlp_runs_on_the_rtl_with_zero_mismatches(tmp_path):
    graph = float_mlp((128, 4, 3))
    rng = np.random.default_rng(1)
    quant = quantize(graph, rng.uniform(0, 1, (64, 128)), config=FOUR)
    compiled = _lay_out(graph, quant, FOUR, "split", {})
    assert compiled.quant.merged == (0,)
    assert [(pc.partial, pc.merge, len(pc.axons), pc.count) for pc in compiled.placed.cores] == [
        (True, False, 64, 4), (True, False, 64, 4), (False, True, 0, 4), (False, False, 4, 3)]
    save_image(compiled.image, tmp_path / "image.bin")
    runs = []
    for i, sample in enumerate(rng.uniform(0, 1, (3, 128))):
        compiled.stimulus(sample).save(tmp_path / f"stim{i}.json")
        runs.append(RunSpec(image=str(tmp_path / "image.bin"), stimulus=str(tmp_path / f"stim{i}.json"),
                            steps=compiled.steps, result=str(tmp_path / f"result{i}.json"), seed=None, check="full",
                            reproduce="(compiled 128-4-3 split MLP)"))
    results = cosimulate(runs, FOUR, tmp_path / "run", build=build_array(FOUR))
    for result in results:
        assert result["passed"], result["text"]
        assert result["mismatches"] == 0 and result["records_compared"] > 0
