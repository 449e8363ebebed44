"""Quantisation: the float IR and calibration data to the integer IR (:class:`QuantGraph`).

Choices, and why
----------------
**Weights: int8, one scale per layer (per tensor), symmetric, range -127..127.** A layer's membranes must
all count in the same unit so that one FIRE ``shift`` (an operand of the FIRE instruction, shared by every
neuron it covers) requantises them all to the next layer's input unit. Per-output-channel weight scales
would give each neuron its own membrane unit and so need one FIRE instruction (with its own shift) per
distinct scale, which costs instruction memory and still only allows power-of-two ratios; on the target
networks per-tensor scales already meet the accuracy targets, so the compiler uses them in both modes.

**Activations (graded mode): int8 payloads with a per-layer scale and a power-of-two requantisation.**
Calibration runs the float network on sample data and takes each hidden layer's activation range ``λ``
(the ``percentile`` of its ReLU outputs; 100 = max). A payload LSB should then be ``λ/127``. The
membrane unit is ``s_in * s_w`` and FIRE divides it by ``2**shift``, so ``s_out = s_in * s_w * 2**shift``
must hold exactly. With the natural weight scale ``s_w = max|W|/127`` that equation fixes ``2**shift`` to
``s_out / (s_in s_w)``, generally not a power of two. The compiler picks the power of two nearest (in log
scale) and absorbs the rounding on one side: if the shift it picks is too large for ``λ/127``, the weight
scale grows instead (weights use ≥ 1/√2 of the int8 range); if too small, the activation scale grows
(activations use ≥ 1/√2 of the payload range). Neither side ever clips, and each loses at most half a bit.

**Bias** becomes an integer in membrane units, ``round(b / (s_in s_w))``: the neurons' ``init`` and
``reset`` values. In graded mode FIRE runs ``reset=always`` to the bias, so every step starts from it.

**Input**: ``q = clamp(floor(x / s + 1/2), -128, 127)`` with ``s = max|x| / 127`` over the calibration data;
the host injects one graded event per non-zero ``q``.

Rate mode
---------
Hidden neurons are integrate-and-fire with reset by subtraction and binary spikes; one spike per step
stands for ``λ`` (so a rate of 1 spike/step is the calibrated maximum activation), which makes the
threshold ``θ = round(λ / (s_in s_w))`` in membrane units; no shift is needed because the threshold is a
free int32. The first layer sees the quantised input as a constant current (the same graded events
injected before each of the ``T`` presentation steps); deeper layers see binary spikes, whose unit
``s_in`` is the previous layer's ``θ s_in s_w``.

The bias must be a per-step current too: folding ``T * bias`` into the initial membrane makes a neuron
with a positive bias and a negative input fire early and then be unable to take those spikes back (one
in nine hidden spike counts came out too high on the digits MLP that way). So each rate-mode hidden
layer gets a *bias axon*: the host injects one event of payload ``P`` on it before each step of the
layer's window, its int8 weight row ``≈ bias / P`` (see :func:`bias_current`), and only the rounding
remainder ``round(T * (b / s_acc - P w))`` stays in ``init``, plus ``θ/2`` so that the spike count after ``T`` steps
is the *rounded* (not floored) ``T * relu(a) / λ``. A layer whose neurons already read as many inputs as
a core takes events (``event_depth``) has no room for the extra axon; it keeps the whole ``T * bias`` in
``init`` instead. The output layer only integrates (ACC, no FIRE),
from ``init = round(T * b / s_acc)``: its membranes after the run are ``T`` times the logits, in membrane units.
"""

from __future__ import annotations

import math

import numpy as np

from spikecore import isa
from spikecore.compiler.ir import (
    BiasAxon,
    DenseNode,
    FloatGraph,
    GradedNeuron,
    QuantDense,
    QuantGraph,
    QuantInput,
    RateNeuron,
)
from spikecore.compiler.saturation import SaturationPolicy
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError
from spikecore.isa import ResetMode

#: Largest int8 magnitude used for weights and for the activation scale (symmetric: -127..127).
INT8_LEVELS = isa.WEIGHT_MAX
DEFAULT_T = 32


