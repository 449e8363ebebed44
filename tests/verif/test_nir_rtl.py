"""NIR programs on the RTL: random LIF/IF networks compiled from NIR run bit-exactly on the Verilator-built
array, every trace record scoreboarded against the golden model (issue target: golden ≡ RTL)."""

import re

import numpy as np
import pytest

from spikecore.app.nir_compare import compare
from spikecore.config import ChipConfig
from tests.compiler.test_nir_dynamics import random_network

pytestmark = [pytest.mark.rtl, pytest.mark.xdist_group("verilator")]

# Four cores: the array the verification suite builds anyway, so no extra Verilator build.
FOUR_CORES = ChipConfig(cores=4)


@pytest.mark.parametrize("seed, sizes, kinds, reset, fine", [
    (0, [8, 16, 4], ["LIF", "LIF"], "value", False),
    (1, [10, 12, 5], ["LIF", "IF"], "subtract", False),
    (3, [6, 10, 4], ["IF", "LIF"], "value", True),
])
def test_random_nir_network_runs_bit_exactly_on_the_rtl(seed, sizes, kinds, reset, fine):
    g = random_network(seed, sizes, kinds)
    x = (np.random.default_rng(200 + seed).random((30, sizes[0])) < 0.3).astype(float)
    result = compare(g, x, reset=reset, config=FOUR_CORES, rtl=True, fine_weights=fine)
    match = re.fullmatch(r"RTL == golden: (\d+) of (\d+) trace records matched over (\d+) cycles", result.rtl)
    assert match, result.rtl
    matched, compared, cycles = (int(v) for v in match.groups())
    assert matched == compared > 0 and cycles > 0
    assert sum(layer.chip_spikes for layer in result.layers) > 0, result.text()   # spikes crossed the router
