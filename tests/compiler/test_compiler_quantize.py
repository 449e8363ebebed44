"""Quantisation and the integer reference, on small cases whose numbers are worked out by hand here."""

from __future__ import annotations

import numpy as np
import pytest

from spikecore import isa
from spikecore.compiler.ir import (
    DenseNode,
    FloatGraph,
    GradedNeuron,
    InputNode,
    QuantDense,
    QuantInput,
    RateNeuron,
)
from spikecore.compiler.quantize import bias_current, choose_shift, quantize, quantize_weights
from spikecore.compiler.reference import fire, run_reference, saturating_accumulate
from spikecore.errors import SpikeCoreError
from spikecore.isa import ResetMode


def test_choose_shift_by_hand():
    # Ideal ratio exactly 8: shift 3, nothing grows.
    assert choose_shift(1.0, 127.0, 127.0 * 8) == (3, 1.0, 8.0)
    # s_in 1, max|W| 127 -> s_w 1; lambda 127 * 2.5 -> target 2.5; ideal 2.5, log2 = 1.32 -> shift 1;
    # 2**1 = 2 < 2.5 so the weights absorb it: s_w = 2.5 / (1 * 2) = 1.25, s_out = 1 * 1.25 * 2 = 2.5.
    assert choose_shift(1.0, 127.0, 127.0 * 2.5) == (1, 1.25, 2.5)
    # ideal 3: log2 = 1.58 -> shift 2; 4 > 3 so the activation scale grows: s_out = 1 * 1 * 4 = 4.
    assert choose_shift(1.0, 127.0, 127.0 * 3) == (2, 1.0, 4.0)
    # ideal 0.3 would need a negative shift: shift 0, activation scale = s_in * s_w = 1.
    assert choose_shift(1.0, 127.0, 127.0 * 0.3) == (0, 1.0, 1.0)
    # A dead layer (no positive activation on the calibration data): shift 0, exact scales.
    assert choose_shift(0.5, 127.0, 0.0) == (0, 1.0, 0.5)


def test_quantize_weights_and_bias_current_by_hand():
    # scale 0.5/127: 0.5 -> 127; -0.25 -> -63.5 -> rint (half to even) -64; 0.126 -> 32.004 -> 32; 2.0 clips to 127.
    assert quantize_weights(np.array([0.5, -0.25, 0.126, 2.0]), 0.5 / 127).tolist() == [127, -64, 32, 127]
    # largest |bias| 500 -> payload ceil(500/127) = 4; weights floor(b/4 + 1/2): 125, -63 (-63.5 half up), 1 (0.75).
    payload, weights = bias_current(np.array([500, -254, 3]))
    assert payload == 4 and weights.tolist() == [125, -63, 1]
    assert bias_current(np.zeros(3, dtype=np.int64)) == (0, None)


def test_input_quantizer_rounds_half_up_and_clamps():
    q = QuantInput("x", (4,), scale=1 / 127)
    # 0.5 * 127 = 63.5 -> 64 (half up); -63.5/127 * 127 = -63.5 -> -63 (half up); 2.0 -> 254 -> 127; -2 -> -128.
    assert q.quantize(np.array([[0.5, -63.5 / 127, 2.0, -2.0]])).tolist() == [[64, -63, 127, -128]]
    with pytest.raises(SpikeCoreError, match="does not match input 'x'"):
        q.quantize(np.zeros((2, 3)))


def two_by_two() -> FloatGraph:
    hidden = DenseNode("h", "x", np.array([[1.0, 0.5], [-1.0, 0.25]], np.float32), np.array([0.1, 0.0], np.float32),
                       relu=True, origin="Linear 'h'")
    out = DenseNode("o", "h", np.array([[1.0, -1.0]], np.float32), np.array([0.0], np.float32), relu=False,
                    origin="Linear 'o'")
    return FloatGraph(InputNode("x", (2,)), [hidden, out])