def calibration_matrix(graph: FloatGraph, data: np.ndarray) -> np.ndarray:
    """``data`` as a float64 ``(N, features)`` matrix, checked against the model input."""
    x = np.asarray(data, dtype=np.float64)
    features = graph.input.features
    if x.ndim < 2 or x[0].size != features or len(x) == 0:
        raise SpikeCoreError(f"calibration data of shape {x.shape} does not match the model input "
                             f"{graph.input.shape} (expected (N, {features}) or (N, *{graph.input.shape}), N >= 1)")
    if not np.isfinite(x).all():
        raise SpikeCoreError("calibration data holds NaN or infinity")
    return x.reshape(len(x), features)


def activation_range(values: np.ndarray, percentile: float) -> float:
    """The calibrated range of non-negative activations: their ``percentile`` (100 = max)."""
    return float(np.percentile(values, percentile)) if values.size else 0.0


def symmetric_scale(largest: float) -> float:
    """The scale that maps ``±largest`` onto ``±127`` (``largest / 127``); 1.0 for an all-zero tensor.

    Used for every weight tensor and for the input (``largest`` = max|W| or max|x| over the calibration data).
    """
    return largest / INT8_LEVELS if largest > 0 else 1.0


def choose_shift(input_scale: float, max_weight: float, out_range: float) -> tuple[int, float, float]:
    """``(shift, weight_scale, out_scale)`` with ``out_scale = input_scale * weight_scale * 2**shift`` exactly.

    ``max_weight`` is the layer's ``max|W|``, ``out_range`` the calibrated activation range ``λ``. The power
    of two nearest to the ideal ratio is chosen; whichever of the weight scale or the activation scale
    must then grow, grows (by less than √2), so neither weights nor activations clip.

    >>> choose_shift(1.0, 127.0, 127.0 * 8)      # ideal ratio exactly 8 = 2**3
    (3, 1.0, 8.0)
    """
    weight_scale = symmetric_scale(max_weight)
    if out_range <= 0:  # a dead layer: any exact scale will do
        return 0, weight_scale, input_scale * weight_scale
    target = out_range / INT8_LEVELS
    ideal = target / (input_scale * weight_scale)   # out / acc units: the 2**shift we would like
    shift = min(max(round(math.log2(ideal)), 0), isa.SHIFT_MAX)
    if 2.0 ** shift <= ideal:
        weight_scale = target / (input_scale * 2.0 ** shift)       # weights absorb the rounding
    return shift, weight_scale, input_scale * weight_scale * 2.0 ** shift


def quantize_weights(weight: np.ndarray, scale: float) -> np.ndarray:
    """int64 ``clip(rint(w / scale), -127, 127)`` (round half to even)."""
    return np.clip(np.rint(weight.astype(np.float64) / scale), -INT8_LEVELS, INT8_LEVELS).astype(np.int64)


def _acc_values(layer: DenseNode, what: str, values: np.ndarray, policy: SaturationPolicy) -> np.ndarray:
    """An int64 vector of membrane values inside int32 (refused, or clipped when the policy allows)."""
    out = np.rint(values) if values.dtype.kind == "f" else values
    return policy.fit(layer.name, what, out, isa.ACC_MIN, isa.ACC_MAX, "membrane units",
                      "the int32 membrane (too large for the weight scale)").astype(np.int64)


