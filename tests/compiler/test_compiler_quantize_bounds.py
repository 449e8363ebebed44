"""Quantisation refusals and degenerate layers at their exact edges (docs/compiler.md "Quantisation")."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.compiler.ir import DenseNode, FloatGraph, InputNode
from spikecore.compiler.quantize import _acc_values, quantize
from spikecore.compiler.saturation import SaturationPolicy
from spikecore.errors import SpikeCoreError

LAYER = DenseNode("h", "x", np.ones((1, 1), np.float32), np.zeros(1, np.float32), relu=True, origin="Linear 'h'")


def test_membrane_values_up_to_the_int32_limits_are_kept() -> None:
    limits = np.array([2**31 - 1, -2**31], dtype=np.int64)
    assert _acc_values(LAYER, "bias", limits, SaturationPolicy()).tolist() == [2**31 - 1, -2**31]
    # floats round first: 2147483646.6 -> 2147483647 still fits
    assert _acc_values(LAYER, "bias", np.array([2147483646.6]), SaturationPolicy()).tolist() == [2**31 - 1]


@pytest.mark.parametrize("value", [2**31, -2**31 - 1])
def test_one_past_an_int32_limit_is_refused(value: int) -> None:
    with pytest.raises(SpikeCoreError) as info:
        _acc_values(LAYER, "bias", np.array([value], dtype=np.int64), SaturationPolicy())
    largest = 2**31 - 1 if value > 0 else -2**31
    assert str(info.value) == (f"layer 'h' neuron 0: bias needs {value} membrane units, the largest representable in "
                               f"the int32 membrane (too large for the weight scale) is {largest} "
                               "(use --allow-saturation to clip with a warning)")


def test_one_past_an_int32_limit_is_clipped_and_counted_when_allowed() -> None:
    policy = SaturationPolicy(allow=True)
    assert _acc_values(LAYER, "bias", np.array([2**31, 5], dtype=np.int64), policy).tolist() == [2**31 - 1, 5]
    assert [(e.count, e.neuron, e.needed, e.largest) for e in policy.events] == [(1, 0, 2**31, 2**31 - 1)]


def test_an_all_zero_output_layer_keeps_weight_scale_1() -> None:
    # max|W| = 0: the weight scale falls back to 1 (0/127 would make every unit 0 and the bias infinite)
    out = DenseNode("o", "h", np.zeros((1, 1), np.float32), np.array([0.5], np.float32), relu=False, origin="o")
    graph = quantize(FloatGraph(InputNode("x", (1,)), [LAYER, out]), np.array([[1.0], [2.0]]), "graded")
    o = graph.layers[1]
    # s_in of the output = the hidden layer's out scale; bias 0.5 / (s_in * 1) rounded
    assert o.weight_scale == 1.0 and o.weight.tolist() == [[0]]
    assert o.bias.tolist() == [round(0.5 / graph.layers[0].out_scale)]


def test_one_dimensional_calibration_data_is_refused() -> None:
    graph = FloatGraph(InputNode("x", (1,)), [LAYER, DenseNode("o", "h", np.ones((1, 1), np.float32),
                                                                np.zeros(1, np.float32), relu=False, origin="o")])
    with pytest.raises(SpikeCoreError) as info:
        quantize(graph, np.array([1.0]), "graded")
    assert str(info.value) == ("calibration data of shape (1,) does not match the model input (1,) "
                               "(expected (N, 1) or (N, *(1,)), N >= 1)")
