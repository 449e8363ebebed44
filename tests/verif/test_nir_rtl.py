"""NIR programs on the RTL: random LIF/IF networks compiled from NIR run bit-exactly on the Verilator-built
array, every trace record scoreboarded against the golden model (issue target: golden ≡ RTL)."""

import re

import nir
import numpy as np
import pytest

from spikecore.app.nir_compare import compare
from spikecore.config import ChipConfig
from tests.compiler.test_nir_braille import DT, cubalif
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


@pytest.mark.parametrize("fine", [False, True])
def test_recurrent_cubalif_network_runs_bit_exactly_on_the_rtl(fine):
    """SACC, SYN and a layer's fan-out into its own core (docs/spec.md §4.6, §11) on the 4-core RTL."""
    rng = np.random.default_rng(5)
    n_in, n_h, n_out = 6, 8, 3
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "fc1": nir.Affine(weight=rng.normal(0.6, 0.5, (n_h, n_in)), bias=rng.normal(0.0, 0.1, n_h)),
             "lif1": cubalif(n_h, 2 * DT, 5 * DT), "rec": nir.Linear(weight=rng.normal(-0.1, 0.6, (n_h, n_h))),
             "fc2": nir.Linear(weight=rng.normal(0.5, 0.5, (n_out, n_h))), "lif2": cubalif(n_out, 2 * DT, 4 * DT),
             "output": nir.Output(output_type={"output": np.array([n_out])})}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
             ("lif2", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    x = (np.random.default_rng(7).random((30, n_in)) < 0.3).astype(float)
    result = compare(g, x, dt=DT, config=FOUR_CORES, rtl=True, fine_weights=fine)
    match = re.fullmatch(r"RTL == golden: (\d+) of (\d+) trace records matched over (\d+) cycles", result.rtl)
    assert match, result.rtl
    matched, compared, cycles = (int(v) for v in match.groups())
    assert matched == compared > 0 and cycles > 0
    assert all(layer.chip_spikes > 0 for layer in result.layers), result.text()   # the recurrence carries spikes
    assert all(layer.agreement >= 0.99 for layer in result.layers), result.text()


def test_back_edge_into_an_earlier_layer_runs_bit_exactly_on_the_rtl():
    """A recurrent edge from lif1 back into lif0 (docs/spec.md §11): two chip steps per input step, lif0's cores
    at phase 0 and lif1's at phase 1 of period 2 (§2) on the 4-core RTL."""
    from tests.compiler.test_nir_back_edge_reference import DT as BACK_DT
    from tests.compiler.test_nir_back_edge_reference import back_edge_graph

    rng = np.random.default_rng(2)
    graph, _ = back_edge_graph(rng)
    x = (rng.random((40, 4)) < 0.3).astype(float)
    result = compare(graph, x, dt=BACK_DT, config=FOUR_CORES, rtl=True)
    match = re.fullmatch(r"RTL == golden: (\d+) of (\d+) trace records matched over (\d+) cycles", result.rtl)
    assert match, result.rtl
    matched, compared, cycles = (int(v) for v in match.groups())
    assert matched == compared > 0 and cycles > 0
    assert result.golden_equals_integer
    assert all(layer.chip_spikes > 0 for layer in result.layers), result.text()
