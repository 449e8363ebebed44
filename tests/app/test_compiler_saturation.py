"""No silent saturation (issue 10, kind 1): values that leave their chip field are refused in one line or, with
``allow_saturation``, clipped and counted; input values beyond the input range are counted at run time.

Every expected value is derived in the test from the float model (hand arithmetic or a naive float loop)."""

from __future__ import annotations

import math
import warnings

import nir
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikecore.app.cli import main
from spikecore.app.nir_compare import compare
from spikecore.app.nir_runtime import run_nir
from spikecore.app.runtime import run_batch
from spikecore.compiler.pipeline import compile_model, compile_nir
from spikecore.config import ChipConfig
from spikecore.errors import SpikeCoreError

CHIP = ChipConfig(cores=4)


def bias_graph(big_bias: float) -> nir.NIRGraph:
    """Input(2) -> Affine(W, b) -> IF (r = 1/dt, dt = 1: gain 1). Row 1 of W is [0.25, 1]: its exact weight
    step is the power of two 2**-6 (0.25 and 1 are 16 and 64 steps), so with spike inputs (input_max 1, a
    payload unit of 1/127) its membrane unit is 2**-6 / 127 and a per-step bias b needs b * 64 * 127 units.
    The IF node's metadata fixes those units (as an exported graph does): without it, a bias beyond the bias
    axon would coarsen the neuron's unit instead (tests/compiler/test_nir_bias_unit.py)."""
    units = {"spikecore_membrane_unit": [2.0**-6 / 127, 2.0**-6 / 127]}
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])),
               "fc": nir.Affine(weight=np.array([[1.0, 0.5], [0.25, 1.0]]), bias=np.array([0.0, big_bias])),
               "if": nir.IF(r=np.ones(2), v_threshold=np.full(2, 1000.0), v_reset=np.zeros(2), metadata=units),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "fc"), ("fc", "if"), ("if", "output")], metadata={"dt": 1.0})


def test_bias_beyond_the_bias_axons_is_refused_naming_layer_neuron_needed_and_largest():
    needed = 3 * 64 * 127                     # 24384 membrane units per step (see bias_graph)
    largest = 127 * 127 + 63                  # payload 127 x int8 weight 127, + 63 on the payload-1 bias axon
    with pytest.raises(SpikeCoreError) as err:
        compile_nir(bias_graph(3.0), config=CHIP)
    assert str(err.value) == (f"layer 'if' neuron 1: the bias current needs {needed} membrane units per step, the "
                              f"largest representable in two bias axons (127 x 127 + 63) is {largest} "
                              "(use --allow-saturation to clip with a warning)")
    # A bias that fits is represented exactly: 64 x 127 = 8128 units, 127 x 64 on the payload-127 axon.
    fits = compile_nir(bias_graph(1.0), config=CHIP).quant.layers[0]
    assert (fits.bias_axon.payload, int(fits.bias_axon.weight[1]), fits.fine_bias) == (127, 64, None)