def quantize(graph: FloatGraph, calibration_data: np.ndarray, encoding: str = "graded", T: int | None = None,
             percentile: float = 100.0, config: ChipConfig | None = None, input_max: float | None = None,
             allow_saturation: bool = False) -> QuantGraph:
    """The integer network for ``encoding`` (``graded`` or ``rate`` with ``T`` presentation steps).

    ``config`` (default: the product chip) only decides whether a rate-mode hidden layer has room for its
    bias axon (see the module docstring). ``input_max``: the largest input magnitude (payload 127); default:
    ``max|x|`` of the calibration data. ``allow_saturation``: clip a value that leaves its chip field and
    record it in the result's ``saturations`` instead of refusing (:mod:`~spikecore.compiler.saturation`).
    """
    config = config if config is not None else ChipConfig()
    if encoding not in ("graded", "rate"):
        raise SpikeCoreError(f"encoding must be 'graded' or 'rate', not {encoding!r}")
    if encoding == "graded" and T is not None:
        raise SpikeCoreError("T (presentation steps) applies to rate mode only; graded mode runs one step per layer")
    T = (DEFAULT_T if T is None else T) if encoding == "rate" else 1
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise SpikeCoreError(f"T must be a positive integer, not {T!r}")
    if not 0 < percentile <= 100:
        raise SpikeCoreError(f"percentile must be in (0, 100], not {percentile!r}")
    x = calibration_matrix(graph, calibration_data)
    activations = graph.forward(x)

    if input_max is not None and not (isinstance(input_max, float | int) and math.isfinite(input_max)
                                      and input_max > 0):
        raise SpikeCoreError(f"input_max must be a finite positive number, not {input_max!r}")
    in_range = float(np.abs(x).max()) if input_max is None else float(input_max)
    input_scale = symmetric_scale(in_range)
    policy = SaturationPolicy(allow=bool(allow_saturation))
    q_input = QuantInput(graph.input.name, graph.input.shape, input_scale)

    layers: list[QuantDense] = []
    scale = input_scale
    for index, layer in enumerate(graph.layers):
        if index == len(graph.layers) - 1:
            qlayer = _output_layer(layer, scale, encoding, T, policy)
        else:
            out_range = activation_range(activations[index], percentile)
            if encoding == "graded":
                qlayer = _graded_hidden(layer, scale, out_range, policy)
            else:
                qlayer = _rate_hidden(layer, scale, out_range, T, config, policy)
        layers.append(qlayer)
        scale = qlayer.out_scale
    qgraph = QuantGraph(encoding, T, q_input, layers, saturations=tuple(policy.events))
    qgraph.check()
    return qgraph


def _graded_hidden(layer: DenseNode, input_scale: float, out_range: float, policy: SaturationPolicy) -> QuantDense:
    """FIRE graded, reset always to the bias: ``clamp(round(v / 2**shift), 0, 127)`` per step, stateless."""
    shift, weight_scale, out_scale = choose_shift(input_scale, float(np.abs(layer.weight).max()), out_range)
    bias = _acc_values(layer, "the bias", layer.bias.astype(np.float64) / (input_scale * weight_scale), policy)
    # The spec's recipe uses threshold 1; a membrane below 2**(shift-1) would emit payload 0, an event that
    # adds nothing downstream but costs a delivery and a MAC per receiving neuron, so it is not fired.
    threshold = 1 << (shift - 1) if shift > 0 else 1
    neuron = GradedNeuron(threshold=threshold, init=bias, reset=bias, shift=shift, reset_mode=ResetMode.ALWAYS,
                          graded=True, schedule=("ACC", "FIRE"))
    return QuantDense(layer.name, layer.source, layer.origin, "hidden", quantize_weights(layer.weight, weight_scale),
                      bias, input_scale, weight_scale, out_scale, neuron, relu=True, out_shape=layer.out_shape)


def _room_for_bias_axon(weight: np.ndarray, config: ChipConfig) -> bool:
    """Whether one neuron's (non-zero int) inputs plus a bias axon still fit a core's events, axons and weights."""
    rows = int(np.count_nonzero(weight, axis=1).max(initial=0)) + 1
    return rows <= min(config.event_depth, isa.AXON_MAX + 1, config.weight_bytes)


