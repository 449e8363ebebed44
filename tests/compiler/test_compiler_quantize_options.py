"""Every quantisation option on a case small enough to work out by hand (docs/compiler.md "Quantisation").

The network is one hidden neuron (weight 1.0, no bias, ReLU) and one output (weight 1.0). Calibration
inputs 1, 8, 8, 127: max|x| = 127, so s_in = 127/127 = 1 and s_w = max|W|/127 = 1/127 in every case below.
The hidden activations are the inputs themselves, so the percentile is read straight off the sorted list.
"""

from __future__ import annotations

import numpy as np
import pytest

from spikecore.compiler.ir import DenseNode, FloatGraph, InputNode
from spikecore.compiler.quantize import quantize
from spikecore.errors import SpikeCoreError
from spikecore.isa import ResetMode

CALIB = np.array([[1.0], [8.0], [8.0], [127.0]])


def chain(hidden_weight: float = 1.0) -> FloatGraph:
    hidden = DenseNode("h", "x", np.array([[hidden_weight]], np.float32), np.zeros(1, np.float32), relu=True,
                       origin="Linear 'h'")
    out = DenseNode("o", "h", np.array([[1.0]], np.float32), np.zeros(1, np.float32), relu=False, origin="Linear 'o'")
    return FloatGraph(InputNode("x", (1,)), [hidden, out])


def test_percentile_100_takes_the_maximum_activation():
    # lambda = 127: ideal 2**shift = (127/127) / (1 * 1/127) = 127 -> log2 6.99 -> shift 7; 128 > 127, so the
    # activation scale grows: s_out = 1 * (1/127) * 128.
    h = quantize(chain(), CALIB, "graded").layers[0]
    assert (h.neuron.shift, h.neuron.threshold) == (7, 64)
    assert h.weight_scale == pytest.approx(1 / 127) and h.out_scale == pytest.approx(128 / 127)


def test_percentile_50_takes_the_median_activation():
    # Sorted activations 1, 8, 8, 127: the 50th percentile (linear, position 0.5 * 3 = 1.5) is 8.
    # ideal = (8/127) / (1 * 1/127) = 8 = 2**3 exactly: shift 3, nothing grows, s_out = 8/127, threshold 2**2.
    h = quantize(chain(), CALIB, "graded", percentile=50).layers[0]
    assert (h.neuron.shift, h.neuron.threshold) == (3, 4)
    assert h.weight_scale == pytest.approx(1 / 127) and h.out_scale == pytest.approx(8 / 127)
    assert h.weight.tolist() == [[127]]


def test_percentile_in_rate_mode_sets_the_threshold():
    # Rate mode: theta = round(lambda / (s_in s_w)) = round(lambda * 127): 8 * 127 = 1016 at the median,
    # 127 * 127 = 16129 at the maximum. init = theta // 2 (no bias).
    at_50 = quantize(chain(), CALIB, "rate", T=4, percentile=50).layers[0]
    at_100 = quantize(chain(), CALIB, "rate", T=4).layers[0]
    assert (at_50.neuron.threshold, at_50.neuron.init.tolist(), at_50.neuron.reset_mode) == (1016, [508], ResetMode.SUB)
    assert (at_100.neuron.threshold, at_100.neuron.init.tolist()) == (16129, [8064])


@pytest.mark.parametrize("percentile", [0, -1, 100.5])
def test_percentile_out_of_range_is_refused(percentile):
    with pytest.raises(SpikeCoreError, match=rf"^percentile must be in \(0, 100\], not {percentile!r}$"):
        quantize(chain(), CALIB, "graded", percentile=percentile)


def test_negative_calibration_data_scales_by_the_magnitude():
    # Inputs -2 and 1: max|x| = 2, so s_in = 2/127 (max x alone would give 1/127 and clip -2 to -128).
    # q = floor(x / s_in + 1/2): -2 -> -127; 1 -> 63.5 + 0.5 = 64; -1 -> -63.5 + 0.5 = -63.
    graph = quantize(chain(), np.array([[-2.0], [1.0]]), "graded")
    assert graph.input.scale == pytest.approx(2 / 127)
    assert graph.input.quantize(np.array([[-2.0], [1.0], [-1.0]])).tolist() == [[-127], [64], [-63]]
    # The hidden activations are relu(x) = 0 and 1: lambda = 1; ideal = (1/127) / (2/127 * 1/127) = 63.5 ->
    # log2 5.99 -> shift 6; 64 > 63.5 so the activation scale grows: s_out = (2/127) * (1/127) * 64.
    h = graph.layers[0]
    assert h.neuron.shift == 6 and h.out_scale == pytest.approx(128 / 127**2)


def test_all_negative_calibration_data():
    # Every input negative: max|x| = 4 -> s_in = 4/127; relu leaves no positive activation, a dead layer:
    # shift 0 and the exact scale s_in * s_w = (4/127) * (1/127).
    graph = quantize(chain(), np.array([[-4.0], [-1.0]]), "graded")
    assert graph.input.scale == pytest.approx(4 / 127)
    assert graph.input.quantize(np.array([[-4.0]])).tolist() == [[-127]]
    h = graph.layers[0]
    assert h.neuron.shift == 0 and h.out_scale == pytest.approx(4 / 127**2)