def test_allow_saturation_clips_and_counts_in_the_api_and_the_report(tmp_path, capsys):
    compiled = compile_nir(bias_graph(3.0), config=CHIP, allow_saturation=True)
    (event,) = compiled.quant.saturations
    assert (event.layer, event.count, event.neuron, event.needed, event.largest) == ("if", 1, 1, 24384, 16192)
    layer = compiled.quant.layers[0]
    carried = layer.bias_axon.payload * int(layer.bias_axon.weight[1]) + int(layer.fine_bias[1])
    assert carried == 127 * 127 + 63      # clipped to the largest
    nir.write(tmp_path / "big.nir", bias_graph(3.0))
    out = str(tmp_path / "big.bin")
    assert main(["compile", str(tmp_path / "big.nir"), "--chip", "cores=4", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layer 'if' neuron 1: the bias current needs 24384" in err
    assert main(["compile", str(tmp_path / "big.nir"), "--chip", "cores=4", "--out", out, "--allow-saturation",
                 "--report"]) == 0
    text = capsys.readouterr().out
    assert "saturation: 1 values clipped (--allow-saturation)" in text
    assert ("warning: layer 'if': the bias current clipped on 1 value (worst: neuron 1 needs 24384 membrane units "
            "per step, largest representable 16192)") in text


def test_torch_bias_beyond_int32_is_refused_and_allowed_clips():
    """Graded mode: a bias 1e6 on weights of 1e-6 is 1e6 / (s_in s_w) membrane units, beyond int32."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1e-6, 0.0]]))
        model[0].bias.fill_(1e6)
    data = np.array([[1.0, 0.0]], dtype=np.float32)
    with pytest.raises(SpikeCoreError, match=r"^layer '.*' neuron 0: the bias needs \d+ membrane units, the largest "
                                             r"representable in the int32 membrane .* is 2147483647 \(use "):
        compile_model(model, data, data, config=CHIP)
    compiled = compile_model(model, data, data, config=CHIP, allow_saturation=True)
    assert [e.count for e in compiled.quant.saturations] == [1]
    assert int(compiled.quant.layers[0].bias[0]) == 2**31 - 1


def counts_graph(metadata: dict | None = None) -> nir.NIRGraph:
    """One IF neuron summing 4 inputs (weights 1, threshold 5.5, r = 1/dt with dt = 1)."""
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([4])), "fc": nir.Linear(weight=np.ones((1, 4))),
               "if": nir.IF(r=np.array([1.0]), v_threshold=np.array([5.5]), v_reset=np.array([0.0])),
               "output": nir.Output(output_type=np.array([1]))},
        edges=[("input", "fc"), ("fc", "if"), ("if", "output")], metadata=metadata or {"dt": 1.0})


def euler_if(x: np.ndarray) -> list[int]:
    """The float IF of counts_graph, by hand: v += sum(x_t); spike and reset to 0 when v > 5.5."""
    v, spikes = 0.0, []
    for t, row in enumerate(x):
        v += float(row.sum())
        if v > 5.5:
            spikes.append(t)
            v = 0.0
    return spikes


COUNTS = np.random.default_rng(8).choice([0, 0, 1, 2, 3], size=(30, 4)).astype(np.float32)


def test_inputs_above_the_range_are_counted_and_warned_at_run_time():
    compiled = compile_nir(counts_graph(), config=CHIP)                    # spikes: input_max 1
    with pytest.warns(UserWarning, match=rf"{int((COUNTS > 1).sum())} of 120 values lie outside the input range"):
        run = run_nir(compiled, COUNTS)
    assert run.inputs_clipped == int((COUNTS > 1).sum()) > 0
    wide = compile_nir(counts_graph(), config=CHIP, input_max=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = run_nir(wide, COUNTS)
    assert run.inputs_clipped == 0
    assert np.flatnonzero(run.output[:, 0]).tolist() == euler_if(COUNTS)


def test_compare_takes_the_input_range_from_the_data_and_from_input_max(tmp_path, capsys):
    result = compare(counts_graph(), COUNTS, config=CHIP)
    assert result.input_max == 3.0 and result.inputs_clipped == 0
    assert result.layers[0].chip_spikes == result.layers[0].reference_spikes == len(euler_if(COUNTS))
    nir.write(tmp_path / "counts.nir", counts_graph())
    np.save(tmp_path / "counts.npy", COUNTS)
    assert main(["compare", str(tmp_path / "counts.nir"), "--inputs", str(tmp_path / "counts.npy"),
                 "--chip", "cores=4", "--input-max", "1"]) == 0
    text = capsys.readouterr().out
    above = int((COUNTS > 1).sum())
    assert (f"inputs: range +-1 (payload 127); {above} of 120 input values outside it, clipped (give --input-max or "
            "--calib to widen the range)") in text


def test_torch_inputs_above_input_max_are_counted():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    data = np.random.default_rng(1).random((50, 3)).astype(np.float32)
    compiled = compile_model(model, data[:1], data, config=CHIP, input_max=0.5)
    assert compiled.quant.input.scale == pytest.approx(0.5 / 127)
    expected = int((np.floor(data / (0.5 / 127) + 0.5) > 127).sum())   # payload beyond 127
    with pytest.warns(UserWarning):
        assert run_batch(compiled, data).inputs_clipped == expected > 0


# --- property: fixed-point parameters either come out within the documented step, or the compile refuses ---

fixed = st.integers(-127, 127)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=st.lists(st.lists(fixed, min_size=3, max_size=3), min_size=2, max_size=2),
       w_exp=st.integers(-12, 4), b=st.lists(st.integers(-2**20, 2**20), min_size=2, max_size=2),
       b_exp=st.integers(-16, 4), thr=st.integers(1, 2**12), thr_exp=st.integers(-10, 6))
def test_property_nir_fixed_point_parameters_reproduced_within_the_step_or_refused(w, w_exp, b, b_exp, thr, thr_exp):
    """Random fixed-point NIR parameters (integers times powers of two). Documented steps (docs/spec.md §11): a
    weight within one weight step of c W e_in / unit, on one of its two neighbouring steps, and the row's errors
    within half a step in sum (row rounding, compiler/rounding.py); the per-step bias within half a bias-axon
    step (payload P: P/2 membrane units); the threshold register the least integer above (v_thr - v_reset) /
    unit. Otherwise the compile must refuse (SpikeCoreError); a silently different value fails the test."""
    weight = np.array(w, dtype=np.float64) * 2.0 ** w_exp
    bias = np.array(b, dtype=np.float64) * 2.0 ** b_exp
    v_thr = thr * 2.0 ** thr_exp
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([3])), "fc": nir.Affine(weight=weight, bias=bias),
               "if": nir.IF(r=np.ones(2), v_threshold=np.full(2, v_thr), v_reset=np.zeros(2)),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "fc"), ("fc", "if"), ("if", "output")], metadata={"dt": 1.0})
    try:
        # int8 first layer (--coarse-inputs): the steps this property documents (input twins refine them)
        layer = compile_nir(graph, config=ChipConfig(cores=2), fine_inputs=False).quant.layers[0]
    except SpikeCoreError:
        return                                               # refused: allowed
    e_in = 1.0 / 127                                         # spike inputs: one payload unit
    for j in range(2):
        unit = layer.neuron.membrane_unit[j]
        step = unit / e_in                                   # one int8 weight step, in float weight units
        tol = 1e-12 * abs(weight[j]).max()
        error = layer.weight[j, :3] * step - weight[j]
        assert np.all(np.abs(error) < step + tol) and abs(error.sum()) <= step / 2 + 3 * tol
        payload = layer.bias_axon.payload if layer.bias_axon is not None else 0
        current = payload * int(layer.bias_axon.weight[j]) if layer.bias_axon is not None else 0
        assert abs(current * unit - bias[j]) <= max(payload, 1) * unit / 2 * (1 + 1e-9)
        thresholds = np.broadcast_to(layer.neuron.threshold, (2,))
        assert (thresholds[j] - 1) * unit <= v_thr * (1 + 1e-9) and thresholds[j] * unit > v_thr * (1 - 1e-9)
    # the default (input twins, docs/spec.md §11 "Fine weights"): weight a + b/127 steps (a on the input, b on its
    # twin), within 1/127 step each and half of that per row in sum, on the same unit
    try:
        fine = compile_nir(graph, config=ChipConfig(cores=2)).quant.layers[0]
    except SpikeCoreError:
        return
    assert np.array_equal(fine.neuron.membrane_unit, layer.neuron.membrane_unit)
    twins = fine.weight[:, 3:6] if fine.weight.shape[1] >= 6 else np.zeros((2, 3))
    assert np.all(np.abs(twins) <= 63)
    for j in range(2):
        step = fine.neuron.membrane_unit[j] * 127
        tol = 1e-12 * abs(weight[j]).max()
        error = (fine.weight[j, :3] + twins[j] / 127) * step - weight[j]
        assert np.all(np.abs(error) < step / 127 + tol) and abs(error.sum()) <= step / 254 + 3 * tol


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=st.lists(fixed, min_size=4, max_size=4), w_exp=st.integers(-20, 6),
       b=st.lists(st.integers(-2**24, 2**24), min_size=2, max_size=2), b_exp=st.integers(-20, 6))
def test_property_torch_fixed_point_parameters_reproduced_within_the_step_or_refused(w, w_exp, b, b_exp):
    """A Linear(2, 2) output layer with fixed-point parameters: int8 weights within half a weight step of the float
    weights and the bias within half a membrane unit, or a refusal."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    weight = np.array(w, dtype=np.float64).reshape(2, 2) * 2.0 ** w_exp
    bias = np.array(b, dtype=np.float64) * 2.0 ** b_exp
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(weight))
        model[0].bias.copy_(torch.tensor(bias))
    data = np.array([[1.0, 0.5]], dtype=np.float32)
    try:
        layer = compile_model(model, data, data, config=CHIP).quant.layers[0]
    except SpikeCoreError:
        return
    f32 = np.float32
    w32, b32 = weight.astype(f32).astype(np.float64), bias.astype(f32).astype(np.float64)   # the IR keeps float32
    assert np.all(np.abs(layer.weight * layer.weight_scale - w32) <= layer.weight_scale / 2 * (1 + 1e-9))
    unit = layer.acc_scale
    assert np.all(np.abs(layer.bias * unit - b32) <= unit / 2 * (1 + 1e-9) + 1e-12 * np.abs(b32).max())
    assert math.isfinite(unit)


def test_a_leak_factor_that_rounds_to_one_is_refused_naming_the_neuron():
    """tau = 1e6 s at dt = 1 ms: (1 - 1e-9) * 65536 rounds to 65536, one above the Q0.16 LEAK maximum 65535."""
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=np.eye(2)),
               "lif": nir.LIF(tau=np.array([1.0, 1e6]), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2),
                              v_reset=np.zeros(2)),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    assert round((1 - 1e-3 / 1e6) * 65536) == 65536
    with pytest.raises(SpikeCoreError) as err:
        compile_nir(graph, dt=1e-3, config=CHIP)
    assert str(err.value) == ("layer 'lif' neuron 1: the LEAK factor needs 65536 /65536, the largest representable "
                              "in Q0.16 (tau > 65536 dt: use IF for a neuron that does not leak) is 65535 (use "
                              "--allow-saturation to clip with a warning)")
    clipped = compile_nir(graph, dt=1e-3, config=CHIP, allow_saturation=True)
    assert clipped.quant.layers[0].neuron.decays.tolist() == [round((1 - 1e-3) * 65536), 65535]