def _rate_hidden(layer: DenseNode, input_scale: float, out_range: float, T: int, config: ChipConfig,
                 policy: SaturationPolicy) -> QuantDense:
    """Integrate-and-fire, binary spikes, reset by subtraction; one spike per step stands for ``λ``."""
    max_weight = float(np.abs(layer.weight).max())
    weight_scale = symmetric_scale(max_weight)
    acc_scale = input_scale * weight_scale
    threshold = max(1, round(out_range / acc_scale)) if out_range > 0 else 1
    threshold = int(policy.fit(layer.name, "the threshold", np.full(layer.out_features, threshold), 1, isa.ACC_MAX,
                               "membrane units", "the int32 membrane")[0])
    exact_bias = layer.bias.astype(np.float64) / acc_scale
    bias = _acc_values(layer, "the bias", exact_bias, policy)
    weight = quantize_weights(layer.weight, weight_scale)
    bias_payload, bias_weight = bias_current(bias, policy, layer.name) if _room_for_bias_axon(weight, config) \
        else (0, None)
    current = bias_payload * bias_weight if bias_weight is not None else 0
    # init carries what the per-step current misses over the whole window, rounded once (not T times).
    init = _acc_values(layer, f"the initial membrane T x bias remainder + threshold/2 (T={T})",
                       np.rint(T * (exact_bias - current)) + threshold // 2, policy)
    neuron = RateNeuron(threshold=threshold, init=init, reset=np.zeros_like(bias), shift=0, reset_mode=ResetMode.SUB,
                        graded=False, schedule=("ACC", "FIRE"))
    return QuantDense(layer.name, layer.source, layer.origin, "hidden", weight, bias, input_scale, weight_scale,
                      threshold * acc_scale, neuron, relu=True, out_shape=layer.out_shape,
                      bias_axon=BiasAxon(bias_payload, bias_weight) if bias_weight is not None else None)


def bias_current(bias: np.ndarray, policy: SaturationPolicy | None = None,
                 layer: str = "layer") -> tuple[int, np.ndarray | None]:
    """``(payload, int8 weights)`` whose product is as close to the per-step ``bias`` as int8 allows.

    ``bias`` (membrane units per step, one per neuron) may be float: each product is then within
    ``payload / 2`` of it.

    The payload is the smallest that lets the largest bias fit the weight range (at most 127), which
    keeps the weights' resolution fine. ``(0, None)`` when every bias is zero (no bias axon needed).
    A bias beyond ``127 * 127`` membrane units per step does not fit one bias axon: refused naming ``layer``
    and the neuron, or clipped and recorded when ``policy`` allows saturation.

    >>> bias_current(np.array([500, -254, 3]))
    (4, array([125, -63,   1]))
    """
    exact = np.asarray(bias, dtype=np.float64)
    rounded = np.rint(exact).astype(np.int64)
    largest = int(np.abs(rounded).max()) if rounded.size else 0
    if largest == 0:
        return 0, None
    payload = min(isa.PAYLOAD_MAX, -(-largest // INT8_LEVELS))
    policy = policy if policy is not None else SaturationPolicy()
    most = payload * INT8_LEVELS
    needed = policy.fit(layer, "the bias current", rounded, -most, most,
                        "membrane units per step", "one bias axon (payload 127 x weight 127)")
    # Round once, from the exact bias (a float bias rounded to whole units first could land a whole unit
    # further off after the division by the payload); a clipped value keeps its clipped integer.
    target = np.where(needed == rounded, exact, needed)
    weight = np.clip(np.floor(target / payload + 0.5), -INT8_LEVELS, INT8_LEVELS).astype(np.int64)
    return payload, weight


def _output_layer(layer: DenseNode, input_scale: float, encoding: str, T: int,
                  policy: SaturationPolicy) -> QuantDense:
    """Output neurons never fire; the host reads their membranes after the last step.

    Graded: FIRE reset=always clears them to the bias at the start of every step (so values
    left by earlier steps never leak in), then ACC adds the step's events. Rate: ACC only, from
    ``T * bias``, so the membranes integrate the whole presentation.
    """
    max_weight = float(np.abs(layer.weight).max())
    weight_scale = symmetric_scale(max_weight)
    acc_scale = input_scale * weight_scale
    bias = _acc_values(layer, "the bias", layer.bias.astype(np.float64) / acc_scale, policy)
    weight = quantize_weights(layer.weight, weight_scale)
    common = dict(threshold=isa.ACC_MAX, shift=0, graded=False)
    if encoding == "graded":
        neuron = GradedNeuron(init=bias, reset=bias, reset_mode=ResetMode.ALWAYS, schedule=("FIRE", "ACC"), **common)
        return QuantDense(layer.name, layer.source, layer.origin, "output", weight, bias, input_scale, weight_scale,
                          acc_scale, neuron, relu=layer.relu, out_shape=layer.out_shape)
    init = _acc_values(layer, f"the initial membrane T x bias (T={T})", T * layer.bias.astype(np.float64) / acc_scale,
                       policy)
    neuron = RateNeuron(init=init, reset=np.zeros_like(bias), reset_mode=ResetMode.NONE, schedule=("ACC",), **common)
    return QuantDense(layer.name, layer.source, layer.origin, "output", weight, bias, input_scale, weight_scale,
                      acc_scale / T, neuron, relu=layer.relu, out_shape=layer.out_shape)