def test_graded_quantisation_of_a_hand_network():
    calib = np.array([[1.0, 0.0], [0.0, 1.0]])
    graph = quantize(two_by_two(), calib, "graded")
    h, o = graph.layers
    # input: max|x| = 1 -> s_in = 1/127.
    assert graph.input.scale == pytest.approx(1 / 127)
    # hidden activations relu(Wx+b): [1.1, 0] and [0.6, 0.25] -> lambda = 1.1, target LSB 1.1/127.
    # s_w0 = max|W|/127 = 1/127; ideal = (1.1/127) / (1/127 * 1/127) = 139.7 -> log2 7.13 -> shift 7;
    # 2**7 = 128 < 139.7 so the weights grow: s_w = (1.1/127) / (1/127 * 128) = 1.1/128.
    assert h.neuron.shift == 7
    assert h.weight_scale == pytest.approx(1.1 / 128)
    assert h.out_scale == pytest.approx(1.1 / 127)
    # weights rint(W * 128/1.1): 116.36 -> 116, 58.18 -> 58, -116, 29.09 -> 29.
    assert h.weight.tolist() == [[116, 58], [-116, 29]]
    # bias 0.1 / (1/127 * 1.1/128) = 1477.8 -> 1478; threshold 2**(7-1) = 64 (smaller membranes emit payload 0).
    cell = h.neuron
    assert h.bias.tolist() == [1478, 0] and cell.init.tolist() == [1478, 0] and cell.reset.tolist() == [1478, 0]
    assert (cell.threshold, cell.reset_mode, cell.graded) == (64, ResetMode.ALWAYS, True)
    assert cell.schedule == ("ACC", "FIRE")
    assert isinstance(cell, GradedNeuron)
    # output: s_in = 1.1/127, s_w = 1/127 -> weights [127, -127]; FIRE (clear to bias) before ACC.
    assert o.weight.tolist() == [[127, -127]] and o.neuron.schedule == ("FIRE", "ACC")
    assert o.neuron.threshold == isa.ACC_MAX

    # Integer reference on x = [1, 0] -> q = [127, 0]:
    # h0: 1478 + 127*116 = 16210 -> payload (16210 + 64) >> 7 = 127; h1: 0 + 127*(-116) = -14732 < 64, silent.
    # o0: 0 + 127*127 = 16129.
    ref = run_reference(graph, np.array([[127, 0]]))
    assert ref.payloads[0][0, 0].tolist() == [127, 0]
    assert ref.fired[0][0, 0].tolist() == [True, False]
    assert ref.membranes.tolist() == [[16129]]
    assert graph.steps == 2 and graph.inject_steps == (0,)


def test_rate_quantisation_of_a_hand_network():
    calib = np.array([[1.0, 0.0], [0.0, 1.0]])
    graph = quantize(two_by_two(), calib, "rate", T=4)
    h = graph.layers[0]
    # s_w = 1/127, acc unit = 1/127 * 1/127 = 1/16129; threshold = round(1.1 * 16129) = 17742.
    assert h.neuron.threshold == 17742 and h.neuron.reset_mode == ResetMode.SUB and not h.neuron.graded
    # bias 0.1 * 16129 = 1612.9 -> 1613 per step; bias current: payload ceil(1613/127) = 13, weight
    # floor(1613/13 + 1/2) = 124 (124.08) -> 1612 per step; init = rint(4 * (1612.9 - 1612)) + 17742 // 2
    # = rint(3.6) + 8871 = 8875 for neuron 0; neuron 1 has no bias: 0 + 8871.
    assert (h.bias_axon.payload, h.bias_axon.weight.tolist()) == (13, [124, 0])
    assert h.neuron.init.tolist() == [8875, 8871]
    assert graph.steps == 4 + 2 - 1 and graph.inject_steps == (0, 1, 2, 3)
    assert list(graph.window(1)) == [1, 2, 3, 4]
    o = graph.layers[1]
    # output: s_in = one spike = 17742/16129 = 1.1; s_w 1/127 -> unit 1.1/127; init = T * 0 = 0; ACC only.
    assert o.neuron.schedule == ("ACC",) and o.neuron.init.tolist() == [0]
    assert o.input_scale == pytest.approx(17742 / 16129)


