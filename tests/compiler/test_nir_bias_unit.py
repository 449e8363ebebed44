"""A bias current larger than the bias axons carry at the weights' unit coarsens that neuron's membrane unit.

docs/spec.md §11, "Bias": one bias axon carries at most 127 x 127 membrane units per step (two, with fine
weights, 127 x 127 + 63); the unit is at least |c b| / that capacity, so a large bias (snnTorch's default
``nn.Linear`` bias next to small weights) compiles instead of being refused.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikecore.compiler.pipeline import compile_nir

DT = 1e-4


def lif_graph(weight: np.ndarray, bias: np.ndarray) -> nir.NIRGraph:
    n, n_in = weight.shape
    full = lambda v: np.full(n, float(v))  # noqa: E731
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "fc": nir.Affine(weight=weight, bias=bias),
             "lif": nir.LIF(tau=full(10 * DT), r=full(1), v_leak=full(0), v_threshold=full(1), v_reset=full(0)),
             "output": nir.Output(output_type={"output": np.array([n])})}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])


@pytest.mark.parametrize("fine, capacity", [(False, 127 * 127), (True, 127 * 127 + 63)])
def test_a_large_bias_sets_the_unit_and_fits_the_bias_axons(fine, capacity):
    # gain c = dt r / tau = 0.1; neuron 0: weights 0.3 (unit 0.1 * 0.3 / 127 / 127 with spike inputs), bias
    # 0.2 -> 0.02 per step = 10752 units at the weights' unit, which fits; neuron 1: weight 0.01, bias -0.9
    # -> -0.09 per step is 1.45e6 units at its weights' unit, so its unit becomes 0.09 / capacity.
    weight = np.array([[0.3, 0.3], [0.01, 0.0]])
    bias = np.array([0.2, -0.9])
    compiled = compile_nir(lif_graph(weight, bias), dt=DT, fine_weights=fine)
    layer = compiled.quant.layers[0]
    unit = layer.neuron.membrane_unit
    e_in = 1 / 127
    assert unit[0] == pytest.approx(0.1 * 0.3 / 127 * e_in)
    assert unit[1] == pytest.approx(0.09 / capacity)
    # neuron 1's weight: 0.001 per unit spike of 1/127 -> 0.001 / 127 / (0.09 / capacity) steps
    assert layer.weight[1, 0] == round(0.001 / 127 / (0.09 / capacity))
    # the bias axon(s) carry the whole current of both neurons
    axon = layer.bias_axon
    carried = axon.payload * axon.weight + (layer.fine_bias if layer.fine_bias is not None else 0)
    wanted = 0.1 * bias / unit
    assert abs(carried[1]) == capacity
    assert np.all(np.abs(carried - wanted) <= axon.payload / 2 + 0.5)


def test_the_bias_unit_leaves_a_graph_that_fitted_unchanged():
    weight = np.array([[0.3, 0.3], [0.2, 0.1]])
    bias = np.array([0.05, -0.02])   # both well inside the bias axon at the weights' unit
    layer = compile_nir(lif_graph(weight, bias), dt=DT).quant.layers[0]
    np.testing.assert_allclose(layer.neuron.membrane_unit, 0.1 * np.array([0.3, 0.2]) / 127 / 127)