def test_rate_reference_by_hand():
    """One IF neuron, threshold 10, reset by subtraction, constant current 4 per step, T = 4 steps.

    init = 5 (threshold/2). Steps: 5+4 = 9 (no spike) | 13 -> spike, 3 | 7 | 11 -> spike, 1.
    The output (weight 3 per spike) receives them one step later: spikes of steps 1 and 3 arrive in
    steps 2 and 4 (step 4 is the last of T + 2 - 1 = 5 steps) -> 2 * 3 = 6.
    """
    from spikecore.compiler.ir import QuantGraph

    scales = dict(input_scale=1.0, weight_scale=1.0, out_scale=1.0)
    fire_ops = dict(shift=0, graded=False)
    hidden = QuantDense("h", "x", "test", "hidden", np.array([[4]]), np.array([0]), **scales,
                        neuron=RateNeuron(threshold=10, init=np.array([5]), reset=np.array([0]),
                                          reset_mode=ResetMode.SUB, schedule=("ACC", "FIRE"), **fire_ops), relu=True)
    out = QuantDense("o", "h", "test", "output", np.array([[3]]), np.array([0]), **scales,
                     neuron=RateNeuron(threshold=isa.ACC_MAX, init=np.array([0]), reset=np.array([0]),
                                       reset_mode=ResetMode.NONE, schedule=("ACC",), **fire_ops), relu=False)
    graph = QuantGraph("rate", 4, QuantInput("x", (1,), 1.0), [hidden, out])
    ref = run_reference(graph, np.array([[1]]))
    assert ref.fired[0][0, :, 0].tolist() == [False, True, False, True, False]
    assert ref.membranes.tolist() == [[6]]


def test_saturating_accumulate_by_hand():
    # start ACC_MAX - 10, events payload 1 with weights +20 then -30 (ascending source order):
    # ACC_MAX - 10 + 20 saturates to ACC_MAX; then - 30 -> ACC_MAX - 30 (the unsaturated sum is ACC_MAX - 20).
    total = saturating_accumulate(np.array([[isa.ACC_MAX - 10]]), np.array([[True, True]]), np.array([[1, 1]]),
                                  np.array([[20, -30]]))
    assert total.tolist() == [[isa.ACC_MAX - 30]]
    # A source that did not send adds nothing even with a payload value present.
    total = saturating_accumulate(np.array([[0]]), np.array([[False, True]]), np.array([[5, 2]]), np.array([[7, 3]]))
    assert total.tolist() == [[6]]


def test_fire_graded_by_hand():
    layer = QuantDense("h", "x", "test", "hidden", np.zeros((4, 1), np.int64), np.zeros(4, np.int64),
                       input_scale=1.0, weight_scale=1.0, out_scale=1.0,
                       neuron=GradedNeuron(threshold=1, init=np.full(4, -3), reset=np.full(4, -3), shift=1,
                                           reset_mode=ResetMode.ALWAYS, graded=True, schedule=("ACC", "FIRE")),
                       relu=True)
    fired, payload, after = fire(layer, np.array([[5, 0, 200, 300]]))
    # 5 >= 1 fires with (5 + 1) >> 1 = 3; 0 < 1 silent; 200 -> 100; 300 -> 150 saturates to 127. All reset to -3.
    assert fired.tolist() == [[True, False, True, True]]
    assert payload.tolist() == [[3, 0, 100, 127]]
    assert after.tolist() == [[-3, -3, -3, -3]]


def test_quantize_refuses_bad_requests():
    graph = two_by_two()
    with pytest.raises(SpikeCoreError, match=r"T .* applies to rate mode only"):
        quantize(graph, np.ones((2, 2)), "graded", T=4)
    with pytest.raises(SpikeCoreError, match=r"calibration data of shape \(2, 3\) does not match"):
        quantize(graph, np.ones((2, 3)), "graded")
    with pytest.raises(SpikeCoreError, match="encoding must be 'graded' or 'rate'"):
        quantize(graph, np.ones((2, 2)), "binary")
    huge = FloatGraph(graph.input, [graph.layers[0], DenseNode("o", "h", np.array([[1e-6, 0.0]], np.float32),
                                                               np.array([1e6], np.float32), relu=False, origin="o")])
    with pytest.raises(SpikeCoreError, match=r"layer 'o' neuron 0: the bias needs \d+ membrane units, "
                                              r"the largest representable in the int32 membrane "
                                              r"\(too large for the weight scale\) is 2147483647"):
        quantize(huge, np.array([[1.0, 0.0]]), "graded")
    with pytest.raises(SpikeCoreError, match=r"^QuantDense 'q': field weight must lie in -128..127, found 200..200$"):
        QuantDense("q", "x", "t", "output", np.array([[200]]), np.zeros(1, np.int64), 1.0, 1.0, 1.0,
                   RateNeuron(0, np.zeros(1, np.int64), np.zeros(1, np.int64), 0, ResetMode.NONE, False, ("ACC",)),
                   False)
